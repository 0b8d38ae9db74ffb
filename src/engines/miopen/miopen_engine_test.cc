// The miopen engine against its test double (libconvguard_fake_miopen.so and
// libconvguard_fake_hip.so, a plain CPU convolution behind MIOpen's C API): in process for
// results, listing and the fingerprint; through real workers (this binary re-executes
// itself with "--as-worker") for the faults the double plants: hangs, crashes, error
// statuses, wrong results and writes past the buffers, each in its phase.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "convguard/cpu_engines.h"
#include "convguard/engine_registry.h"
#include "convguard/probe.h"
#include "convguard/supervisor.h"
#include "convguard/worker.h"
#include "testing/conv_shapes.h"

namespace convguard {
namespace {

namespace fs = std::filesystem;
using testing::kShapes;
using testing::make_problem;

// A folder of this test, removed at its end.
struct TempDir {
  fs::path path =
      fs::temp_directory_path() /
      ("convguard-miopen-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  TempDir() { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static inline int counter = 0;
};

std::unique_ptr<Engine> miopen_engine() {
  auto e = make_engine(EngineSpec{"miopen", "", "", 0});
  EXPECT_TRUE(e.ok()) << e.status().to_string();
  if (!e.ok()) return nullptr;
  Status s = (*e)->init();
  EXPECT_TRUE(s.ok()) << s.to_string();
  return s.ok() ? std::move(*e) : nullptr;
}

Problem fwd3x3(Dir dir = Dir::FWD_D) {
  return make_problem(kShapes[0], dir, Layout::nchw, DataType::f32);
}

TEST(MiopenEngine, ListsMiopensSolutionsByName) {
  auto e = miopen_engine();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->algorithms(fwd3x3()),
            (std::vector<std::string>{"default", "ConvDirectNaiveConvFwd", "GemmFwdRest",
                                      "ConvBinWinogradRxSf2x3g1", "solver9001"}));
  EXPECT_EQ(e->algorithms(fwd3x3(Dir::BWD_W)),
            (std::vector<std::string>{"default", "ConvDirectNaiveConvWrw", "GemmWrwUniversal"}));
  // Winograd 3x3 is not offered for a strided problem.
  const Problem strided = make_problem(kShapes[3], Dir::BWD_D, Layout::nchw, DataType::f32);
  EXPECT_EQ(e->algorithms(strided),
            (std::vector<std::string>{"default", "ConvDirectNaiveConvBwd", "GemmBwdRest"}));
}

TEST(MiopenEngine, DeclinesBf16BiasUnknownNamesAndInapplicableSolvers) {
  auto e = miopen_engine();
  ASSERT_TRUE(e);
  Problem bf16_bias = fwd3x3(Dir::BWD_WB);
  bf16_bias.dt = DataType::bf16;
  EXPECT_EQ(e->prepare(bf16_bias, kDefaultAlgo).status().code(), Code::kUnsupported);
  EXPECT_EQ(e->prepare(fwd3x3(), "GemmBwdRest").status().code(), Code::kUnsupported);
  EXPECT_EQ(e->prepare(fwd3x3(), "solver4242").status().code(), Code::kUnsupported);
  auto bogus = e->prepare(fwd3x3(), "winograd");
  EXPECT_EQ(bogus.status().code(), Code::kInvalid);
  EXPECT_NE(bogus.status().message().find("find.normal"), std::string::npos);
  EXPECT_EQ(e->prepare(fwd3x3(), "find.slow").status().code(), Code::kInvalid);
}

using Case = std::tuple<Dir, DataType, Layout>;
class MiopenMatchesRef : public ::testing::TestWithParam<Case> {};

// Every solution of every shape: the conversions, layouts, strides and argument orders of
// the engine and its double agree with the reference.
TEST_P(MiopenMatchesRef, EverySolutionOfEveryShape) {
  const auto& [dir, dt, layout] = GetParam();
  if ((dir == Dir::FWD_B || dir == Dir::BWD_WB) && dt == DataType::bf16)
    GTEST_SKIP() << "MIOpen's bias calls do not take bf16";
  auto e = miopen_engine();
  ASSERT_TRUE(e);
  Reference ref(make_ref_engine(), make_onednn_engine());
  int ran = 0;
  for (const auto& shape : kShapes) {
    const Problem p = make_problem(shape, dir, layout, dt);
    for (const std::string& algo : e->algorithms(p)) {
      SCOPED_TRACE(std::string(shape.name) + " " + algo);
      const ProbeResult r = run_probe(*e, p, algo, &ref, ProbeOptions{});
      EXPECT_EQ(r.outcome, Outcome::ok) << to_string(r.phase) << ": " << r.message;
      ++ran;
    }
  }
  EXPECT_GT(ran, 2 * static_cast<int>(std::size(kShapes)));
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const auto& [dir, dt, layout] = info.param;
  return std::string(to_string(dir)) + "_" + to_string(dt) + "_" + to_string(layout);
}

INSTANTIATE_TEST_SUITE_P(All, MiopenMatchesRef,
                         ::testing::Combine(::testing::Values(Dir::FWD_D, Dir::FWD_B, Dir::BWD_D,
                                                              Dir::BWD_W, Dir::BWD_WB),
                                            ::testing::Values(DataType::f32, DataType::f16,
                                                              DataType::bf16),
                                            ::testing::Values(Layout::nchw, Layout::nhwc)),
                         case_name);

TEST(MiopenEngine, DefaultResolvesToTheSolverMiopenOffersFirst) {
  auto e = miopen_engine();
  ASSERT_TRUE(e);
  auto prepared = e->prepare(fwd3x3(Dir::BWD_D), kDefaultAlgo);
  ASSERT_TRUE(prepared.ok()) << prepared.status().to_string();
  EXPECT_EQ((*prepared)->algo(), "ConvBinWinogradRxSf2x3g1");
}

TEST(MiopenEngine, GivesBackTheVariablesOfItsPrivateStateWhenItGoes) {
  ::unsetenv("MIOPEN_USER_DB_PATH");
  ::setenv("MIOPEN_CUSTOM_CACHE_DIR", "/users/cache", 1);
  fs::path dir;
  {
    auto e = miopen_engine();
    ASSERT_TRUE(e);
    dir = fs::path(std::getenv("MIOPEN_USER_DB_PATH")).parent_path();
    EXPECT_TRUE(fs::is_directory(dir / "cache"));
    EXPECT_EQ(std::string(std::getenv("MIOPEN_CUSTOM_CACHE_DIR")), (dir / "cache").string());
  }
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_EQ(std::getenv("MIOPEN_USER_DB_PATH"), nullptr);
  EXPECT_EQ(std::string(std::getenv("MIOPEN_CUSTOM_CACHE_DIR")), "/users/cache");
  ::unsetenv("MIOPEN_CUSTOM_CACHE_DIR");
}

TEST(MiopenEngine, FingerprintsTheArchitectureVersionsAndVariables) {
  ::setenv("HSA_OVERRIDE_GFX_VERSION", "10.3.0", 1);
  ::setenv("MIOPEN_DEBUG_CONV_GEMM", "0", 1);
  auto e = miopen_engine();
  ASSERT_TRUE(e);
  auto f = e->fingerprint();
  EXPECT_EQ(f["engine"], "miopen");
  EXPECT_EQ(f["miopen"], "3.4.0");
  EXPECT_EQ(f["hip_runtime"], "6.2.42133");
  EXPECT_EQ(f["gcn_arch"], "gfx1010");
  EXPECT_EQ(f["gcn_arch_name"], "gfx1010:xnack-");
  EXPECT_EQ(f["device"], "convguard fake HIP device");
  EXPECT_EQ(f["env.HSA_OVERRIDE_GFX_VERSION"], "10.3.0");
  EXPECT_EQ(f["env.MIOPEN_DEBUG_CONV_GEMM"], "0");
  EXPECT_EQ(f["miopen_state"], "private");
  // The private folders differ per worker: not facts of the results.
  EXPECT_EQ(f.count("env.MIOPEN_USER_DB_PATH"), 0u);
  ::unsetenv("HSA_OVERRIDE_GFX_VERSION");
  ::unsetenv("MIOPEN_DEBUG_CONV_GEMM");
}

// --- through real workers ----------------------------------------------------------

std::string self_exe() { return fs::read_symlink("/proc/self/exe").string(); }

class MiopenWorkers : public ::testing::Test {
 protected:
  // Options with the double's faults from `faults` (lines "<solver> <fault> [seconds]").
  SupervisorOptions options(const std::string& faults) {
    const fs::path file = dir_.path / "faults.txt";
    std::ofstream(file) << faults;
    SupervisorOptions o;
    o.worker_argv = {self_exe(), "--as-worker"};
    o.engine = {"miopen", "", "", 0};
    o.worker_env["CONVGUARD_FAKE_MIOPEN_FAULTS"] = file.string();
    o.worker_env["CONVGUARD_MIOPEN_STATE"] = (dir_.path / "state").string();
    o.worker_env["HOME"] = (dir_.path / "home").string();
    o.timeouts.init_s = 20;
    o.timeouts.prepare_s = 2;
    o.timeouts.execute_floor_s = 1;
    o.timeouts.verify_floor_s = 10;
    // The canary's default solution (ConvDirectNaiveConvWrw) carries no fault.
    o.canary = fwd3x3(Dir::BWD_W);
    o.canary.mb = 1;
    o.canary_tries = 2;
    o.canary_budget_s = 60;
    o.kill_wait_s = 5;
    return o;
  }

  // Results by algorithm name.
  std::map<std::string, ProbeResult> run(const std::vector<ProbeRequest>& reqs,
                                         SupervisorOptions o) {
    std::map<std::string, ProbeResult> out;
    Supervisor sup(std::move(o));
    Status s = sup.run(reqs, [&](size_t i, const ProbeResult& r) { out[reqs[i].algo] = r; });
    EXPECT_TRUE(s.ok()) << s.to_string();
    return out;
  }

  static std::vector<ProbeRequest> requests(const Problem& p,
                                            const std::vector<std::string>& algos) {
    std::vector<ProbeRequest> reqs;
    for (const std::string& a : algos) reqs.push_back({p, a});
    return reqs;
  }

  void expect(const ProbeResult& r, Outcome o, Phase ph) {
    EXPECT_EQ(r.outcome, o) << r.algo << ": " << to_string(r.outcome) << " in "
                            << to_string(r.phase) << ": " << r.message;
    EXPECT_EQ(r.phase, ph) << r.algo << ": " << r.message;
  }

  TempDir dir_;
};

TEST_F(MiopenWorkers, EachFaultOfTheDoubleIsItsOutcomeInItsPhase) {
  const auto res = run(requests(fwd3x3(), {"ConvDirectNaiveConvFwd", "GemmFwdRest",
                                           "ConvBinWinogradRxSf2x3g1", "solver9001"}),
                       options("ConvDirectNaiveConvFwd hang_compile\n"
                               "GemmFwdRest hang_execute\n"
                               "ConvBinWinogradRxSf2x3g1 crash_execute\n"
                               "ConvFutureSolver error_compile\n"));
  ASSERT_EQ(res.size(), 4u);
  expect(res.at("ConvDirectNaiveConvFwd"), Outcome::hang, Phase::prepare);
  expect(res.at("GemmFwdRest"), Outcome::hang, Phase::execute);
  expect(res.at("ConvBinWinogradRxSf2x3g1"), Outcome::crash, Phase::execute);
  expect(res.at("solver9001"), Outcome::error, Phase::prepare);
  EXPECT_NE(res.at("solver9001").message.find("CompileSolution(solver9001)"), std::string::npos)
      << res.at("solver9001").message;
}

TEST_F(MiopenWorkers, WrongResultsWritesPastBuffersAndErrorStatusesAreTheirOutcomes) {
  const auto res = run(requests(fwd3x3(), {"ConvDirectNaiveConvFwd", "GemmFwdRest",
                                           "ConvBinWinogradRxSf2x3g1", "solver9001"}),
                       options("ConvDirectNaiveConvFwd wrong\n"
                               "GemmFwdRest oob_workspace\n"
                               "ConvBinWinogradRxSf2x3g1 oob_output\n"
                               "ConvFutureSolver error_execute\n"));
  ASSERT_EQ(res.size(), 4u);
  expect(res.at("ConvDirectNaiveConvFwd"), Outcome::wrong, Phase::verify);
  expect(res.at("GemmFwdRest"), Outcome::oob, Phase::execute);
  EXPECT_NE(res.at("GemmFwdRest").message.find("workspace"), std::string::npos);
  expect(res.at("ConvBinWinogradRxSf2x3g1"), Outcome::oob, Phase::execute);
  EXPECT_NE(res.at("ConvBinWinogradRxSf2x3g1").message.find("after dst"), std::string::npos);
  expect(res.at("solver9001"), Outcome::error, Phase::execute);
}

TEST_F(MiopenWorkers, ACrashInCompileAndASlowCompileWithinTheDeadline) {
  SupervisorOptions o = options(
      "GemmWrwUniversal crash_compile\n"
      "ConvDirectNaiveConvWrw slow_compile 0.5\n");
  o.timeouts.prepare_s = 10;
  const auto res =
      run(requests(fwd3x3(Dir::BWD_W), {"GemmWrwUniversal", "ConvDirectNaiveConvWrw"}), o);
  expect(res.at("GemmWrwUniversal"), Outcome::crash, Phase::prepare);
  expect(res.at("ConvDirectNaiveConvWrw"), Outcome::ok, Phase::verify);
}

TEST_F(MiopenWorkers, AHangInFindIsAnOutcomeAndFastFindSkipsTheBenchmark) {
  const auto res = run(requests(fwd3x3(), {"find.normal", "find.fast", "find.hybrid"}),
                       options("GemmFwdRest hang_find\n"));
  expect(res.at("find.normal"), Outcome::hang, Phase::prepare);
  expect(res.at("find.fast"), Outcome::ok, Phase::verify);
  EXPECT_EQ(res.at("find.fast").impl, "ConvDirectNaiveConvFwd");
  expect(res.at("find.hybrid"), Outcome::hang, Phase::prepare);
}

TEST_F(MiopenWorkers, FindRecordsTheSolutionItPicked) {
  const auto res = run(requests(fwd3x3(), {"find.normal"}), options(""));
  expect(res.at("find.normal"), Outcome::ok, Phase::verify);
  EXPECT_EQ(res.at("find.normal").impl, "ConvBinWinogradRxSf2x3g1");  // the double's fastest
}

// What Find and compilation write lands in the worker's private folder, removed when the
// worker stops; CONVGUARD_MIOPEN_STATE=user leaves MIOpen's own defaults under HOME.
TEST_F(MiopenWorkers, WorkersKeepMiopensStateToThemselvesUnlessAskedForTheUsers) {
  const fs::path home_db = dir_.path / "home/.config/miopen/fake.ufdb.txt";
  const fs::path home_cache = dir_.path / "home/.cache/miopen/fake.kdb.txt";
  (void)run(requests(fwd3x3(), {"find.normal", "GemmFwdRest"}), options(""));
  EXPECT_FALSE(fs::exists(home_db));
  EXPECT_FALSE(fs::exists(home_cache));
  const fs::path state = dir_.path / "state";
  ASSERT_TRUE(fs::exists(state));
  EXPECT_TRUE(fs::is_empty(state)) << "a worker's private folder outlived it";
  // A crashed worker's folder stays until the next worker starts.
  (void)run(requests(fwd3x3(), {"GemmFwdRest", "ConvDirectNaiveConvFwd"}),
            options("GemmFwdRest crash_execute\n"));
  EXPECT_TRUE(fs::is_empty(state)) << "a crashed worker's folder outlived the next worker";

  SupervisorOptions o = options("");
  o.worker_env["CONVGUARD_MIOPEN_STATE"] = "user";
  (void)run(requests(fwd3x3(), {"find.normal", "GemmFwdRest"}), o);
  EXPECT_TRUE(fs::exists(home_db));
  EXPECT_TRUE(fs::exists(home_cache));
}

TEST_F(MiopenWorkers, AMissingLibraryIsReportedWithItsName) {
  SupervisorOptions o = options("");
  o.worker_env["CONVGUARD_MIOPEN_LIB"] = (dir_.path / "libMIOpen.so.1").string();
  Supervisor sup(std::move(o));
  Status s = sup.start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("MIOpen not found"), std::string::npos) << s.to_string();
  EXPECT_NE(s.message().find("libMIOpen.so.1"), std::string::npos) << s.to_string();
}

}  // namespace
}  // namespace convguard

int main(int argc, char** argv) {
  // Workers inherit these: every engine of this binary loads the double.
  ::setenv("CONVGUARD_MIOPEN_LIB", CONVGUARD_FAKE_MIOPEN, 0);
  ::setenv("CONVGUARD_HIP_LIB", CONVGUARD_FAKE_HIP, 0);
  if (argc > 1 && std::string(argv[1]) == "--as-worker")
    return convguard::worker_main(convguard::kWorkerRequestFd, convguard::kWorkerResultFd,
                                  convguard::make_engine);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
