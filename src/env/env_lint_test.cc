#include "env/env_lint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace convguard {
namespace {

namespace fs = std::filesystem;

// The findings of one rule for `env`.
std::vector<LintFinding> lint(const EnvMap& env, const std::string& rule,
                              const EnvFacts& facts = {}) {
  std::vector<LintFinding> of_rule;
  for (const LintFinding& f : lint_env(env, facts))
    if (f.rule == rule) of_rule.push_back(f);
  return of_rule;
}

TEST(EnvLint, ACleanEnvironmentHasNoFindings) {
  EXPECT_TRUE(lint_env({{"PATH", "/usr/bin"}, {"HOME", "/root"}}, {}).empty());
}

TEST(EnvLint, FindEnforceSearchModesLookLikeHangs) {
  for (const char* v : {"3", "4", "SEARCH", "search_db_update"}) {
    auto f = lint({{"MIOPEN_FIND_ENFORCE", v}}, "miopen-find-enforce");
    ASSERT_EQ(f.size(), 1u) << v;
    EXPECT_EQ(f[0].severity, Severity::warning);
    EXPECT_EQ(f[0].variable, "MIOPEN_FIND_ENFORCE");
    EXPECT_EQ(f[0].value, v);
    EXPECT_NE(f[0].reason.find("hang"), std::string::npos);
  }
  for (const char* v : {"5", "DB_CLEAN"}) {
    auto f = lint({{"MIOPEN_FIND_ENFORCE", v}}, "miopen-find-enforce");
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].severity, Severity::warning);
    EXPECT_NE(f[0].reason.find("perf-db"), std::string::npos);
  }
  auto f = lint({{"MIOPEN_FIND_ENFORCE", "1"}}, "miopen-find-enforce");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::info);
}

TEST(EnvLint, FindOnlySolverNarrowsTheFindDb) {
  auto f =
      lint({{"MIOPEN_DEBUG_FIND_ONLY_SOLVER", "ConvBinWinograd3x3U"}}, "miopen-find-only-solver");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::warning);
  EXPECT_EQ(f[0].value, "ConvBinWinograd3x3U");
  EXPECT_NE(f[0].reason.find("find-db"), std::string::npos);
}

TEST(EnvLint, EveryConvFamilyDisabledIsAnError) {
  EnvMap env{{"MIOPEN_DEBUG_CONV_GEMM", "0"},
             {"MIOPEN_DEBUG_CONV_IMPLICIT_GEMM", "0"},
             {"MIOPEN_DEBUG_CONV_WINOGRAD", "0"},
             {"MIOPEN_DEBUG_CONV_DIRECT", "false"},
             {"MIOPEN_DEBUG_CONV_FFT", "0"}};
  auto f = lint(env, "miopen-conv-families");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::error);
  EXPECT_EQ(f[0].variable, "MIOPEN_DEBUG_CONV_*");
  EXPECT_NE(f[0].value.find("MIOPEN_DEBUG_CONV_DIRECT=false"), std::string::npos);
  env["MIOPEN_DEBUG_CONV_FFT"] = "1";
  f = lint(env, "miopen-conv-families");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::info);
  EXPECT_EQ(f[0].value.find("FFT"), std::string::npos);
}

TEST(EnvLint, HsaOverrideIsComparedWithTheRealArchitecture) {
  EnvMap env{{"HSA_OVERRIDE_GFX_VERSION", "10.3.0"}};
  EnvFacts gfx1010{"gfx1010", {}};
  auto f = lint(env, "hsa-override-gfx", gfx1010);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::warning);
  EXPECT_NE(f[0].reason.find("gfx1010 GPU as gfx1030"), std::string::npos) << f[0].reason;
  f = lint(env, "hsa-override-gfx", EnvFacts{"gfx1030:xnack-", {}});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::info);
  f = lint(env, "hsa-override-gfx");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::warning);
  EXPECT_NE(f[0].reason.find("unknown"), std::string::npos);
  f = lint({{"HSA_OVERRIDE_GFX_VERSION", "9.0.10"}}, "hsa-override-gfx", EnvFacts{"gfx90a", {}});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::info);
  f = lint({{"HSA_OVERRIDE_GFX_VERSION", "gfx1030"}}, "hsa-override-gfx");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::error);
}

TEST(EnvLint, CudaLaunchBlockingChangesTimings) {
  auto f = lint({{"CUDA_LAUNCH_BLOCKING", "1"}}, "cuda-launch-blocking");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::warning);
  EXPECT_TRUE(lint({{"CUDA_LAUNCH_BLOCKING", "0"}}, "cuda-launch-blocking").empty());
}

TEST(EnvLint, Tf32OverrideZeroIsInfoOtherValuesWarn) {
  auto f = lint({{"NVIDIA_TF32_OVERRIDE", "0"}}, "nvidia-tf32-override");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::info);
  f = lint({{"NVIDIA_TF32_OVERRIDE", "1"}}, "nvidia-tf32-override");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::warning);
}

TEST(EnvLint, CudnnErrataFileWarnsAndAMissingOneIsAnError) {
  const std::string path = ::testing::TempDir() + "env_lint_test_errata.json";
  std::ofstream(path) << "{}";
  auto f = lint({{"CUDNN_ERRATA_JSON_FILE", path}}, "cudnn-errata");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::warning);
  std::remove(path.c_str());
  f = lint({{"CUDNN_ERRATA_JSON_FILE", path}}, "cudnn-errata");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::error);
}

TEST(EnvLint, EmptyVisibleDevicesHideEveryGpu) {
  auto f = lint({{"CUDA_VISIBLE_DEVICES", ""},
                 {"HIP_VISIBLE_DEVICES", "-1"},
                 {"ROCR_VISIBLE_DEVICES", "0,1"}},
                "visible-devices");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].variable, "CUDA_VISIBLE_DEVICES");
  EXPECT_EQ(f[0].severity, Severity::error);
  EXPECT_EQ(f[1].variable, "HIP_VISIBLE_DEVICES");
  EXPECT_TRUE(lint({{"CUDA_VISIBLE_DEVICES", "0"}}, "visible-devices").empty());
}

TEST(EnvLint, LoaderPathLibraryOfAnotherVersionThanTheBundledOne) {
  EnvFacts facts;
  facts.libraries = {
      {"libMIOpen", "1.0.60000", "LD_LIBRARY_PATH", "/opt/rocm-6.0/lib/libMIOpen.so.1.0.60000"},
      {"libMIOpen", "1.0.50700", "framework", "/torch/lib/libMIOpen.so"},
      {"libcudnn", "9", "LD_LIBRARY_PATH", "/usr/lib/libcudnn.so.9"},
      {"libcudnn", "9.1.0", "framework", "/torch/lib/libcudnn.so.9.1.0"},
  };
  auto f = lint({}, "library-version", facts);
  ASSERT_EQ(f.size(), 1u);  // libcudnn 9 and 9.1.0 agree as far as both go
  EXPECT_EQ(f[0].severity, Severity::warning);
  EXPECT_NE(f[0].value.find("libMIOpen 1.0.60000"), std::string::npos) << f[0].value;
  EXPECT_NE(f[0].value.find("1.0.50700"), std::string::npos);
}

TEST(EnvLint, FindingsConvertToJson) {
  auto f = lint({{"CUDA_LAUNCH_BLOCKING", "1"}}, "cuda-launch-blocking");
  ASSERT_EQ(f.size(), 1u);
  nlohmann::json j = to_json(f[0]);
  EXPECT_EQ(j["severity"], "warning");
  EXPECT_EQ(j["variable"], "CUDA_LAUNCH_BLOCKING");
  EXPECT_EQ(j["value"], "1");
  EXPECT_TRUE(j["reason"].is_string());
}

class LibraryScan : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("env_lint_scan_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "rocm");
    fs::create_directories(root_ / "torch");
  }
  void TearDown() override { fs::remove_all(root_); }
  void touch(const fs::path& p) { std::ofstream(p) << "x"; }
  fs::path root_;
};

TEST_F(LibraryScan, FindsVersionsOnTheLoaderPathAndInTheFramework) {
  touch(root_ / "rocm" / "libMIOpen.so.1.0.60000");
  fs::create_symlink("libMIOpen.so.1.0.60000", root_ / "rocm" / "libMIOpen.so.1");
  touch(root_ / "rocm" / "libamdhip64.so.6.0.32830");
  touch(root_ / "rocm" / "libcudnn_ops.so.9");  // a sub-library, not libcudnn
  touch(root_ / "torch" / "libMIOpen.so.1.0.50700");
  fs::create_symlink("libMIOpen.so.1.0.50700", root_ / "torch" / "libMIOpen.so");
  auto facts = scan_gpu_libraries("/nonexistent::" + (root_ / "rocm").string(),
                                  {(root_ / "torch").string()});
  ASSERT_EQ(facts.size(), 3u);
  EXPECT_EQ(facts[0].library, "libMIOpen");
  EXPECT_EQ(facts[0].version, "1.0.60000");
  EXPECT_EQ(facts[0].origin, "LD_LIBRARY_PATH");
  EXPECT_EQ(facts[1].library, "libamdhip64");
  EXPECT_EQ(facts[1].version, "6.0.32830");
  EXPECT_EQ(facts[2].library, "libMIOpen");
  EXPECT_EQ(facts[2].version, "1.0.50700");
  EXPECT_EQ(facts[2].origin, "framework");
  auto f = lint({}, "library-version", EnvFacts{"", facts});
  EXPECT_EQ(f.size(), 1u);
}

TEST_F(LibraryScan, ResolvesABareSoThroughItsSymlink) {
  touch(root_ / "torch" / "libcudart.so.12.4.127");
  fs::create_symlink("libcudart.so.12.4.127", root_ / "torch" / "libcudart.so");
  auto facts = scan_gpu_libraries("", {(root_ / "torch").string()});
  ASSERT_EQ(facts.size(), 1u);
  EXPECT_EQ(facts[0].version, "12.4.127");
}

TEST(EnvExport, PicksTheRelevantVariables) {
  for (const char* n : {"MIOPEN_FIND_MODE", "HSA_ENABLE_SDMA", "HIP_VISIBLE_DEVICES", "ROCM_PATH",
                        "CUDA_VISIBLE_DEVICES", "CUDNN_LOGINFO_DBG", "NVIDIA_TF32_OVERRIDE",
                        "LD_LIBRARY_PATH", "ONEDNN_VERBOSE", "DNNL_MAX_CPU_ISA", "OMP_NUM_THREADS"})
    EXPECT_TRUE(is_relevant_variable(n)) << n;
  for (const char* n : {"PATH", "HOME", "NVIDIA_DRIVER", "OMP_PROC_BIND", "XCUDA_X"})
    EXPECT_FALSE(is_relevant_variable(n)) << n;
  std::string s = export_snippet({{"PATH", "/bin"}, {"MIOPEN_FIND_MODE", "1"}});
  EXPECT_NE(s.find("export MIOPEN_FIND_MODE=1\n"), std::string::npos);
  EXPECT_EQ(s.find("PATH="), std::string::npos);
  EXPECT_NE(s.find("unset MIOPEN_FIND_ENFORCE"), std::string::npos);
}

TEST(EnvExport, QuotesSingleQuotes) {
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
}

// Sources `snippet` in /bin/sh with an empty environment and returns the exported result.
EnvMap source_in_sh(const std::string& snippet) {
  const std::string path = ::testing::TempDir() + "env_lint_test_snippet.sh";
  std::ofstream(path) << snippet;
  FILE* p = popen(("env -i /bin/sh -c '. \"$0\" && env -0' " + path).c_str(), "r");
  EnvMap env;
  if (!p) return env;
  std::string all;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) all.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << snippet;
  std::remove(path.c_str());
  for (size_t at = 0; at < all.size();) {
    size_t end = all.find('\0', at);
    std::string kv = all.substr(at, end - at);
    env[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
    at = end + 1;
  }
  return env;
}

TEST(EnvExport, EveryValueSurvivesARoundTripThroughSh) {
  EnvMap env{{"MIOPEN_A", "it's"},         {"MIOPEN_B", "'"},
             {"MIOPEN_C", "''a''"},        {"MIOPEN_D", "$HOME `id` $(id) \\ \"q\""},
             {"MIOPEN_E", "two\nlines\n"}, {"MIOPEN_F", ""},
             {"MIOPEN_G", "  spaces  "},   {"LD_LIBRARY_PATH", "/a b:/c;rm -rf x"},
             {"CUDA_H", "*?[a]~ #!&|<>"},  {"bad-name", "skipped"}};
  std::string snippet = export_snippet(env);
  EnvMap back = source_in_sh(snippet);
  for (const auto& [name, value] : env) {
    if (name == "bad-name") continue;
    ASSERT_TRUE(back.count(name)) << name << "\n" << snippet;
    EXPECT_EQ(back[name], value) << name;
  }
  EXPECT_FALSE(back.count("bad-name"));
}

}  // namespace
}  // namespace convguard
