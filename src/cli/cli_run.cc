// `convguard run`: problems in the calling process, no isolation. The in-process
// baseline that isolation overhead is measured against.
#include <memory>

#include "cli/cli.h"
#include "cli/cli_guard.h"
#include "convguard/engine_registry.h"
#include "convguard/inprocess.h"

namespace convguard::cli {
namespace {

struct RunArgs {
  ProblemArgs problems;
  EngineArgs engine;
  GuardRunArgs guard;
  bool json = false;
  bool no_verify = false;
  int warmup = 0;
  int repeats = 1;
};

int run_main(const RunArgs& a) {
  if (auto s = a.engine.check(); !s.ok()) return report_error(s);
  if (!a.guard.profile.empty())
    return run_guarded(a.problems, a.engine, a.guard, a.json, !a.no_verify);
  auto engine = make_engine(a.engine.spec);
  if (!engine.ok()) return report_error(engine.status());
  ProbeOptions opt;
  opt.verify = !a.no_verify;
  opt.exec.warmup = a.warmup;
  opt.exec.repeats = a.repeats;
  InProcessProber prober(std::move(*engine), opt);
  auto requests = a.problems.requests(prober);
  if (!requests.ok()) return report_error(requests.status());
  ResultPrinter printer(a.json, false);
  Status s = prober.run(*requests, [&](size_t, const ProbeResult& r) { printer.print(r); });
  printer.finish();
  if (!s.ok()) return report_error(s);
  return exit_code_for(printer.outcomes());
}

}  // namespace

Command run_command() {
  return {"run", "Run problems in this process (no isolation) and judge each against a reference",
          [](CLI::App& sub) -> std::function<int()> {
            auto a = std::make_shared<RunArgs>();
            a->problems.add_to(sub);
            a->engine.add_to(sub);
            a->guard.add_to(sub);
            sub.add_flag("--json", a->json, "print JSON lines instead of a table");
            sub.add_flag("--no-verify", a->no_verify, "skip the comparison with the reference");
            sub.add_option("--warmup", a->warmup, "untimed executions before the timed ones");
            sub.add_option("--repeats", a->repeats, "timed executions; the median is reported");
            return [a] { return run_main(*a); };
          }};
}

}  // namespace convguard::cli
