// `--shard i/N` for sweeps, and its defaults from Slurm job arrays and Kubernetes Indexed
// Jobs.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "convguard/status.h"
#include "convguard/sweep.h"

namespace convguard::cli {

/// Reads an environment variable (nullptr: unset); ::getenv in the command.
using EnvLookup = std::function<const char*(const char*)>;

struct ShardArgs {
  std::string shard;        ///< --shard "i/N", 0-based
  int64_t shard_count = 0;  ///< --shard-count: N for JOB_COMPLETION_INDEX
  std::string source;       ///< set by resolve(): where the shard came from, for messages

  void add_to(CLI::App& app);
  /// The shard to run: --shard; else, in a Slurm array task, (SLURM_ARRAY_TASK_ID -
  /// SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP of SLURM_ARRAY_TASK_COUNT; else, in a
  /// Kubernetes Indexed Job, JOB_COMPLETION_INDEX of --shard-count (or
  /// CONVGUARD_SHARD_COUNT). nullopt: the whole sweep. Invalid names the option or
  /// variable and its value.
  Result<std::optional<Shard>> resolve(const EnvLookup& env);
};

/// Parses "i/N" (0 <= i < N); Invalid names `what` and the value.
Result<Shard> parse_shard(const std::string& text, const std::string& what);

}  // namespace convguard::cli
