#include "cli/cli_slurm.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace convguard::cli {
namespace {

SlurmArgs args() {
  SlurmArgs a;
  a.gpus = 16;
  a.db_dir = "/data/stores";
  a.partition = "gpu";
  a.sweep = {"sweep", "--engine", "cudnn", "--grid", "ic=16,32 ih=8:64", "--algo", "all"};
  return a;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(SlurmScript, SubmitsAnArrayOfOneGpuTasksAndAMergeAfterThem) {
  auto s = slurm_script(args(), "/opt/convguard/bin/convguard");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_TRUE(has(*s, "#SBATCH --array=0-15\n")) << *s;
  EXPECT_TRUE(has(*s, "#SBATCH --gres=gpu:1\n"));
  EXPECT_TRUE(has(*s, "#SBATCH --partition=gpu\n"));
  EXPECT_TRUE(has(*s, "sbatch --parsable <<'CONVGUARD_TASK'"));
  EXPECT_TRUE(has(*s, "--dependency=afterok:\"$array\""));
  // A store and a shard per task, the sweep's options quoted as given.
  EXPECT_TRUE(has(*s, "db=/data/stores/shard-\"$SLURM_ARRAY_TASK_ID\".db\n")) << *s;
  EXPECT_TRUE(has(*s,
                  "/opt/convguard/bin/convguard sweep --db \"$db\" --shard "
                  "\"$SLURM_ARRAY_TASK_ID\"/16 --engine cudnn --grid 'ic=16,32 ih=8:64' "
                  "--algo all"))
      << *s;
  // A requeued task resumes its unfinished run first.
  EXPECT_TRUE(has(*s, "/opt/convguard/bin/convguard sweep --db \"$db\" --resume;")) << *s;
  EXPECT_TRUE(has(*s,
                  "'/opt/convguard/bin/convguard merge /data/stores/shard-*.db -o "
                  "/data/stores/all.db --force'"));
}

TEST(SlurmScript, IsValidBash) {
  SlurmArgs a = args();
  a.db_dir = "stores with space";
  a.sweep.push_back("it's");
  auto s = slurm_script(a, "/usr/bin/convguard");
  ASSERT_TRUE(s.ok());
  // Relative store folders become absolute: the jobs may start elsewhere.
  EXPECT_TRUE(has(*s, "'" + (std::filesystem::current_path() / "stores with space").string()));
  const auto file = std::filesystem::temp_directory_path() / "cg_slurm_script_test.sh";
  std::ofstream(file) << *s;
  EXPECT_EQ(std::system(("bash -n '" + file.string() + "'").c_str()), 0);
  std::filesystem::remove(file);
}

TEST(SlurmScript, BadOptionsAreInvalidAndNamed) {
  SlurmArgs a = args();
  a.gpus = 0;
  auto s = slurm_script(a, "/usr/bin/convguard");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(has(s.status().message(), "--gpus=0"));
  a = args();
  a.sweep = {"sweep", "--db", "x.db"};
  s = slurm_script(a, "/usr/bin/convguard");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(has(s.status().message(), "--db"));
  a = args();
  a.sweep = {"boundary", "--engine", "sim"};
  EXPECT_FALSE(slurm_script(a, "/usr/bin/convguard").ok());
}

}  // namespace
}  // namespace convguard::cli
