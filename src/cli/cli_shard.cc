#include "cli/cli_shard.h"

#include <fmt/format.h>

#include <charconv>

namespace convguard::cli {
namespace {

// A whole decimal number, nothing around it.
std::optional<int64_t> parse_int(const std::string& s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

Result<int64_t> env_int(const EnvLookup& env, const char* name, int64_t fallback) {
  const char* v = env(name);
  if (!v) return fallback;
  auto n = parse_int(v);
  if (!n) return Status::Invalid(fmt::format("invalid {}={}: expected a whole number", name, v));
  return *n;
}

Result<Shard> checked(Shard s, const std::string& what) {
  if (s.count < 1 || s.index < 0 || s.index >= s.count)
    return Status::Invalid(
        fmt::format("invalid {}: shard {} of {}; shards are numbered from 0 "
                    "to N-1 and N is at least 1",
                    what, s.index, s.count));
  return s;
}

Result<std::optional<Shard>> from_slurm(const EnvLookup& env, std::string* source) {
  const char* id = env("SLURM_ARRAY_TASK_ID");
  const char* count = env("SLURM_ARRAY_TASK_COUNT");
  if (!id || !count) return std::optional<Shard>();
  auto task = env_int(env, "SLURM_ARRAY_TASK_ID", 0);
  auto n = env_int(env, "SLURM_ARRAY_TASK_COUNT", 0);
  auto min = env_int(env, "SLURM_ARRAY_TASK_MIN", 0);
  auto step = env_int(env, "SLURM_ARRAY_TASK_STEP", 1);
  for (const Status* s : {&task.status(), &n.status(), &min.status(), &step.status()})
    if (!s->ok()) return *s;
  *source = fmt::format(
      "SLURM_ARRAY_TASK_ID={} SLURM_ARRAY_TASK_MIN={} SLURM_ARRAY_TASK_STEP={} "
      "SLURM_ARRAY_TASK_COUNT={}",
      *task, *min, *step, *n);
  // Arrays such as --array=1-16 or 0-30:2 number their tasks from MIN by STEP; a list
  // with gaps (--array=1,5,9) cannot be told apart from a missing task and is refused.
  if (*step < 1 || (*task - *min) % *step != 0)
    return Status::Invalid(
        fmt::format("invalid array task {}: not MIN + k x STEP; give "
                    "--shard i/N for arrays with gaps",
                    *source));
  auto s = checked({(*task - *min) / *step, *n}, *source);
  if (!s.ok()) return s.status();
  return std::optional<Shard>(*s);
}

Result<std::optional<Shard>> from_indexed_job(const EnvLookup& env, int64_t count_option,
                                              std::string* source) {
  const char* index = env("JOB_COMPLETION_INDEX");
  if (!index) return std::optional<Shard>();
  auto i = env_int(env, "JOB_COMPLETION_INDEX", 0);
  if (!i.ok()) return i.status();
  auto n = env_int(env, "CONVGUARD_SHARD_COUNT", 0);
  if (!n.ok()) return n.status();
  if (count_option > 0) n = count_option;
  if (*n <= 0)
    return Status::Invalid(fmt::format(
        "JOB_COMPLETION_INDEX={} is set but not the number of shards: give --shard-count "
        "(the Job's completions) or CONVGUARD_SHARD_COUNT, or --shard i/N",
        *i));
  *source = fmt::format("JOB_COMPLETION_INDEX={} of {}", *i, *n);
  auto s = checked({*i, *n}, *source);
  if (!s.ok()) return s.status();
  return std::optional<Shard>(*s);
}

}  // namespace

Result<Shard> parse_shard(const std::string& text, const std::string& what) {
  const auto slash = text.find('/');
  auto i = slash == std::string::npos ? std::nullopt : parse_int(text.substr(0, slash));
  auto n = slash == std::string::npos ? std::nullopt : parse_int(text.substr(slash + 1));
  if (!i || !n)
    return Status::Invalid(
        fmt::format("invalid {}={}: expected i/N, shard i (from 0) of N", what, text));
  return checked({*i, *n}, fmt::format("{}={}", what, text));
}

void ShardArgs::add_to(CLI::App& app) {
  app.add_option("--shard", shard,
                 "run only shard i of N (i from 0 to N-1), balanced by expected cost; default: "
                 "from SLURM_ARRAY_TASK_ID/_COUNT or JOB_COMPLETION_INDEX");
  app.add_option("--shard-count", shard_count,
                 "the number of shards for JOB_COMPLETION_INDEX (or CONVGUARD_SHARD_COUNT)");
}

Result<std::optional<Shard>> ShardArgs::resolve(const EnvLookup& env) {
  if (!shard.empty()) {
    source = "--shard=" + shard;
    auto s = parse_shard(shard, "--shard");
    if (!s.ok()) return s.status();
    return std::optional<Shard>(*s);
  }
  if (shard_count < 0)
    return Status::Invalid(
        fmt::format("invalid --shard-count={}: expected at least 1", shard_count));
  auto slurm = from_slurm(env, &source);
  if (!slurm.ok() || *slurm) return slurm;
  return from_indexed_job(env, shard_count, &source);
}

}  // namespace convguard::cli
