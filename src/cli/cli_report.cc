// `convguard report`: the store as markdown in the seed's form, JSON lines, or one
// self-contained HTML page with heat maps; --compare puts two runs side by side. Boundaries
// are the stored conclusions of `convguard boundary`, derived from probes only without any.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "report/compare.h"
#include "report/conclusions.h"
#include "report/report_md.h"
#include "report/report_html.h"
#include "convguard/store.h"

namespace convguard::cli {
namespace {

struct ReportArgs {
  std::string db, format = "md", engine, title = "convguard report", out;
  std::string x_axis = "ih", y_axis = "ic";
  std::vector<std::string> compare;
  int64_t run = 0;
};

// The latest probe per (problem, engine, algo) over every fingerprint, oldest first.
Result<std::vector<StoredProbe>> latest_probes(Store& store, const ReportArgs& a) {
  ProbeFilter f;
  if (a.run) f.run_id = a.run;
  f.engine = a.engine;
  auto ps = store.list_probes(f);
  if (!ps.ok()) return ps.status();
  std::stable_sort(ps->begin(), ps->end(),
                   [](const StoredProbe& x, const StoredProbe& y) { return x.id < y.id; });
  std::map<std::tuple<std::string, std::string, std::string>, size_t> at;
  std::vector<StoredProbe> out;
  for (auto& p : *ps) {
    auto [it, fresh] = at.try_emplace({p.result.problem, p.result.engine, p.result.algo}, out.size());
    if (fresh) out.push_back(std::move(p));
    else out[it->second] = std::move(p);
  }
  return out;
}

// Facts and repro context from the newest run that recorded one of the probes.
void describe_runs(Store& store, const std::vector<StoredProbe>& ps, ReportInput& in) {
  int64_t newest = 0;
  for (const auto& p : ps) newest = std::max(newest, p.run_id);
  if (newest == 0) return;
  auto run = store.get_run(newest);
  if (!run.ok()) return;
  auto fp = nlohmann::json::parse(run->fingerprint_json, nullptr, false);
  if (fp.is_object())
    for (const auto& [k, v] : fp.items()) in.facts[k] = v.is_string() ? v.get<std::string>() : v.dump();
  in.facts["probed with"] = run->engine;
  in.facts["last run"] = run->command;
  in.repro = repro_context_from_run(run->options_json, run->command);
}

std::string json_lines(const std::vector<StoredProbe>& ps) {
  std::string s;
  for (const auto& p : ps) {
    auto j = to_json(p.result);
    j["id"] = p.id;  // what `repro --probe` takes
    j["run"] = p.run_id;
    s += j.dump() + "\n";
  }
  return s;
}

int html_report(Store& store, const ReportArgs& a) {
  HtmlReportOptions o;
  o.title = a.title;
  o.engine = a.engine;
  o.x_axis = a.x_axis;
  o.y_axis = a.y_axis;
  if (a.run) o.run_id = a.run;
  Status s = write_html_report(store, o, a.out.empty() ? "-" : a.out);
  return s.ok() ? kExitOk : report_error(s);
}

int report_main(const ReportArgs& a) {
  if (a.format != "md" && a.format != "json" && a.format != "html")
    return report_error(
        Status::Invalid(fmt::format("invalid --format={}: expected md, json or html", a.format)));
  if (!a.compare.empty()) {
    if (a.format == "html")
      return report_error(Status::Invalid("invalid --format=html with --compare: use md or json"));
    Status s = write_comparison(a.compare[0], a.compare[1], a.db, a.format == "json", a.out);
    return s.ok() ? kExitOk : report_error(s);
  }
  if (a.db.empty()) return report_error(Status::Invalid("--db FILE is required"));
  auto store = Store::open(a.db, Store::Mode::read_only);
  if (!store.ok()) return report_error(store.status());
  // Every format: a run that is not there is a mistake, not an empty report.
  if (a.run != 0)
    if (auto run = (*store)->get_run(a.run); !run.ok()) return report_error(run.status());
  if (a.format == "html") return html_report(**store, a);
  auto ps = latest_probes(**store, a);
  if (!ps.ok()) return report_error(ps.status());
  ReportInput in;
  for (const auto& p : *ps) in.probes.push_back(p.result);
  ConclusionFilter cf;
  if (a.run) cf.run_id = a.run;
  cf.engine = a.engine;
  auto bs = load_report_boundaries(**store, cf, in.probes);
  if (!bs.ok()) return report_error(bs.status());
  std::string text;
  if (a.format == "json") {
    text = json_lines(*ps) + boundary_json_lines(*bs);
  } else {
    in.title = a.title;
    describe_runs(**store, *ps, in);
    in.boundary_source = bs->source;
    for (const auto& b : bs->boundaries) in.boundaries.push_back(b.result);
    text = report_markdown(in);
  }
  if (a.out.empty()) {
    fmt::print("{}", text);
    return kExitOk;
  }
  std::ofstream f(a.out);
  f << text;
  if (!f.good()) return report_error(Status::Io(fmt::format("cannot write {}", a.out)));
  return kExitOk;
}

}  // namespace

Command report_command() {
  return {"report", "The stored probes as markdown in the seed's form, JSON lines or an HTML page with heat maps; --compare two runs",
          [](CLI::App& sub) -> std::function<int()> {
            auto a = std::make_shared<ReportArgs>();
            sub.add_option("--db", a->db, "the store (SQLite file)");
            sub.add_option("--format", a->format, "md, json or html")->capture_default_str();
            sub.add_option("--compare", a->compare,
                           "two runs side by side: ID, latest, FILE or FILE:ID each")
                ->expected(2);
            sub.add_option("--x-axis", a->x_axis, "html heat maps: horizontal field")
                ->capture_default_str();
            sub.add_option("--y-axis", a->y_axis, "html heat maps: vertical field")
                ->capture_default_str();
            sub.add_option("--run", a->run, "only the probes of this run");
            sub.add_option("--engine", a->engine, "only the probes of this engine");
            sub.add_option("--title", a->title, "the markdown title")->capture_default_str();
            sub.add_option("-o,--out", a->out, "write to this file instead of stdout");
            return [a] { return report_main(*a); };
          }};
}

}  // namespace convguard::cli
