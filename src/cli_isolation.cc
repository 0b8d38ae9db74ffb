// OWNED BY THE ISOLATION ENGINEER (see cli_isolation.h): a minimal make_isolated_prober
// over the Supervisor, so that `sweep` runs isolated; it mirrors cli_probe.cc's options.
#include "cli_isolation.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "convguard/supervisor.h"

namespace convguard::cli {
namespace {

Result<double> parse_timeout(const std::string& text, const char* option) {
  if (text == "auto") return 0.0;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end == text.c_str() || *end != '\0' || !(v > 0))
    return Status::Invalid(fmt::format("invalid {}={}: seconds > 0 or auto", option, text));
  return v;
}

Result<std::string> self_path() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return Status::Io("cannot find this executable (/proc/self/exe) to start workers");
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

void IsolationArgs::add_to(CLI::App& app) {
  app.add_option("-j,--jobs", jobs, "concurrent workers")->capture_default_str();
  app.add_option("--devices", devices, "device per worker, round robin, e.g. 0,1")
      ->delimiter(',')
      ->allow_extra_args(false);
  app.add_option("--timeout-init", timeout_init, "seconds for library load and context creation")
      ->capture_default_str();
  app.add_option("--timeout-prepare", timeout_prepare, "seconds for find/plan/compilation")
      ->capture_default_str();
  app.add_option("--timeout-exec", timeout_exec, "seconds per execution, or auto")
      ->capture_default_str();
  app.add_option("--timeout-verify", timeout_verify, "seconds for the comparison, or auto")
      ->capture_default_str();
  app.add_flag("--no-verify", no_verify, "skip the comparison with the reference");
  app.add_option("--warmup", warmup, "untimed executions before the timed ones");
  app.add_option("--repeats", repeats, "timed executions; the median is reported");
}

nlohmann::json IsolationArgs::to_json() const {
  return {{"jobs", jobs},
          {"devices", devices},
          {"timeout_init", timeout_init},
          {"timeout_prepare", timeout_prepare},
          {"timeout_exec", timeout_exec},
          {"timeout_verify", timeout_verify},
          {"no_verify", no_verify},
          {"warmup", warmup},
          {"repeats", repeats}};
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
    a.no_verify = j.value("no_verify", a.no_verify);
    a.warmup = j.value("warmup", a.warmup);
    a.repeats = j.value("repeats", a.repeats);
  } catch (const nlohmann::json::exception& e) {
    return Status::Invalid(fmt::format("invalid isolation options {}: {}", j.dump(), e.what()));
  }
  return a;
}

Result<std::unique_ptr<Prober>> make_isolated_prober(const EngineArgs& engine,
                                                     const IsolationArgs& a) {
  if (auto s = engine.check(); !s.ok()) return s;
  if (a.jobs < 1) return Status::Invalid(fmt::format("invalid --jobs={}: at least 1", a.jobs));
  if (a.repeats < 1) return Status::Invalid(fmt::format("invalid --repeats={}: at least 1", a.repeats));
  if (a.warmup < 0) return Status::Invalid(fmt::format("invalid --warmup={}: 0 or more", a.warmup));
  if (!(a.timeout_init > 0) || !(a.timeout_prepare > 0))
    return Status::Invalid("invalid --timeout-init/--timeout-prepare: seconds > 0");
  auto exec = parse_timeout(a.timeout_exec, "--timeout-exec");
  if (!exec.ok()) return exec.status();
  auto verify = parse_timeout(a.timeout_verify, "--timeout-verify");
  if (!verify.ok()) return verify.status();
  auto self = self_path();
  if (!self.ok()) return self.status();
  SupervisorOptions o;
  o.jobs = a.jobs;
  o.devices = a.devices;
  o.worker_argv = {*self, "worker"};
  o.engine = engine.spec;
  o.timeouts.init_s = a.timeout_init;
  o.timeouts.prepare_s = a.timeout_prepare;
  o.timeouts.execute_s = *exec;
  o.timeouts.verify_s = *verify;
  o.probe.verify = !a.no_verify;
  o.probe.exec.warmup = a.warmup;
  o.probe.exec.repeats = a.repeats;
  o.on_dispatch = a.on_dispatch;
  return std::unique_ptr<Prober>(std::make_unique<Supervisor>(std::move(o)));
}

}  // namespace convguard::cli
