#include "cli/cli_shard.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace convguard::cli {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

Result<std::optional<Shard>> resolve(ShardArgs a, std::map<std::string, std::string> vars) {
  return a.resolve(env_of(std::move(vars)));
}

TEST(ShardArgs, TheOptionCountsFromZero) {
  ShardArgs a;
  a.shard = "3/16";
  auto s = resolve(a, {});
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  ASSERT_TRUE(*s);
  EXPECT_EQ((*s)->index, 3);
  EXPECT_EQ((*s)->count, 16);
}

TEST(ShardArgs, BadValuesAreInvalidAndNameTheOptionAndValue) {
  for (const char* bad : {"16/16", "-1/4", "1/0", "1", "a/b", "1/4x", ""}) {
    ShardArgs a;
    a.shard = bad;
    if (a.shard.empty()) continue;  // empty means "not given"
    auto s = resolve(a, {});
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.status().code(), Code::kInvalid);
    EXPECT_NE(s.status().message().find(std::string("--shard=") + bad), std::string::npos)
        << s.status().message();
  }
}

TEST(ShardArgs, WithoutOptionOrEnvironmentTheWholeSweepRuns) {
  auto s = resolve({}, {{"SLURM_JOB_ID", "7"}});
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(*s);
}

TEST(ShardArgs, SlurmArraysCountFromTheirMinimumByTheirStep) {
  auto s = resolve({}, {{"SLURM_ARRAY_TASK_ID", "5"},
                        {"SLURM_ARRAY_TASK_MIN", "1"},
                        {"SLURM_ARRAY_TASK_COUNT", "16"}});
  ASSERT_TRUE(s.ok() && *s) << s.status().to_string();
  EXPECT_EQ((*s)->index, 4);
  EXPECT_EQ((*s)->count, 16);
  s = resolve({}, {{"SLURM_ARRAY_TASK_ID", "10"},
                   {"SLURM_ARRAY_TASK_MIN", "2"},
                   {"SLURM_ARRAY_TASK_STEP", "4"},
                   {"SLURM_ARRAY_TASK_COUNT", "3"}});
  ASSERT_TRUE(s.ok() && *s) << s.status().to_string();
  EXPECT_EQ((*s)->index, 2);
  // A task off the MIN + k x STEP line, or past the count, is refused.
  s = resolve({}, {{"SLURM_ARRAY_TASK_ID", "5"},
                   {"SLURM_ARRAY_TASK_STEP", "2"},
                   {"SLURM_ARRAY_TASK_COUNT", "8"}});
  EXPECT_FALSE(s.ok());
  s = resolve({}, {{"SLURM_ARRAY_TASK_ID", "9"}, {"SLURM_ARRAY_TASK_COUNT", "4"}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("SLURM_ARRAY_TASK_ID=9"), std::string::npos);
}

TEST(ShardArgs, TheOptionBeatsTheEnvironment) {
  ShardArgs a;
  a.shard = "1/2";
  auto s = resolve(a, {{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "4"}});
  ASSERT_TRUE(s.ok() && *s);
  EXPECT_EQ((*s)->count, 2);
}

TEST(ShardArgs, IndexedJobsTakeTheCountFromTheOptionOrTheEnvironment) {
  auto s = resolve({}, {{"JOB_COMPLETION_INDEX", "2"}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("--shard-count"), std::string::npos);
  s = resolve({}, {{"JOB_COMPLETION_INDEX", "2"}, {"CONVGUARD_SHARD_COUNT", "3"}});
  ASSERT_TRUE(s.ok() && *s) << s.status().to_string();
  EXPECT_EQ((*s)->index, 2);
  EXPECT_EQ((*s)->count, 3);
  ShardArgs a;
  a.shard_count = 8;
  s = resolve(a, {{"JOB_COMPLETION_INDEX", "7"}, {"CONVGUARD_SHARD_COUNT", "3"}});
  ASSERT_TRUE(s.ok() && *s) << s.status().to_string();
  EXPECT_EQ((*s)->count, 8);
}

}  // namespace
}  // namespace convguard::cli
