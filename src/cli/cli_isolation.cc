#include "cli/cli_isolation.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "convguard/engine_registry.h"

namespace convguard::cli {
namespace {

// A week: far beyond any phase a probe should take, and small enough that a deadline
// computed from it (steady_clock plus milliseconds) can neither overflow nor go back.
constexpr double kMaxSeconds = 7 * 24 * 3600;

Result<double> check_seconds(double v, const char* option, const char* also = "") {
  if (std::isfinite(v) && v > 0 && v <= kMaxSeconds) return v;
  return Status::Invalid(
      fmt::format("invalid {}={}: seconds > 0 and at most {:g}{}", option, v, kMaxSeconds, also));
}

Result<double> parse_timeout(const std::string& text, const char* option) {
  if (text == "auto") return 0.0;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end == text.c_str() || *end != '\0')
    return Status::Invalid(fmt::format("invalid {}={}: seconds > 0 or auto", option, text));
  return check_seconds(v, option, ", or auto");
}

// More workers than this only queue for the same cores (CPU engines) or the same
// devices; a typo such as --jobs 10000 would start that many processes.
int max_jobs() { return std::max(16, 4 * static_cast<int>(std::thread::hardware_concurrency())); }

// Enough for any median; a bigger count is a typo that would hold a worker for hours.
constexpr int kMaxExecutions = 10000;

Status check_counts(const IsolationArgs& a) {
  if (a.jobs < 1 || a.jobs > max_jobs())
    return Status::Invalid(
        fmt::format("invalid --jobs={}: 1 to {} on this machine (4 per core)", a.jobs, max_jobs()));
  if (a.repeats < 1 || a.repeats > kMaxExecutions)
    return Status::Invalid(fmt::format("invalid --repeats={}: 1 to {}", a.repeats, kMaxExecutions));
  if (a.warmup < 0 || a.warmup > kMaxExecutions)
    return Status::Invalid(fmt::format("invalid --warmup={}: 0 to {}", a.warmup, kMaxExecutions));
  return Status::Ok();
}

// What CUDA_VISIBLE_DEVICES and HIP_VISIBLE_DEVICES take: an index, or a GPU/MIG UUID.
Status check_devices(const std::vector<std::string>& devices) {
  for (const std::string& d : devices) {
    const bool index = !d.empty() && d.size() <= 4 &&
                       std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
    const bool uuid = (d.starts_with("GPU-") || d.starts_with("MIG-")) && d.size() > 4 &&
                      std::all_of(d.begin(), d.end(), [](char c) {
                        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '/';
                      });
    if (!index && !uuid)
      return Status::Invalid(
          fmt::format("invalid --devices={}: device indices (0,1) or GPU-/MIG- UUIDs", d));
  }
  return Status::Ok();
}

// Level 1: worker starts, verdicts, canaries and calibration. Level 2 adds every dispatch
// and phase change with its deadline, each line stamped with seconds since the first event,
// so that where a second goes can be read off one run.
void log_events(SupervisorOptions& o, int level) {
  o.on_event = [level, first = std::optional<std::chrono::steady_clock::time_point>()](
                   const SupervisorEvent& e) mutable {
    const bool detail = e.kind == SupervisorEvent::dispatched || e.kind == SupervisorEvent::phase_change;
    if (detail && level < 2) return;
    if (!first) first = e.at;
    const std::string stamp =
        level < 2 ? "" : fmt::format("+{:.3f} s ", std::chrono::duration<double>(e.at - *first).count());
    std::string what = to_string(e.kind);
    if (e.kind == SupervisorEvent::verdict) what += fmt::format(" {}", to_string(e.outcome));
    if (e.kind == SupervisorEvent::calibrated) what += ": " + e.message;
    if (detail)
      what += fmt::format(" #{} {} (deadline {:.3f} s{})", e.index, to_string(e.phase), e.deadline_s,
                          e.expected_s > 0 ? fmt::format(", expected {:.2e} s", e.expected_s) : "");
    fmt::print(stderr, "convguard: {}worker {} (pid {}): {}\n", stamp, e.worker, e.pid, what);
  };
}

}  // namespace

void IsolationArgs::add_to(CLI::App& app) {
  app.add_option("-j,--jobs", jobs, "concurrent workers")->capture_default_str();
  app.add_option("--devices", devices,
                 "device per worker, round robin (sets CUDA_VISIBLE_DEVICES and "
                 "HIP_VISIBLE_DEVICES), e.g. 0,1")
      ->delimiter(',')
      ->allow_extra_args(false);
  app.add_option("--timeout-init", timeout_init, "seconds for library load and context creation")
      ->capture_default_str();
  app.add_option("--timeout-prepare", timeout_prepare, "seconds for find/plan/kernel compilation")
      ->capture_default_str();
  app.add_option("--timeout-exec", timeout_exec,
                 "seconds per execution phase, or auto (calibrated cost model; floor from the "
                 "measured jitter)")
      ->capture_default_str();
  app.add_option("--exec-floor", exec_floor,
                 "seconds: the least automatic execute deadline once the overhead around "
                 "execute phases is measured (a hang of a short convolution is called after it)")
      ->capture_default_str();
  app.add_option("--timeout-verify", timeout_verify,
                 "seconds for the reference and comparison, or auto (scaled by size)")
      ->capture_default_str();
  app.add_flag("--no-verify", no_verify, "skip the comparison with the reference");
  app.add_option("--warmup", warmup, "untimed executions before the timed ones");
  app.add_option("--repeats", repeats, "timed executions; the median is reported");
  app.add_flag("-v,--verbose", verbose,
               "log worker starts, verdicts and canaries; -vv also every dispatch and phase, "
               "stamped");
  app.add_option("--miopen-state", miopen_state,
                 "miopen engine: MIOpen's user databases and kernel cache: private (a fresh "
                 "folder per worker), user (the user's own) or a folder for the private ones")
      ->capture_default_str();
}

nlohmann::json IsolationArgs::to_json() const {
  return {{"jobs", jobs},
          {"devices", devices},
          {"timeout_init", timeout_init},
          {"timeout_prepare", timeout_prepare},
          {"timeout_exec", timeout_exec},
          {"timeout_verify", timeout_verify},
          {"exec_floor", exec_floor},
          {"no_verify", no_verify},
          {"warmup", warmup},
          {"repeats", repeats},
          {"miopen_state", miopen_state}};
}

Result<IsolationArgs> IsolationArgs::from_json(const nlohmann::json& j) {
  IsolationArgs a;
  try {
    a.jobs = j.value("jobs", a.jobs);
    a.devices = j.value("devices", a.devices);
    a.timeout_init = j.value("timeout_init", a.timeout_init);
    a.timeout_prepare = j.value("timeout_prepare", a.timeout_prepare);
    a.timeout_exec = j.value("timeout_exec", a.timeout_exec);
    a.timeout_verify = j.value("timeout_verify", a.timeout_verify);
    a.exec_floor = j.value("exec_floor", a.exec_floor);
    a.no_verify = j.value("no_verify", a.no_verify);
    a.warmup = j.value("warmup", a.warmup);
    a.repeats = j.value("repeats", a.repeats);
    a.miopen_state = j.value("miopen_state", a.miopen_state);
  } catch (const nlohmann::json::exception& e) {
    return Status::Invalid(fmt::format("invalid isolation options {}: {}", j.dump(), e.what()));
  }
  return a;
}

Result<SupervisorOptions> supervisor_options(const EngineArgs& engine, const IsolationArgs& a) {
  CG_RETURN_IF_ERROR(engine.check());
  CG_RETURN_IF_ERROR(check_counts(a));
  CG_RETURN_IF_ERROR(check_devices(a.devices));
  CG_RETURN_IF_ERROR(check_seconds(a.timeout_init, "--timeout-init").status());
  CG_RETURN_IF_ERROR(check_seconds(a.timeout_prepare, "--timeout-prepare").status());
  CG_RETURN_IF_ERROR(check_seconds(a.exec_floor, "--exec-floor").status());
  auto exec = parse_timeout(a.timeout_exec, "--timeout-exec");
  if (!exec.ok()) return exec.status();
  auto verify = parse_timeout(a.timeout_verify, "--timeout-verify");
  if (!verify.ok()) return verify.status();
  if (a.miopen_state.empty())
    return Status::Invalid("invalid --miopen-state=: expected private, user or a folder");
  auto self = self_path();
  if (!self.ok()) return self.status();
  SupervisorOptions o;
  o.jobs = a.jobs;
  o.devices = a.devices;
  o.worker_argv = worker_argv_for(engine.spec, *self);
  // CPU engines thread each probe over every core; `jobs` workers share them instead.
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  if (a.jobs > 1 && !std::getenv("OMP_NUM_THREADS"))
    o.worker_env["OMP_NUM_THREADS"] = std::to_string(std::max(1u, cores / unsigned(a.jobs)));
  // The engine reads it in each worker (engines/miopen/miopen_engine.h); "private" leaves
  // the user's own setting of the variable, if any, in force.
  if (a.miopen_state != "private") o.worker_env["CONVGUARD_MIOPEN_STATE"] = a.miopen_state;
  o.engine = engine.spec;
  o.timeouts.init_s = a.timeout_init;
  o.timeouts.prepare_s = a.timeout_prepare;
  o.timeouts.execute_s = *exec;
  o.timeouts.verify_s = *verify;
  o.timeouts.execute_floor_min_s = a.exec_floor;
  // Realistic deadlines from the first probe, and replacement workers standing by: two,
  // since hangs can come faster than a GPU worker's context comes up.
  o.calibrate = true;
  o.spares = 2;
  // A command exits right after its run: its workers' last moments need not hold it up.
  o.wait_for_workers = false;
  o.probe.verify = !a.no_verify;
  o.probe.exec.warmup = a.warmup;
  o.probe.exec.repeats = a.repeats;
  if (a.verbose > 0) log_events(o, a.verbose);
  return o;
}

Result<std::unique_ptr<Supervisor>> make_isolated_prober(const EngineArgs& engine,
                                                         const IsolationArgs& a) {
  auto o = supervisor_options(engine, a);
  if (!o.ok()) return o.status();
  return std::make_unique<Supervisor>(std::move(*o));
}

namespace {

// The fingerprint without its environment entries ("env.*"): the same device and
// libraries. Worker counts set OMP_NUM_THREADS, which changes the hash but not what a
// speed measured there says about this device.
nlohmann::json device_of(const std::string& fingerprint_json) {
  auto j = nlohmann::json::parse(fingerprint_json, nullptr, false);
  if (!j.is_object()) return {};
  for (auto it = j.begin(); it != j.end();)
    it = it.key().starts_with("env.") ? j.erase(it) : std::next(it);
  return j;
}

// Fingerprint hashes of earlier runs of `engine` on the device of run `run_id`.
std::vector<std::string> same_device_hashes(Store& store, int64_t run_id, const std::string& engine) {
  auto runs = store.list_runs();
  if (!runs.ok()) return {};
  auto mine = std::find_if(runs->begin(), runs->end(), [&](const RunInfo& r) { return r.id == run_id; });
  if (mine == runs->end()) return {};
  const nlohmann::json device = device_of(mine->fingerprint_json);
  std::set<std::string> hashes;
  for (const RunInfo& r : *runs)
    if (r.engine == engine && device_of(r.fingerprint_json) == device) hashes.insert(r.fingerprint_hash);
  return {hashes.begin(), hashes.end()};
}

}  // namespace

void seed_speed_from_store(Supervisor& sup, Store& store, const StoreProber& run) {
  std::vector<SpeedSample> samples;
  for (const std::string& hash : same_device_hashes(store, run.run_id(), run.engine_name())) {
    ProbeFilter f;
    f.engine = run.engine_name();
    f.outcome = Outcome::ok;
    f.fingerprint_hash = hash;
    auto stored = store.list_probes(f);
    if (!stored.ok()) continue;  // no evidence from it: the prior stands
    for (const StoredProbe& sp : *stored) {
      auto p = parse_problem(sp.result.problem);
      if (p.ok()) samples.push_back({p->flops(), sp.result.time_ms});
    }
  }
  sup.seed_speed(speed_prior_gflops(samples));
}

void StoreCommandArgs::add_to(CLI::App& app) {
  app.add_option("--db", db, "the store (SQLite file), created if missing")->required();
  problems.add_to(app);
  engine.add_to(app);
  iso.add_to(app);
  app.add_flag("--rerun", rerun, "run again even where a result is stored");
}

nlohmann::json StoreCommandArgs::engine_json() const {
  const EngineSpec& e = engine.spec;
  return {{"engine", {{"name", e.name}, {"base", e.base}, {"quirks", e.quirks_path}, {"seed", e.seed}}},
          {"isolation", iso.to_json()}};
}

Status StoreCommandArgs::restore_engine(const nlohmann::json& j) {
  try {
    const auto& e = j.at("engine");
    engine.spec = {e.at("name").get<std::string>(), e.value("base", ""), e.value("quirks", ""),
                   e.value("seed", uint64_t{0})};
  } catch (const nlohmann::json::exception& ex) {
    return Status::Corrupt(fmt::format("the run's stored options are incomplete: {}", ex.what()));
  }
  auto restored = IsolationArgs::from_json(j.value("isolation", nlohmann::json::object()));
  if (!restored.ok()) return restored.status();
  iso = *restored;
  return Status::Ok();
}

}  // namespace convguard::cli
