#include "cli/cli_slurm.h"

#include <fmt/format.h>

#include <filesystem>
#include <memory>

#include "cli/cli.h"
#include "model/shell.h"

namespace convguard::cli {
namespace {

// The sweep's own options that the script sets per task.
constexpr const char* kTaskOptions[] = {"--db", "--shard", "--shard-count", "--resume", "--run"};

Status check(const SlurmArgs& a) {
  if (a.gpus < 1)
    return Status::Invalid(fmt::format("invalid --gpus={}: expected at least 1", a.gpus));
  if (a.db_dir.empty()) return Status::Invalid("--db-dir DIR is required");
  if (a.sweep.empty() || a.sweep[0] != "sweep")
    return Status::Invalid(
        "expected the sweep after --: convguard slurm --gpus N --db-dir DIR "
        "-- sweep --engine ... PROBLEMS");
  for (const std::string& arg : a.sweep)
    for (const char* own : kTaskOptions)
      if (arg == own || arg.rfind(std::string(own) + "=", 0) == 0)
        return Status::Invalid(fmt::format(
            "invalid {} after --: each task gets its store in --db-dir and its shard", arg));
  return Status::Ok();
}

std::string sbatch_lines(const SlurmArgs& a) {
  std::string s;
  if (!a.partition.empty()) s += "#SBATCH --partition=" + a.partition + "\n";
  if (!a.time.empty()) s += "#SBATCH --time=" + a.time + "\n";
  for (const auto& e : a.extra) s += "#SBATCH " + e + "\n";
  return s;
}

}  // namespace

Result<std::string> slurm_script(const SlurmArgs& a, const std::string& convguard) {
  CG_RETURN_IF_ERROR(check(a));
  const std::string dir = std::filesystem::absolute(a.db_dir).lexically_normal().string();
  const std::string cg = shell_quote(convguard), qdir = shell_quote(dir);
  std::vector<std::string> sweep = a.sweep;
  sweep.erase(sweep.begin());
  const std::string task = fmt::format(
      "#!/bin/bash\n"
      "#SBATCH --job-name=convguard-sweep\n"
      "#SBATCH --array=0-{0}\n"
      "#SBATCH --ntasks=1\n"
      "#SBATCH --gres=gpu:1\n"
      "#SBATCH --output={1}/shard-%a.log\n"
      "{2}"
      "set -uo pipefail\n"
      "db={1}/shard-\"$SLURM_ARRAY_TASK_ID\".db\n"
      "# A requeued task goes on with its unfinished run: the probe in flight when it died\n"
      "# becomes a suspect instead of running again (it may be what brought the node down).\n"
      "# Exit 2 from --resume says there is none: the sweep then starts, reusing every result\n"
      "# already in the store.\n"
      "rc=2\n"
      "[ -f \"$db\" ] && {{ {3} sweep --db \"$db\" --resume; rc=$?; }}\n"
      "[ \"$rc\" -eq 2 ] && {{ {3} sweep --db \"$db\" --shard \"$SLURM_ARRAY_TASK_ID\"/{4} {5}; "
      "rc=$?; }}\n"
      "# Exit 1 means the sweep found failing probes: the task did its work, the merge runs.\n"
      "[ \"$rc\" -le 1 ] || exit \"$rc\"\n",
      a.gpus - 1, qdir, sbatch_lines(a), cg, a.gpus, shell_join(sweep));
  const std::string merge =
      fmt::format("{} merge {}/shard-*.db -o {}/all.db --force", cg, qdir, qdir);
  return fmt::format(
      "#!/bin/bash\n"
      "# convguard slurm: a sweep in {0} shards, one GPU each, then one merge into\n"
      "# {1}/all.db. Submit with: bash THIS_FILE\n"
      "set -euo pipefail\n"
      "mkdir -p {1}\n"
      "array=$(sbatch --parsable <<'CONVGUARD_TASK'\n"
      "{2}"
      "CONVGUARD_TASK\n"
      ")\n"
      "array=${{array%%;*}}  # --parsable prints JOBID or JOBID;CLUSTER\n"
      "merge=$(sbatch --parsable --job-name=convguard-merge --ntasks=1 "
      "--dependency=afterok:\"$array\" --output={1}/merge.log{3} --wrap {4})\n"
      "echo \"convguard: sweep array $array ({0} tasks), merge job ${{merge%%;*}} -> "
      "{1}/all.db\"\n",
      a.gpus, qdir, task, a.partition.empty() ? "" : " --partition=" + shell_quote(a.partition),
      shell_quote(merge));
}

Command slurm_command() {
  return {
      "slurm",
      "Print a bash script that submits a sweep as a Slurm job array (one GPU and one shard "
      "a task) and a merge job after it",
      [](CLI::App& sub) -> std::function<int()> {
        auto a = std::make_shared<SlurmArgs>();
        sub.add_option("--gpus", a->gpus, "array tasks: one GPU and one shard each")->required();
        sub.add_option("--db-dir", a->db_dir, "directory of the stores (shard-I.db, all.db)")
            ->required();
        sub.add_option("--partition", a->partition, "#SBATCH --partition");
        sub.add_option("--time", a->time, "#SBATCH --time of each task");
        sub.add_option("--sbatch", a->extra, "a further #SBATCH option (repeatable)");
        sub.add_option("sweep", a->sweep, "after --: sweep and its options");
        return [a] {
          auto self = self_path();
          if (!self.ok()) return report_error(self.status());
          auto script = slurm_script(*a, *self);
          if (!script.ok()) return report_error(script.status());
          fmt::print("{}", *script);
          return kExitOk;
        };
      }};
}

}  // namespace convguard::cli
