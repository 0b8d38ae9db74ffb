// `convguard shrink`: from a failing problem to a smallest one that fails the same way,
// through the store (stored results are reused) and isolated workers.
#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/cli_isolation.h"
#include "search/repro.h"
#include "search/shrink.h"
#include "convguard/store.h"
#include "convguard/sweep.h"

namespace convguard::cli {
namespace {

struct ShrinkArgs : StoreCommandArgs {
  int max_probes = 200;
  bool any_phase = false, json = false;
};

Result<ProbeRequest> the_request(const ShrinkArgs& a) {
  auto ps = a.problems.problems();
  if (!ps.ok()) return ps.status();
  if (ps->size() != 1)
    return Status::Invalid(fmt::format("shrink takes one problem; {} given", ps->size()));
  if (a.problems.algos.size() != 1 || a.problems.algos[0] == "all")
    return Status::Invalid("shrink takes one --algo (not all)");
  return ProbeRequest{ps->front(), a.problems.algos[0]};
}

nlohmann::json stored_options(const ShrinkArgs& a, const ProbeRequest& rq) {
  nlohmann::json j = a.engine_json();
  j["shrink"] = {{"problem", key(rq.problem)}, {"algo", rq.algo}, {"max_probes", a.max_probes}};
  return j;
}

void print_summary(const ShrinkArgs& a, const ShrinkResult& r) {
  if (a.json) {
    fmt::print("{}\n", to_json(r).dump());
    return;
  }
  fmt::print("shrunk: {}\n    to: {}\n  ({}, {}) in {} probes{}\n", key(r.from), key(r.to),
             to_string(r.outcome), to_string(r.phase), r.probes,
             r.minimal ? "; no single-field smaller neighbour fails the same way"
                       : "; the probe budget ran out, so it may shrink further");
  for (const auto& s : r.steps) fmt::print("  {}\n", s);
  const EngineSpec& e = a.engine.spec;
  fmt::print("repro: {}\n", convguard_line(r.to, r.result, ReproContext{e.base, e.quirks_path, e.seed}));
}

int shrink_main(ShrinkArgs& a) {
  if (auto s = a.engine.check(); !s.ok()) return report_error(s);
  if (a.max_probes < 1)
    return report_error(Status::Invalid(fmt::format("invalid --max-probes={}: at least 1", a.max_probes)));
  auto rq = the_request(a);
  if (!rq.ok()) return report_error(rq.status());
  auto store = Store::open(a.db);
  if (!store.ok()) return report_error(store.status());
  SweepOptions so;
  so.rerun = a.rerun;
  auto inner = make_isolated_prober(a.engine, a.iso);
  if (!inner.ok()) return report_error(inner.status());
  const std::string command = fmt::format("convguard shrink --db {} --engine {} '{}'", a.db,
                                          a.engine.spec.name, key(rq->problem));
  auto sp = StoreProber::create(**store, **inner, command, stored_options(a, *rq).dump(), so);
  if (!sp.ok()) return report_error(sp.status());
  seed_speed_from_store(**inner, **store, **sp);
  ResultPrinter printer(a.json, false);
  PrintingProber shown(**sp, printer);
  ShrinkOptions opt;
  opt.max_probes = a.max_probes;
  opt.algo = rq->algo;
  opt.same_phase = !a.any_phase;
  auto r = shrink(shown, rq->problem, opt);
  printer.finish();
  if (auto s = (*sp)->finish(r.ok() ? RunStatus::done : RunStatus::failed); !s.ok() && r.ok())
    return report_error(s);
  if (!r.ok()) return report_error(r.status());
  print_summary(a, *r);
  return kExitNotOk;  // a shrink always ends at a failing problem
}

}  // namespace

Command shrink_command() {
  return {"shrink",
          "From a failing problem, find a smallest problem that fails the same way "
          "(deterministic, bounded number of probes)",
          [](CLI::App& sub) -> std::function<int()> {
            auto a = std::make_shared<ShrinkArgs>();
            a->add_to(sub);
            sub.add_option("--max-probes", a->max_probes, "probe budget, the first probe included")
                ->capture_default_str();
            sub.add_flag("--any-phase", a->any_phase,
                         "accept the same outcome in another phase (a hang in prepare for one "
                         "in execute)");
            sub.add_flag("--json", a->json, "JSON lines: every probe, then the summary");
            return [a] { return shrink_main(*a); };
          }};
}

}  // namespace convguard::cli
