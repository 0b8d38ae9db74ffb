// `convguard boundary`: where along one axis a problem stops working, through the store
// (stored results are reused) and isolated workers; --over maps a frontier.
#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/cli_isolation.h"
#include "search/boundary.h"
#include "report/conclusions.h"
#include "convguard/store.h"
#include "convguard/sweep.h"

namespace convguard::cli {
namespace {

struct BoundaryArgs : StoreCommandArgs {
  std::string axis, over;
  std::vector<std::string> tie;
  int repeats = 2, spot_checks = 2, max_probes = 64;
  bool json = false;
};

// The base problem; a descriptor may leave out the axis (and --over) field, which the
// search sets anyway: it is filled with the range's low end.
Result<Problem> base_problem(const BoundaryArgs& a, const Axis& axis, const std::string& over_field) {
  ProblemArgs pa = a.problems;
  for (auto& d : pa.descriptors) {
    if (parse_problem(d).ok()) continue;
    d += fmt::format("{}{}", axis.field, axis.lo);
    if (!over_field.empty() && !parse_problem(d).ok()) d += over_field + "1";
  }
  auto ps = pa.problems();
  if (!ps.ok()) return ps.status();
  if (ps->size() != 1)
    return Status::Invalid(fmt::format("boundary takes one problem; {} given", ps->size()));
  if (pa.algos.size() != 1 || pa.algos[0] == "all")
    return Status::Invalid("boundary takes one --algo (not all)");
  return ps->front();
}

nlohmann::json stored_options(const BoundaryArgs& a, const Problem& base) {
  nlohmann::json j = a.engine_json();
  j["boundary"] = {{"problem", key(base)}, {"axis", a.axis},   {"tie", a.tie},
                   {"over", a.over},       {"repeats", a.repeats}, {"algo", a.problems.algos[0]}};
  return j;
}

std::string describe(const BoundaryArgs& a) {
  std::string c = fmt::format("convguard boundary --db {} --engine {} --axis {}", a.db,
                              a.engine.spec.name, a.axis);
  for (const auto& t : a.tie) c += " --tie " + t;
  if (!a.over.empty()) c += " --over " + a.over;
  for (const auto& d : a.problems.descriptors) c += " '" + d + "'";
  return c;
}

Result<BoundaryOptions> search_options(const BoundaryArgs& a) {
  auto axis = parse_axis(a.axis);
  if (!axis.ok()) return axis.status();
  // As shrink: a budget of no probes would conclude from nothing.
  if (a.max_probes < 1)
    return Status::Invalid(fmt::format("invalid --max-probes={}: at least 1", a.max_probes));
  BoundaryOptions o;
  o.axis = *axis;
  o.tie = a.tie;
  o.repeats = a.repeats;
  o.spot_checks = a.spot_checks;
  o.max_probes = a.max_probes;
  o.parallel = a.iso.jobs;  // one bisection point per worker
  o.algo = a.problems.algos.empty() ? "default" : a.problems.algos[0];
  return o;
}

// What the store holds for this engine and fingerprint (a sweep's results, an earlier
// boundary's): the search starts from the evidence on its line rather than from the ends.
Result<std::vector<ProbeResult>> stored_results(Store& store, const StoreProber& run) {
  ProbeFilter f;
  f.engine = run.engine_name();
  f.fingerprint_hash = run.fingerprint_hash();
  auto stored = store.list_probes(f);
  if (!stored.ok()) return stored.status();
  std::vector<ProbeResult> out;
  out.reserve(stored->size());
  for (StoredProbe& sp : *stored) out.push_back(std::move(sp.result));
  return out;
}

// Each boundary's conclusion, in one transaction, so that reports print what was concluded
// here rather than deriving it again from the probes.
Status keep_conclusions(Store& store, StoreProber& run, const Problem& base,
                        const std::string& algo, const std::vector<BoundaryResult>& rs) {
  std::vector<StoredConclusion> cs;
  for (const auto& r : rs)
    cs.push_back(conclusion_of(r, base, algo, run.engine_name(), run.fingerprint_hash()));
  return store.record_conclusions(run.run_id(), cs).status();
}

int print_results(const std::vector<BoundaryResult>& rs, bool json, ResultPrinter& printer) {
  printer.finish();
  for (const auto& r : rs) {
    if (json) fmt::print("{}\n", to_json(r).dump());
    else fmt::print("{}\n", summary_line(r));
  }
  return exit_code_for(printer.outcomes());
}

int boundary_main(BoundaryArgs& a) {
  if (auto s = a.engine.check(); !s.ok()) return report_error(s);
  auto opt = search_options(a);
  if (!opt.ok()) return report_error(opt.status());
  std::pair<std::string, std::vector<int64_t>> over;
  if (!a.over.empty()) {
    auto o = parse_over(a.over);
    if (!o.ok()) return report_error(o.status());
    over = *o;
  }
  auto base = base_problem(a, opt->axis, over.first);
  if (!base.ok()) return report_error(base.status());
  auto store = Store::open(a.db);
  if (!store.ok()) return report_error(store.status());
  SweepOptions so;
  so.rerun = a.rerun;
  auto inner = make_isolated_prober(a.engine, a.iso);
  if (!inner.ok()) return report_error(inner.status());
  const std::string options = stored_options(a, *base).dump();
  auto main = StoreProber::create(**store, **inner, describe(a), options, so);
  if (!main.ok()) return report_error(main.status());
  seed_speed_from_store(**inner, **store, **main);
  if (!a.rerun) {
    auto stored = stored_results(**store, **main);
    if (!stored.ok()) return report_error(stored.status());
    opt->stored = std::move(*stored);
  }
  // Confirmations must execute again: a second run that never reuses stored results.
  SweepOptions again;
  again.rerun = true;
  auto repeat = StoreProber::create(**store, **inner, describe(a) + " (confirmations)", options, again);
  if (!repeat.ok()) return report_error(repeat.status());
  ResultPrinter printer(a.json, false);
  PrintingProber shown(**main, printer), shown_again(**repeat, printer);
  opt->repeat_prober = &shown_again;
  auto rs = over.first.empty() ? map_frontier(shown, *base, *opt, "", {})
                               : map_frontier(shown, *base, *opt, over.first, over.second);
  const Status kept =
      rs.ok() ? keep_conclusions(**store, **main, *base, opt->algo, *rs) : Status::Ok();
  const RunStatus end = rs.ok() && kept.ok() ? RunStatus::done : RunStatus::failed;
  (void)(*repeat)->finish(end);
  if (auto s = (*main)->finish(end); !s.ok() && rs.ok()) return report_error(s);
  if (!rs.ok()) {
    printer.finish();
    return report_error(rs.status());
  }
  const int code = print_results(*rs, a.json, printer);
  return kept.ok() ? code : report_error(kept);
}

}  // namespace

Command boundary_command() {
  return {"boundary",
          "Find where along one axis (e.g. ih=8:512) a problem starts to fail, by checked "
          "bisection; --over maps a frontier",
          [](CLI::App& sub) -> std::function<int()> {
            auto a = std::make_shared<BoundaryArgs>();
            a->add_to(sub);
            // Here --repeats confirms the boundary pair; timed repetitions do not matter.
            sub.remove_option(sub.get_option("--repeats"));
            sub.add_option("--axis", a->axis, "FIELD=LO:HI[:STEP], e.g. ih=8:512:2")->required();
            sub.add_option("--tie", a->tie, "fields that follow the axis, e.g. iw")
                ->delimiter(',')
                ->allow_extra_args(false);
            sub.add_option("--over", a->over, "one boundary per value, e.g. ic=8,16,32,64")
                ->allow_extra_args(false);
            sub.add_option("--repeats", a->repeats,
                           "times each side of the boundary is probed in all (2+ confirms)")
                ->capture_default_str();
            sub.add_option("--spot-checks", a->spot_checks,
                           "extra probes away from the boundary that test monotony")
                ->capture_default_str();
            sub.add_option("--max-probes", a->max_probes, "probe budget per boundary")
                ->capture_default_str();
            sub.add_flag("--json", a->json, "JSON lines: every probe, then one summary per boundary");
            return [a] { return boundary_main(*a); };
          }};
}

}  // namespace convguard::cli
