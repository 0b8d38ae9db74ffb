// The torch engine on a GPU (CUDA, or HIP on ROCm builds); every test skips with a
// message where PyTorch sees no GPU.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>

#include "engines/torch/torch_knobs.h"
#include "engines/torch/torch_test_util.h"

namespace convguard {
namespace {

using torch_test::kShapes;
using torch_test::make_problem;

#define SKIP_WITHOUT_GPU() \
  if (!torch_engine::detect_backend().gpu) GTEST_SKIP() << "PyTorch sees no GPU here"

TEST(TorchGpu, ListsTheGpuKnobs) {
  SKIP_WITHOUT_GPU();
  auto e = torch_test::torch_engine();
  ASSERT_TRUE(e);
  const Problem p = make_problem(kShapes[0], Dir::FWD_D, Layout::nchw, DataType::f32);
  const std::vector<std::string> algos = e->algorithms(p);
  ASSERT_FALSE(algos.empty());
  EXPECT_EQ(algos.front(), "default");
  EXPECT_NE(std::find(algos.begin(), algos.end(), "cudnn.off"), algos.end());
  EXPECT_EQ(std::find(algos.begin(), algos.end(), "mkldnn.off"), algos.end());
}

TEST(TorchGpu, EveryKnobMatchesTheReferenceInEveryDirectionAndType) {
  SKIP_WITHOUT_GPU();
  auto e = torch_test::torch_engine();
  ASSERT_TRUE(e);
  Reference ref = torch_test::make_reference();
  for (DataType dt : {DataType::f32, DataType::f16, DataType::bf16})
    for (const auto& s : kShapes)
      for (Dir d : {Dir::FWD_D, Dir::FWD_B, Dir::BWD_D, Dir::BWD_W, Dir::BWD_WB})
        for (Layout l : {Layout::nchw, Layout::nhwc}) {
          SCOPED_TRACE(std::string(to_string(dt)) + " " + s.name + " " + to_string(d) + " " +
                       to_string(l));
          const Problem p = make_problem(s, d, l, dt);
          EXPECT_EQ(torch_test::probe_all_algorithms(*e, ref, p),
                    static_cast<int>(e->algorithms(p).size()));
        }
}

TEST(TorchGpu, FingerprintNamesTheDeviceAndTheDnnLibrary) {
  SKIP_WITHOUT_GPU();
  auto e = torch_test::torch_engine();
  ASSERT_TRUE(e);
  auto fp = e->fingerprint();
  EXPECT_NE(fp["device"], "gpu") << "no device name: built without CONVGUARD_TORCH_CUDA";
  EXPECT_FALSE(fp["cuda_runtime"].empty());
  EXPECT_TRUE(fp.count("cudnn") || fp.count("miopen"));
}

TEST(TorchGpuDeathTest, InjectHangNeverReturns) {
  SKIP_WITHOUT_GPU();
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // no fork after CUDA is up
  EXPECT_EXIT(
      {
        auto e = torch_test::torch_engine();
        signal(SIGALRM, [](int) { _exit(42); });
        itimerval t{};
        t.it_value.tv_sec = 3;
        setitimer(ITIMER_REAL, &t, nullptr);
        const Status s = e->inject_hang();
        _exit(s.code() == Code::kUnsupported ? 5 : 7);
      },
      ::testing::ExitedWithCode(42), "");
}

}  // namespace
}  // namespace convguard
