#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <iostream>
#include <tuple>

#include "convguard/sim.h"
#include "engines/torch/torch_knobs.h"
#include "engines/torch/torch_test_util.h"

namespace convguard {
namespace {

using torch_test::kShapes;
using torch_test::make_problem;
using torch_test::Shape;

bool on_gpu() { return torch_engine::detect_backend().gpu; }

using Case = std::tuple<Shape, Dir, Layout>;
class TorchMatchesRef : public ::testing::TestWithParam<Case> {};

TEST_P(TorchMatchesRef, EveryKnobMatchesTheReferenceInF32) {
  const auto& [shape, dir, layout] = GetParam();
  auto e = torch_test::torch_engine();
  ASSERT_TRUE(e);
  Reference ref = torch_test::make_reference();
  const Problem p = make_problem(shape, dir, layout, DataType::f32);
  EXPECT_EQ(torch_test::probe_all_algorithms(*e, ref, p),
            static_cast<int>(e->algorithms(p).size()));
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const auto& [shape, dir, layout] = info.param;
  return std::string(shape.name) + "_" + to_string(dir) + "_" + to_string(layout);
}

INSTANTIATE_TEST_SUITE_P(Shapes, TorchMatchesRef,
                         ::testing::Combine(::testing::ValuesIn(kShapes),
                                          ::testing::Values(Dir::FWD_D, Dir::FWD_B, Dir::BWD_D,
                                                          Dir::BWD_W, Dir::BWD_WB),
                                          ::testing::Values(Layout::nchw, Layout::nhwc)),
                         case_name);

// PyTorch 2.11's CPU bf16 backward rounds partial sums to bf16 (up to ~12% of small
// outputs where partial sums cancel, 3 u_bf16 of the terms' magnitude): its class is
// `reduced`, under whose bound it passes.
TEST(TorchEngine, HalfAndBfloat16MatchTheReferenceOrAreUnsupported) {
  auto e = torch_test::torch_engine();
  ASSERT_TRUE(e);
  Reference ref = torch_test::make_reference();
  for (DataType dt : {DataType::f16, DataType::bf16}) {
    int ran = 0, probes = 0;
    for (const Shape& s : {kShapes[0], kShapes[2], kShapes[3]})
      for (Dir d : {Dir::FWD_B, Dir::BWD_D, Dir::BWD_WB})
        for (Layout l : {Layout::nchw, Layout::nhwc}) {
          SCOPED_TRACE(std::string(to_string(dt)) + " " + s.name + " " + to_string(d) + " " +
                       to_string(l));
          const Problem p = make_problem(s, d, l, dt);
          std::vector<Outcome> also{Outcome::unsupported};
          ran += torch_test::probe_all_algorithms(*e, ref, p, also);
          probes += static_cast<int>(e->algorithms(p).size());
        }
    std::cout << to_string(dt) << ": " << ran << " of " << probes << " probes ok\n";
  }
}

// Probes of problems above ref's FLOP limit were once all `error`: the worker's reference
// was the system oneDNN, which fails beside libtorch ("could not execute a primitive").
TEST(TorchEngine, AProblemAboveRefsLimitIsJudgedInAProcessThatLoadedLibtorch) {
  auto e = torch_test::torch_engine();
  ASSERT_TRUE(e);
  auto ref = make_torch_worker_reference(e->name());
  const Problem p = parse_problem("--dir=FWD_D mb10ic64ih56oc64kh3ph1").value();
  ASSERT_GT(p.flops(), 2e9);
  const ProbeResult r = run_probe(*e, p, kDefaultAlgo, ref.get(), ProbeOptions{});
  EXPECT_EQ(r.outcome, Outcome::ok) << r.message;
  EXPECT_EQ(r.reference, on_gpu() ? "torch-cpu" : "ref");
}

TEST(TorchCpuReference, ComputesInF32AndMatchesRefInEveryDirection) {
  auto e = make_torch_cpu_reference();
  ASSERT_TRUE(e->init().ok());
  EXPECT_EQ(e->name(), "torch-cpu");
  Reference ref(make_ref_engine(), nullptr);
  for (DataType dt : {DataType::f32, DataType::bf16})
    for (Dir d : {Dir::FWD_B, Dir::BWD_D, Dir::BWD_WB}) {
      SCOPED_TRACE(std::string(to_string(dt)) + " " + to_string(d));
      const Problem p = make_problem(kShapes[3], d, Layout::nchw, dt);
      const ProbeResult r = run_probe(*e, p, kDefaultAlgo, &ref, ProbeOptions{});
      EXPECT_EQ(r.outcome, Outcome::ok) << r.message;
      EXPECT_EQ(r.max_rel_err, 0.0) << "f32 sums of small integers, rounded once, as ref's";
    }
}

TEST(TorchKnobs, F32WithTf32OverriddenOffIsJudgedAsTheTransformKernelsCudnnThenPicks) {
  const torch_engine::Backend cuda{true, true, false};
  const Problem p = make_problem(kShapes[0], Dir::FWD_D, Layout::nchw, DataType::f32);
  ASSERT_EQ(unsetenv("NVIDIA_TF32_OVERRIDE"), 0);
  EXPECT_EQ(torch_engine::algo_class_for(cuda, p, kDefaultAlgo), AlgoClass::reduced);
  ASSERT_EQ(setenv("NVIDIA_TF32_OVERRIDE", "0", 1), 0);
  EXPECT_EQ(torch_engine::algo_class_for(cuda, p, kDefaultAlgo), AlgoClass::fft);
  EXPECT_EQ(torch_engine::algo_class_for(cuda, p, "cudnn.off"), AlgoClass::exact);
  ASSERT_EQ(unsetenv("NVIDIA_TF32_OVERRIDE"), 0);
}

TEST(TorchEngine, ListsTheKnobsOfItsDeviceWithTheDefaultFirst) {
  if (on_gpu()) GTEST_SKIP() << "the CPU's knob list; torch_engine_gpu_test covers the GPU's";
  auto e = torch_test::torch_engine();
  ASSERT_TRUE(e);
  const Problem nchw = make_problem(kShapes[0], Dir::FWD_D, Layout::nchw, DataType::f32);
  EXPECT_EQ(e->algorithms(nchw),
            (std::vector<std::string>{"default", "mkldnn.off", "channels_last"}));
  const Problem nhwc = make_problem(kShapes[0], Dir::FWD_D, Layout::nhwc, DataType::f32);
  EXPECT_EQ(e->algorithms(nhwc), (std::vector<std::string>{"default", "mkldnn.off"}));
  EXPECT_EQ(e->prepare(nchw, "cudnn.benchmark").status().code(), Code::kUnsupported);
  auto bogus = e->prepare(nchw, "winograd");
  EXPECT_EQ(bogus.status().code(), Code::kInvalid);
  EXPECT_NE(bogus.status().message().find("cudnn.benchmark"), std::string::npos);
}

struct Flags {
  bool cudnn, benchmark, deterministic, mkldnn, immediate;
  at::Float32Precision conv;
  bool operator==(const Flags&) const = default;
};

Flags global_flags() {
  const at::Context& c = at::globalContext();
  return {
      c.userEnabledCuDNN(),   c.benchmarkCuDNN(),
      c.deterministicCuDNN(), c.userEnabledMkldnn(),
      c.immediateMiopen(),    c.float32Precision(at::Float32Backend::CUDA, at::Float32Op::CONV)};
}

TEST(TorchEngine, EveryKnobRestoresPyTorchsGlobalFlags) {
  auto e = torch_test::torch_engine();
  ASSERT_TRUE(e);
  const Problem p = make_problem(kShapes[1], Dir::BWD_WB, Layout::nchw, DataType::f32);
  // A user's own non-default state survives too.
  at::globalContext().setUserEnabledMkldnn(false);
  at::globalContext().setBenchmarkCuDNN(true);
  const Flags before = global_flags();
  ConvTensors t;
  resize_for(p, t);
  for (const std::string& algo : e->algorithms(p)) {
    SCOPED_TRACE(algo);
    auto prepared = e->prepare(p, algo);
    ASSERT_TRUE(prepared.ok()) << prepared.status().to_string();
    EXPECT_EQ(global_flags(), before);
    ASSERT_TRUE((*prepared)->execute(t, {}).ok());
    EXPECT_EQ(global_flags(), before);
  }
  at::globalContext().setUserEnabledMkldnn(true);
  at::globalContext().setBenchmarkCuDNN(false);
}

TEST(TorchEngine, AKnobScopeSetsItsFlagOnlyWhileItLives) {
  const Flags before = global_flags();
  {
    torch_engine::KnobScope off("mkldnn.off");
    EXPECT_FALSE(at::globalContext().userEnabledMkldnn());
    torch_engine::KnobScope tf32("tf32.off");
    EXPECT_EQ(at::globalContext().float32Precision(at::Float32Backend::CUDA, at::Float32Op::CONV),
              at::Float32Precision::IEEE);
  }
  {
    torch_engine::KnobScope bench("cudnn.benchmark");
    EXPECT_TRUE(at::globalContext().benchmarkCuDNN());
    torch_engine::KnobScope off("cudnn.off");
    EXPECT_FALSE(at::globalContext().userEnabledCuDNN());
  }
  EXPECT_EQ(global_flags(), before);
}

TEST(TorchEngine, ReportsVersionAndFingerprint) {
  auto e = torch_test::torch_engine();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->name(), "torch");
  EXPECT_EQ(e->version().rfind("PyTorch 2.", 0), 0u) << e->version();
  auto fp = e->fingerprint();
  EXPECT_EQ(fp["engine"], "torch");
  EXPECT_EQ(fp["torch_git"].size(), 40u);
  EXPECT_FALSE(fp["device"].empty());
  EXPECT_FALSE(fp["cpu_capability"].empty());
  EXPECT_NE(e->version().find(fp["torch_git"]), std::string::npos);
}

TEST(TorchEngine, CannotHangOnTheCpu) {
  if (on_gpu()) GTEST_SKIP() << "a GPU hangs for real: torch_engine_gpu_test";
  auto e = torch_test::torch_engine();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->inject_hang().code(), Code::kUnsupported);
}

// The seed's finding through sim over torch: 16->32 3x3 forward works at 42 and hangs
// (a spin on the CPU, as torch cannot hang there) from 44 on.
Problem seed_problem(int64_t ih) {
  auto p = parse_problem("--dir=FWD_D mb1ic16ih" + std::to_string(ih) + "oc32oh" +
                         std::to_string(ih) + "kh3ph1");
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return p.ok() ? *p : Problem{};
}

std::unique_ptr<Engine> sim_over_torch() {
  auto e = make_sim_engine(torch_test::torch_engine(),
                           CONVGUARD_SOURCE_DIR "/quirks/rx5600xt-rocm57.json", 0);
  EXPECT_TRUE(e.ok()) << e.status().to_string();
  return e.ok() ? std::move(*e) : nullptr;
}

TEST(TorchUnderSim, TheSeedsFortyTwoRunsAndMatches) {
  auto e = sim_over_torch();
  ASSERT_TRUE(e);
  ASSERT_TRUE(e->init().ok());
  Reference ref = torch_test::make_reference();
  ref.exclude("torch");
  const ProbeResult r = run_probe(*e, seed_problem(42), kDefaultAlgo, &ref, ProbeOptions{});
  EXPECT_EQ(r.outcome, Outcome::ok) << r.message;
}

TEST(TorchUnderSimDeathTest, TheSeedsFortyFourHangsInExecute) {
  // A fresh process: PyTorch's OpenMP pool does not survive a fork.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        auto e = sim_over_torch();
        (void)e->init();
        auto prepared = e->prepare(seed_problem(44), kDefaultAlgo);
        if (!prepared.ok()) _exit(3);
        signal(SIGALRM, [](int) { _exit(42); });
        itimerval t{};
        t.it_value.tv_sec = 2;
        setitimer(ITIMER_REAL, &t, nullptr);
        ConvTensors tensors;
        resize_for(seed_problem(44), tensors);
        (void)(*prepared)->execute(tensors, {});
        _exit(7);  // execute returned: no hang
      },
      ::testing::ExitedWithCode(42), "hang");
}

}  // namespace
}  // namespace convguard
