// `convguard probe`: like `run`, but every probe runs in an isolated worker process
// watched by the supervisor (per-phase deadlines, kill and respawn, canary, wedged).
#include <memory>

#include "cli/cli.h"
#include "cli/cli_isolation.h"

namespace convguard::cli {
namespace {

struct ProbeArgs {
  ProblemArgs problems;
  EngineArgs engine;
  IsolationArgs iso;
  bool json = false;
};

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
  auto o = supervisor_options(a.engine, a.iso);
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
            a->iso.add_to(sub);
            sub.add_flag("--json", a->json, "print JSON lines instead of a table");
            return [a] { return probe_main(*a); };
          }};
}

}  // namespace convguard::cli
