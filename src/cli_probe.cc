// `convguard probe`: like `run`, but every probe runs in an isolated worker process
// watched by the supervisor (per-phase deadlines, kill and respawn, canary, wedged).
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <memory>
#include <thread>
#include <algorithm>

#include <fmt/format.h>

#include "cli.h"
#include "convguard/supervisor.h"

namespace convguard::cli {
namespace {

struct ProbeArgs {
  ProblemArgs problems;
  EngineArgs engine;
  bool json = false;
  bool no_verify = false;
  bool verbose = false;
  int warmup = 0;
  int repeats = 1;
  int jobs = 1;
  std::vector<std::string> devices;
  double timeout_init = 60, timeout_prepare = 300;
  std::string timeout_exec = "auto", timeout_verify = "auto";
};

/// Seconds, or 0 for "auto". Invalid names the option.
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

Result<SupervisorOptions> supervisor_options(const ProbeArgs& a) {
  if (a.jobs < 1) return Status::Invalid(fmt::format("invalid --jobs={}: at least 1", a.jobs));
  if (a.repeats < 1) return Status::Invalid(fmt::format("invalid --repeats={}: at least 1", a.repeats));
  if (a.warmup < 0) return Status::Invalid(fmt::format("invalid --warmup={}: 0 or more", a.warmup));
  for (double t : {a.timeout_init, a.timeout_prepare})
    if (!(t > 0)) return Status::Invalid(fmt::format("invalid timeout {}: seconds > 0", t));
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
  // CPU engines thread each probe over every core; `jobs` workers share them instead.
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  if (a.jobs > 1 && !std::getenv("OMP_NUM_THREADS"))
    o.worker_env["OMP_NUM_THREADS"] = std::to_string(std::max(1u, cores / unsigned(a.jobs)));
  o.engine = a.engine.spec;
  o.timeouts.init_s = a.timeout_init;
  o.timeouts.prepare_s = a.timeout_prepare;
  o.timeouts.execute_s = *exec;
  o.timeouts.verify_s = *verify;
  o.probe.verify = !a.no_verify;
  o.probe.exec.warmup = a.warmup;
  o.probe.exec.repeats = a.repeats;
  if (a.verbose)
    o.on_event = [](const SupervisorEvent& e) {
      if (e.kind == SupervisorEvent::dispatched || e.kind == SupervisorEvent::phase_change) return;
      fmt::print(stderr, "convguard: worker {} (pid {}): {}{}{}\n", e.worker, e.pid,
                 to_string(e.kind), e.kind == SupervisorEvent::verdict ? " " : "",
                 e.kind == SupervisorEvent::verdict ? to_string(e.outcome) : "");
    };
  return o;
}

/// The row that says the run stopped because the device did not come back.
ProbeResult wedged_row(const SupervisorOptions& o, const Status& s) {
  Problem canary = o.canary.ic ? o.canary : default_canary();
  ProbeResult r;
  r.problem = key(canary);
  r.dir = canary.dir;
  r.dt = canary.dt;
  r.engine = o.engine.name;
  r.algo = "canary";
  r.outcome = Outcome::wedged;
  r.phase = Phase::init;
  r.message = s.message();
  return r;
}

int probe_main(const ProbeArgs& a) {
  if (auto s = a.engine.check(); !s.ok()) return report_error(s);
  auto o = supervisor_options(a);
  if (!o.ok()) return report_error(o.status());
  Supervisor sup(*o);
  auto requests = a.problems.requests(sup);
  if (!requests.ok()) return report_error(requests.status());
  ResultPrinter printer(a.json, true);
  Status s = sup.run(*requests, [&](size_t, const ProbeResult& r) { printer.print(r); });
  if (s.code() == Code::kDeviceLost) printer.print(wedged_row(*o, s));
  printer.finish();
  if (!s.ok()) return report_error(s);
  return exit_code_for(printer.outcomes());
}

}  // namespace

Command probe_command() {
  return {"probe",
          "Run problems in isolated worker processes with per-phase deadlines "
          "(hangs and crashes become outcomes)",
          [](CLI::App& sub) -> std::function<int()> {
            auto a = std::make_shared<ProbeArgs>();
            a->problems.add_to(sub);
            a->engine.add_to(sub);
            sub.add_flag("--json", a->json, "print JSON lines instead of a table");
            sub.add_flag("--no-verify", a->no_verify, "skip the comparison with the reference");
            sub.add_flag("-v,--verbose", a->verbose, "log worker starts, verdicts and canaries");
            sub.add_option("--warmup", a->warmup, "untimed executions before the timed ones");
            sub.add_option("--repeats", a->repeats, "timed executions; the median is reported");
            sub.add_option("-j,--jobs", a->jobs, "concurrent workers")->capture_default_str();
            sub.add_option("--devices", a->devices,
                           "device per worker, round robin (sets CUDA_VISIBLE_DEVICES and "
                           "HIP_VISIBLE_DEVICES), e.g. 0,1")
                ->delimiter(',');
            sub.add_option("--timeout-init", a->timeout_init,
                           "seconds for library load and context creation")
                ->capture_default_str();
            sub.add_option("--timeout-prepare", a->timeout_prepare,
                           "seconds for find/plan/kernel compilation")
                ->capture_default_str();
            sub.add_option("--timeout-exec", a->timeout_exec,
                           "seconds per execution phase, or auto (cost model with a 1 s floor)")
                ->capture_default_str();
            sub.add_option("--timeout-verify", a->timeout_verify,
                           "seconds for the reference and comparison, or auto (scaled by size)")
                ->capture_default_str();
            return [a] { return probe_main(*a); };
          }};
}

}  // namespace convguard::cli
