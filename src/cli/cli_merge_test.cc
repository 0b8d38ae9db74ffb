// Shards of a sweep over `sim` through real worker processes, merged: the report of the
// merged store is the report of the same sweep run on one store.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "testing/temp_dir.h"

namespace convguard {
namespace {

namespace fs = std::filesystem;

constexpr const char* kQuirks = R"({"name": "shards", "rules": [
  {"when": {"ic": 4, "ih": [[14, 14], [28, 28]]}, "effect": "crash"},
  {"when": {"ih": [[11, 11], [22, 22]]}, "effect": "wrong"}]})";

class ShardMerge : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_test_dir("cg_shard_merge");
    std::ofstream(dir_ / "q.json") << kQuirks;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs convguard in the test's folder; returns its exit code and stdout.
  std::pair<int, std::string> run(const std::string& args, const std::string& env = "") const {
    const std::string cmd =
        "cd '" + dir_.string() + "' && " + env + " '" CONVGUARD_BIN "' " + args + " 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    std::array<char, 4096> buf{};
    size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    const int st = ::pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
  }

  static std::string sweep(const std::string& db) {
    return "sweep --db " + db +
           " --engine sim --base ref --quirks q.json --jobs 2 --grid 'ic=4,8 ih=8:30 oc=4 kh=3 "
           "ph=1' --dir FWD_D,BWD_D";
  }

  // The markdown report less what differs between any two runs of one sweep: measured
  // times and the command line of the last run (its --db).
  std::string report(const std::string& db) const {
    auto [rc, text] = run("report --db " + db);
    EXPECT_EQ(rc, 0);
    text = std::regex_replace(text, std::regex(R"(\| last run \|[^\n]*\n)"), "");
    return std::regex_replace(text, std::regex(R"(\| [0-9.e+-]+s \|)"), "| T |");
  }

  fs::path dir_;
};

TEST_F(ShardMerge, AMergedStoreOfShardsReportsWhatOneStoreReports) {
  // Sweeps with failures exit 1.
  ASSERT_EQ(run(sweep("one.db")).first, 1);
  std::string shards;
  for (int i = 0; i < 4; ++i) {
    // Shard from a Slurm array numbered from 1, as `sbatch --array=1-4` gives it.
    const std::string env = "SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_ID=" +
                            std::to_string(i + 1);
    const int rc = run(sweep("shard" + std::to_string(i) + ".db"), env).first;
    EXPECT_TRUE(rc == 0 || rc == 1) << "shard " << i << " exit " << rc;
    shards += " shard" + std::to_string(i) + ".db";
  }
  ASSERT_EQ(run("merge" + shards + " -o all.db").first, 0);
  const std::string one = report("one.db"), merged = report("all.db");
  EXPECT_NE(one.find("CRASH"), std::string::npos) << one;
  EXPECT_EQ(merged, one);
  // Merging the same shards again, into the merged store, changes nothing.
  ASSERT_EQ(run("merge all.db" + shards + " -o all.db --force").first, 0);
  EXPECT_EQ(report("all.db"), one);
  EXPECT_EQ(run("merge" + shards + " -o all.db").first, 2);  // exists, no --force
}

// Stands in for sbatch where Slurm is not installed: runs an array script's tasks one after
// another with SLURM_ARRAY_TASK_ID set, and a --wrap command, each only if the earlier
// submissions succeeded (afterok).
constexpr const char* kFakeSbatch = R"(#!/bin/bash
wrap=""
while [ $# -gt 0 ]; do case "$1" in --wrap) wrap=$2; shift 2;; *) shift;; esac; done
if [ -n "$wrap" ]; then bash -c "$wrap" >/dev/null 2>&1 || exit 1; echo 2; exit 0; fi
script=$(cat)
last=$(printf '%s\n' "$script" | sed -n 's/^#SBATCH --array=0-\([0-9]*\)$/\1/p')
for i in $(seq 0 "$last"); do
  printf '%s\n' "$script" | SLURM_ARRAY_TASK_ID=$i bash >/dev/null 2>&1 || exit 1
done
echo 1
)";

TEST_F(ShardMerge, TheSlurmScriptsArrayAndMergeReportWhatOneStoreReports) {
  ASSERT_EQ(run(sweep("one.db")).first, 1);
  fs::create_directories(dir_ / "bin");
  std::ofstream(dir_ / "bin" / "sbatch") << kFakeSbatch;
  fs::permissions(dir_ / "bin" / "sbatch", fs::perms::owner_all);
  const std::string sweep_args = sweep("X").substr(std::string("sweep --db X").size());
  auto [rc, script] = run("slurm --gpus 4 --db-dir stores -- sweep" + sweep_args);
  ASSERT_EQ(rc, 0);
  std::ofstream(dir_ / "submit.sh") << script;
  const std::string cmd =
      "cd '" + dir_.string() + "' && PATH=\"$PWD/bin:$PATH\" bash submit.sh >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(fs::exists(dir_ / "stores" / ("shard-" + std::to_string(i) + ".db")));
  EXPECT_EQ(report("stores/all.db"), report("one.db"));
}

}  // namespace
}  // namespace convguard
