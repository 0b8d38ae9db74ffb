// `convguard slurm`: the sbatch submission of a sharded sweep and its merge.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "convguard/status.h"

namespace convguard::cli {

struct SlurmArgs {
  int64_t gpus = 0;                ///< array tasks, one GPU and one shard each
  std::string db_dir;              ///< stores: <db_dir>/shard-<i>.db, merged into all.db
  std::string partition, time;     ///< optional #SBATCH --partition / --time
  std::vector<std::string> extra;  ///< further #SBATCH options, as given
  std::vector<std::string> sweep;  ///< after --: "sweep" and its options, without --db/--shard
};

/// A bash script that submits, with sbatch, a job array of `gpus` tasks (task i sweeps
/// shard i/gpus into <db_dir>/shard-<i>.db with one GPU) and a merge job that runs once
/// every task ended well (--dependency=afterok). `convguard` is the absolute path the
/// jobs run. Invalid names the bad option or value.
Result<std::string> slurm_script(const SlurmArgs& a, const std::string& convguard);

}  // namespace convguard::cli
