// The command as a hostile user meets it: malformed options, paths that are no files, a
// store that is damaged. Each must end with exit 2 (or 3 for a damaged store) and a message
// naming the option or the path, never with an uncaught exception (exit 134).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "testing/hostile_inputs.h"
#include "testing/temp_dir.h"

namespace {

namespace fs = std::filesystem;

struct Ran {
  int code = -1;
  std::string err;
};

// Runs convguard with `args` (stdin from /dev/null, stdout dropped); its exit code and stderr.
Ran convguard(const std::vector<std::string>& args, const fs::path& dir) {
  std::string line = CONVGUARD_BIN;
  for (const auto& a : args) {
    std::string q = "'";
    for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += " " + q + "'";
  }
  const fs::path err = dir / "stderr.txt";
  line += " </dev/null >/dev/null 2>'" + err.string() + "'";
  const int st = std::system(line.c_str());
  Ran r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  std::ifstream in(err);
  r.err.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = convguard::testing::fresh_test_dir("cg_hostile");
    fs::create_directories(dir_ / "folder");
    ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0644), 0);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Expects exit `code` and a message holding `names`.
  void expect(const std::vector<std::string>& args, int code, const std::string& names) {
    const Ran r = convguard(args, dir_);
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    EXPECT_EQ(r.code, code) << shown << "\n" << r.err;
    EXPECT_NE(r.err.find(names), std::string::npos) << shown << "\n" << r.err;
  }
  std::string db() const { return (dir_ / "t.db").string(); }
  std::string folder() const { return (dir_ / "folder").string(); }
  std::string fifo() const { return (dir_ / "fifo").string(); }

  fs::path dir_;
};

TEST_F(Hostile, EveryDurationIsFinitePositiveAndBounded) {
  for (const char* opt :
       {"--timeout-init", "--timeout-prepare", "--timeout-exec", "--timeout-verify", "--exec-floor"})
    for (const char* v : {"inf", "1e10", "nan", "-1", "0"})
      expect({"sweep", "--db", db(), "--engine", "ref", opt, v, "mb1ic4ih8oc4kh3"}, 2, opt);
  EXPECT_FALSE(fs::exists(db())) << "nothing is written before the options are checked";
}

TEST_F(Hostile, CountsAndDevicesOutOfRangeNameTheOption) {
  const std::vector<std::string> base = {"probe", "--engine", "ref", "mb1ic4ih8oc4kh3"};
  auto with = [&](std::vector<std::string> extra) {
    auto a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  expect(with({"--jobs", "10000"}), 2, "--jobs=10000");
  expect(with({"--repeats", "2000000000"}), 2, "--repeats=2000000000");
  expect(with({"--devices", "zz"}), 2, "--devices=zz");
  expect({"sweep", "--db", db(), "--engine", "sim", "--base", "ref", "--seed", "-1",
          "mb1ic4ih8oc4kh3"},
         2, "--seed");
  expect({"boundary", "--db", db(), "--engine", "ref", "--axis", "ih=8:16", "--max-probes", "0",
          "mb1ic4ih8oc4kh3"},
         2, "--max-probes=0");
}

TEST_F(Hostile, PathsThatAreNoFilesAreInvalidInputNamingThePath) {
  for (const std::string& p : {folder(), fifo(), (dir_ / "missing").string()}) {
    expect({"profile", "show", p}, 2, p);
    expect({"profile", "check", "--profile", p, "mb1ic4ih8oc4kh3"}, 2, p);
    expect({"profile", "merge", "-o", (dir_ / "m.json").string(), p, p}, 2, p);
    expect({"run", "--guard", p, "mb1ic4ih8oc4kh3"}, 2, p);
    expect({"probe", "--engine", "ref", "--batch", p, "mb1ic4ih8oc4kh3"}, 2, p);
    expect({"probe", "--engine", "sim", "--base", "ref", "--quirks", p, "mb1ic4ih8oc4kh3"}, 2, p);
    expect({"report", "--db", p}, 2, p);
  }
  expect({"sweep", "--db", folder(), "--engine", "ref", "mb1ic4ih8oc4kh3"}, 2, folder());
}

TEST_F(Hostile, AHugeBatchLineIsRefusedSayingHowMany) {
  const std::string batch = (dir_ / "huge.txt").string();
  std::ofstream(batch) << convguard::testing::huge_knob_line() << "\n";
  expect({"probe", "--engine", "ref", "--batch", batch}, 2, "8000000000 problems");
}

TEST_F(Hostile, AReportOfARunThatIsNotThereIsInvalidInEveryFormat) {
  const Ran made = convguard({"sweep", "--db", db(), "--engine", "ref", "mb1ic4ih8oc4kh3"}, dir_);
  ASSERT_EQ(made.code, 0) << made.err;
  for (const char* format : {"md", "json", "html"})
    expect({"report", "--db", db(), "--format", format, "--run", "424242"}, 2, "424242");
}

TEST_F(Hostile, ASlowFactorTooLargeToMeasureIsRefusedInTheQuirkFile) {
  const std::string quirks = (dir_ / "q.json").string();
  std::ofstream(quirks) << R"({"name": "q", "rules": [{"effect": "slow", "factor": 1e308}]})";
  expect({"probe", "--engine", "sim", "--base", "ref", "--quirks", quirks, "mb1ic4ih8oc4kh3"}, 2,
         "factor");
}

TEST_F(Hostile, ResumeRefusesWhatARunMeasuresAndChecksTheWorkersOptions) {
  const Ran made = convguard({"sweep", "--db", db(), "--engine", "ref", "mb1ic4ih8oc4kh3"}, dir_);
  ASSERT_EQ(made.code, 0) << made.err;
  expect({"sweep", "--db", db(), "--resume", "--quirks", "q.json"}, 2, "--quirks");
  expect({"sweep", "--db", db(), "--resume", "--repeats", "3"}, 2, "--repeats");
  expect({"sweep", "--db", db(), "--resume", "--dir", "BWD_D"}, 2, "--dir");
  expect({"sweep", "--db", db(), "--resume", "mb1ic4ih8oc4kh3"}, 2, "problems");
}

TEST_F(Hostile, ProfileBuildIntoADirectoryLeavesNoTemporaryFile) {
  const Ran made = convguard({"sweep", "--db", db(), "--engine", "ref", "mb1ic4ih8oc4kh3"}, dir_);
  ASSERT_EQ(made.code, 0) << made.err;
  expect({"profile", "build", "--db", db(), "-o", folder()}, 2, folder());
  EXPECT_FALSE(fs::exists(folder() + ".tmp"));
}

}  // namespace
