#include "cli/cli_guard.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/cli_isolation.h"
#include "convguard/engine_registry.h"
#include "convguard/fill.h"
#include "convguard/guard.h"
#include "convguard/inprocess.h"

namespace convguard::cli {
namespace {

ProbeResult run_one(Guard& guard, const Problem& p, Reference* ref, Route* route) {
  ProbeResult r;
  r.problem = key(p), r.name = p.name, r.dir = p.dir, r.dt = p.dt, r.phase = Phase::execute;
  ConvTensors t;
  resize_for(p, t);
  fill_inputs(p, t, 0);
  poison_outputs(p, t);
  const auto start = std::chrono::steady_clock::now();
  const Status s = guard.run(p, t, route);
  r.time_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  r.engine = route->engine, r.algo = route->algo;
  if (!s.ok()) {
    r.outcome = s.code() == Code::kInvalid                ? Outcome::invalid
                : route->kind == RouteKind::refuse ? Outcome::unsupported
                                                   : Outcome::error;
    r.message = s.message();
    return r;
  }
  if (ref) judge(p, t, route->algo_class, *ref, 0, r);
  return r;
}

void print(const ProbeResult& r, const Route& route, bool json) {
  if (json) {
    nlohmann::json j = to_json(r);
    j["route"] = route.text();
    j["route_kind"] = to_string(route.kind);
    std::printf("%s\n", j.dump().c_str());
  } else {
    fmt::print("{:<11} {:>10.3f} ms  {}\n    route: {}\n", to_string(r.outcome), r.time_ms,
               r.problem, route.text());
    if (r.outcome != Outcome::ok && !r.message.empty()) fmt::print("    {}\n", r.message);
  }
  std::fflush(stdout);
}

}  // namespace

void GuardRunArgs::add_to(CLI::App& app) {
  app.add_option("--guard", profile, "run every problem through the guard with this safety profile");
  app.add_flag("--learn", learn,
               "with --guard: probe problems the profile does not know in isolated workers first "
               "and save what they show into the profile");
  app.add_flag("--force-profile", force, "with --guard: use a profile made for another fingerprint");
  app.add_option("--cpu-engine", cpu_engine, "with --guard: engine of the CPU route ('' refuses instead)")
      ->capture_default_str();
}

int run_guarded(const ProblemArgs& problems, const EngineArgs& engine, const GuardRunArgs& guard,
                bool json, bool verify) {
  if (auto s = engine.check(); !s.ok()) return report_error(s);
  auto ps = problems.problems();
  if (!ps.ok()) return report_error(ps.status());
  GuardOptions o;
  o.device_engine = engine.spec.name, o.device_spec = engine.spec, o.cpu_engine = guard.cpu_engine;
  o.learn = guard.learn, o.force = guard.force, o.make_engine = make_engine;
  if (guard.learn) {
    auto prober = make_isolated_prober(engine, IsolationArgs{});
    if (!prober.ok()) return report_error(prober.status());
    o.prober = std::shared_ptr<Prober>(std::move(prober.value()));
  }
  auto g = Guard::open(guard.profile, std::move(o));
  if (!g.ok()) return report_error(g.status());
  std::unique_ptr<Reference> ref = verify ? make_cpu_reference(g->device_name()) : nullptr;
  std::vector<Outcome> outcomes;
  for (const Problem& p : *ps) {
    Route route;
    const ProbeResult r = run_one(*g, p, ref.get(), &route);
    print(r, route, json);
    outcomes.push_back(r.outcome);
  }
  return exit_code_for(outcomes, false);
}

}  // namespace convguard::cli
