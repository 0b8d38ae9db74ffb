// The HTML report page: summary, heat maps, repro lines and the table of probes.
// Every string that came from a user, a library or a store goes through html_escape (or
// script_safe_json inside <script>): problem names, messages, stderr tails, fingerprints.
#include "report/report_html.h"

#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "report/compare.h"
#include "report/conclusions.h"
#include "search/repro.h"
#include "report/heatmap.h"
#include "report/report_assets.h"

namespace convguard {
namespace {

using report::HeatMap;
using report::html_escape;

// Boundary repro lines listed at most; beyond this the table still has every line.
constexpr size_t kMaxReproListed = 300;

std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string utc_time(int64_t ms) {
  if (ms <= 0) return "-";
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string descriptor_of(const std::string& key) { return key.substr(key.rfind(' ') + 1); }

std::string outcome_badge(Outcome o) {
  return fmt::format("<span class=\"badge outcome-{0}\">{0}</span>", to_string(o));
}

std::string counts_badges(const std::vector<const ProbeResult*>& results) {
  std::map<Outcome, int> counts;
  for (const auto* r : results) ++counts[r->outcome];
  std::string out;
  for (auto [o, n] : counts)
    out += fmt::format("<span class=\"count\">{} <b>{}</b></span> ", outcome_badge(o), n);
  return out.empty() ? "no probes" : out;
}

std::string fingerprint_table(const RunInfo& run) {
  auto fp = parse_fingerprint(run);
  if (!fp.ok()) return "<p class=\"note\">" + html_escape(fp.status().message()) + "</p>";
  std::string out = "<table class=\"kv\"><tbody>";
  for (const auto& [k, v] : *fp)
    out += fmt::format("<tr><th>{}</th><td>{}</td><td class=\"kind\">{}</td></tr>", html_escape(k),
                       html_escape(v), fingerprint_category(k));
  return out + "</tbody></table>";
}

std::vector<const ProbeResult*> results_of(const std::vector<StoredProbe>& probes,
                                           std::optional<int64_t> run_id) {
  std::vector<const ProbeResult*> out;
  for (const auto& p : probes)
    if (!run_id || p.run_id == *run_id) out.push_back(&p.result);
  return out;
}

std::string runs_table(const ReportData& d) {
  std::string out = "<table class=\"runs\"><thead><tr><th>run</th><th>label</th><th>engine</th>"
                    "<th>status</th><th>started</th><th>fingerprint</th><th>outcomes</th></tr>"
                    "</thead><tbody>\n";
  for (const auto& run : d.runs)
    out += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href=\"#fp-{}\">"
        "<code>{}</code></a></td><td>{}</td></tr>\n",
        run.id, html_escape(run_label(run)), html_escape(run.engine), to_string(run.status),
        utc_time(run.started_ms), run.id, html_escape(run.fingerprint_hash),
        counts_badges(results_of(d.probes, run.id)));
  return out + "</tbody></table>\n";
}

std::string fingerprint_section(const RunInfo& run) {
  return fmt::format(
      "<details class=\"run\" id=\"fp-{}\" open><summary><b>{}</b> &middot; run {} &middot; "
      "fingerprint <code>{}</code></summary>\n<p>command: <code class=\"wrap\">{}</code></p>{}"
      "</details>\n",
      run.id, html_escape(run_label(run)), run.id, html_escape(run.fingerprint_hash),
      html_escape(run.command), fingerprint_table(run));
}

std::string conclusion_status(const BoundaryResult& r) {
  std::string s = r.confirmed ? "confirmed" : "not confirmed";
  if (r.flaky) s += ", flaky";
  if (r.non_monotonic) s += ", non-monotonic";
  for (const auto& n : r.notes) s += "; " + n;
  return html_escape(s);
}

std::string conclusion_row(const ReportBoundary& b) {
  const BoundaryResult& r = b.result;
  std::string axis = r.axis;
  for (const auto& t : r.tie) axis += "=" + t;
  auto at = [&](const std::optional<int64_t>& v) {
    return v ? html_escape(axis) + "=" + std::to_string(*v) : std::string("none");
  };
  return fmt::format(
      "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
      "<td>{}</td></tr>\n",
      b.stored->run_id, html_escape(descriptor_of(b.stored->problem)), at(r.largest_ok),
      at(r.first_failing), r.first_failing ? outcome_badge(r.outcome) : "", r.probes,
      conclusion_status(r));
}

// What `convguard boundary` concluded, as it said it (confirmed or not).
std::string conclusions_table(const std::vector<StoredConclusion>& cs) {
  auto read = read_conclusions(cs);
  if (!read.ok()) return "<p class=\"note\">" + html_escape(read.status().message()) + "</p>\n";
  std::string rows;
  for (const auto& b : *read) rows += conclusion_row(b);
  return "<table class=\"boundaries\"><thead><tr><th>run</th><th>line</th><th>largest ok</th>"
         "<th>first failing</th><th>outcome</th><th>probes</th><th>conclusion</th></tr></thead>"
         "<tbody>\n" + rows + "</tbody></table>\n";
}

std::string boundaries_section(const std::vector<HeatMap>& maps,
                               const std::vector<StoredConclusion>& conclusions) {
  if (!conclusions.empty()) return conclusions_table(conclusions);
  std::string rows;
  for (const auto& m : maps)
    for (const auto& b : report::row_boundaries(m))
      rows += fmt::format(
          "<tr><td>{}</td><td>{}={}</td><td>{}</td><td>{}={}</td><td>{}</td></tr>\n",
          html_escape(b.map_title), html_escape(m.y_axis), b.y,
          b.largest_ok ? html_escape(m.x_axis) + "=" + std::to_string(*b.largest_ok) : "none",
          html_escape(m.x_axis), b.first_failing, outcome_badge(b.outcome));
  if (rows.empty()) return "<p>No failures: no boundary to show.</p>\n";
  return "<p class=\"note\">No boundary conclusion is stored for these probes: these are "
         "derived from probes (the first failing cell of each heat-map row), not confirmed.</p>\n"
         "<table class=\"boundaries\"><thead><tr><th>map</th><th>row</th><th>largest ok</th>"
         "<th>first failing</th><th>outcome</th></tr></thead><tbody>\n" +
         rows + "</tbody></table>\n";
}

std::string maps_section(const std::vector<HeatMap>& maps) {
  std::string out = report::legend_html() + "<div class=\"maps\">\n";
  for (const auto& m : maps)
    out += fmt::format("<figure class=\"map\"><figcaption>{}{}</figcaption>\n{}</figure>\n",
                       html_escape(m.title),
                       m.merged ? " <span class=\"note\">(cells hold several problems: worst "
                                  "outcome shown)</span>"
                                : "",
                       report::heatmap_svg(m));
  return out + "</div>\n";
}

std::string copy_line(const std::string& text) {
  return "<div class=\"line\"><code>" + html_escape(text) +
         "</code><button class=\"copy\" type=\"button\">copy</button></div>";
}

// The table's compact form: the line stays in the DOM (the button copies it) and shows
// as the button's tooltip.
std::string copy_button(const std::string& text) {
  const std::string t = html_escape(text);
  return "<div class=\"line\"><code>" + t + "</code><button class=\"copy\" type=\"button\" title=\"" +
         t + "\">copy</button></div>";
}

using Contexts = std::map<int64_t, ReproContext>;

// How each run built its engine (sim's base and quirk file), for the repro lines.
Contexts contexts_by_run(const std::vector<RunInfo>& runs) {
  Contexts out;
  for (const auto& r : runs) out[r.id] = repro_context_from_run(r.options_json, r.command);
  return out;
}

ReproContext context_of(const Contexts& contexts, int64_t run_id) {
  auto it = contexts.find(run_id);
  return it == contexts.end() ? ReproContext{} : it->second;
}

std::string repro_entry(const StoredProbe& sp, const Contexts& contexts, const std::string& where) {
  const ProbeResult& r = sp.result;
  auto p = problem_of(r);
  if (!p.ok()) return "";
  const ReproContext ctx = context_of(contexts, sp.run_id);
  return fmt::format("<div class=\"repro\"><p>{} {} <code>{}</code> {} {}</p>{}{}{}</div>\n",
                     outcome_badge(r.outcome), html_escape(where),
                     html_escape(descriptor_of(r.problem)), html_escape(r.algo),
                     html_escape(r.name), copy_line(convguard_line(*p, r, ctx)),
                     copy_line(benchdnn_line(*p, r, ctx)), copy_line(miopen_line(*p, r, ctx)));
}

// The first failing problem of each heat-map row: the smallest reproducer a bug report
// needs. Every probe's line is in the table as well.
std::string repro_section(const ReportData& d, const std::vector<HeatMap>& maps) {
  const Contexts contexts = contexts_by_run(d.runs);
  std::string out;
  std::set<size_t> listed;
  for (const auto& m : maps)
    for (const auto& b : report::row_boundaries(m)) {
      if (!listed.insert(b.probe).second || listed.size() > kMaxReproListed) continue;
      out += repro_entry(d.probes[b.probe], contexts,
                         fmt::format("{}, {}={}, first failing {}={}:", m.title, m.y_axis, b.y,
                                     m.x_axis, b.first_failing));
    }
  if (out.empty()) return "<p>No failing probes.</p>\n";
  return "<p class=\"note\">The first failing problem of each heat-map row; the table below "
         "has a repro line for every probe.</p>\n" + out;
}

std::string convguard_repro(const StoredProbe& sp, const Contexts& contexts) {
  auto p = problem_of(sp.result);
  return p.ok() ? copy_button(convguard_line(*p, sp.result, context_of(contexts, sp.run_id))) : "";
}

// Error over the class's bound, with the class; "inexact" marks an ok that is not exact.
std::string bound_cell(const ProbeResult& r) {
  if (r.err_class.empty()) return "";
  return fmt::format("{:.3g} ({}{})", r.err_ratio, html_escape(r.err_class),
                     r.inexact ? ", inexact" : "");
}

std::string probe_row(const StoredProbe& p, const HtmlReportOptions& opt, const Contexts& contexts) {
  const ProbeResult& r = p.result;
  auto x = problem_field(r.problem, opt.x_axis), y = problem_field(r.problem, opt.y_axis);
  std::string detail = html_escape(r.message);
  if (!r.stderr_tail.empty())
    detail += "<details><summary>stderr</summary><pre>" + html_escape(r.stderr_tail) + "</pre></details>";
  return fmt::format(
      "<tr data-outcome=\"{0}\" data-failure=\"{1}\"><td data-v=\"{2}\">{2}</td>"
      "<td data-v=\"{3}\">{3}</td><td data-v=\"{4}\">{4}</td><td class=\"problem\"><code>{5}</code>"
      "<div class=\"name\">{6}</div></td><td>{7}</td><td>{8}</td><td>{9}</td><td>{10}</td>"
      "<td data-v=\"{0}\">{11}</td><td>{12}</td><td data-v=\"{13}\">{13:.3f}</td>"
      "<td data-v=\"{14}\">{14:.3g}</td><td data-v=\"{17}\">{18}</td><td class=\"msg\">{15}</td>"
      "<td class=\"repro-cell\">{16}</td></tr>\n",
      to_string(r.outcome), report::is_failure(r.outcome) ? 1 : 0, p.run_id,
      x.ok() ? std::to_string(*x) : "", y.ok() ? std::to_string(*y) : "",
      html_escape(descriptor_of(r.problem)), html_escape(r.name), html_escape(r.engine),
      html_escape(r.algo), to_string(r.dir), to_string(r.dt), outcome_badge(r.outcome),
      to_string(r.phase), r.time_ms, r.max_rel_err, detail, convguard_repro(p, contexts),
      r.err_ratio, bound_cell(r));
}

std::string table_section(const ReportData& d, const HtmlReportOptions& opt) {
  const Contexts contexts = contexts_by_run(d.runs);
  std::map<Outcome, int> present;
  for (const auto& p : d.probes) ++present[p.result.outcome];
  std::string select = "<option value=\"\">all outcomes</option>";
  for (auto [o, n] : present)
    select += fmt::format("<option value=\"{0}\">{0} ({1})</option>", to_string(o), n);
  std::string out = fmt::format(
      "<div class=\"controls\"><input id=\"filter\" type=\"search\" placeholder=\"filter: any "
      "text in a row\" aria-label=\"filter rows\"><select id=\"outcome-filter\" "
      "aria-label=\"outcome\">{}</select><label><input id=\"failing-only\" type=\"checkbox\"> "
      "failing only</label><span id=\"shown\"></span></div>\n",
      select);
  out += "<div class=\"table-wrap\"><table id=\"probes\" class=\"probes\"><thead><tr>";
  const std::vector<std::string> heads = {
      "run",     opt.x_axis, opt.y_axis, "problem",     "engine",    "algo",    "dir",  "dt",
      "outcome", "phase",    "time ms",  "max rel err", "err/bound", "message", "repro"};
  for (const auto& h : heads)
    out += "<th><button type=\"button\" class=\"sort\">" + html_escape(h) + "</button></th>";
  out += "</tr></thead><tbody>\n";
  for (const auto& p : d.probes)
    out += probe_row(p, opt, contexts);
  return out + "</tbody></table></div>\n";
}

std::string embedded_data(const ReportData& d) {
  nlohmann::json runs = nlohmann::json::array(), probes = nlohmann::json::array();
  for (const auto& r : d.runs) {
    auto fp = nlohmann::json::parse(r.fingerprint_json, nullptr, false);
    runs.push_back({{"id", r.id}, {"label", run_label(r)}, {"command", r.command},
                    {"engine", r.engine}, {"status", to_string(r.status)},
                    {"fingerprint_hash", r.fingerprint_hash},
                    {"fingerprint", fp.is_discarded() ? nlohmann::json(r.fingerprint_json) : fp}});
  }
  for (const auto& p : d.probes) {
    nlohmann::json j = to_json(p.result);
    j["run"] = p.run_id;
    probes.push_back(std::move(j));
  }
  nlohmann::json all = {{"runs", runs}, {"probes", probes}};
  return "<script type=\"application/json\" id=\"convguard-data\">" +
         script_safe_json(dump_json(all)) + "</script>\n";
}

std::string page(const ReportData& d, const HtmlReportOptions& opt, const std::vector<HeatMap>& maps) {
  std::string fingerprints;
  for (const auto& r : d.runs) fingerprints += fingerprint_section(r);
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>" + html_escape(opt.title) + "</title>\n<style>\n" +
                    std::string(report::kPageCss) + report::outcome_css() + "</style></head>\n<body>\n";
  out += "<header><h1>" + html_escape(opt.title) + "</h1><p class=\"sub\">" +
         fmt::format("{} probes in {} run(s); heat maps of {} against {}.", d.probes.size(),
                     d.runs.size(), html_escape(opt.x_axis), html_escape(opt.y_axis)) +
         "</p></header>\n<main>\n";
  out += "<section id=\"summary\"><h2>Summary</h2><p class=\"counts\">" +
         counts_badges(results_of(d.probes, std::nullopt)) + "</p>\n" + runs_table(d) +
         "<h3>Boundaries found</h3>\n" + boundaries_section(maps, d.conclusions) +
         "</section>\n";
  out += "<section id=\"maps\"><h2>Heat maps</h2>\n" + maps_section(maps) + "</section>\n";
  out += "<section id=\"repro\"><h2>Failures: repro lines</h2>\n" + repro_section(d, maps) + "</section>\n";
  out += "<section id=\"table\"><h2>Probes</h2>\n" + table_section(d, opt) + "</section>\n";
  out += "<section id=\"fingerprints\"><h2>Fingerprints</h2>\n" + fingerprints + "</section>\n";
  out += "</main>\n" + embedded_data(d) + "<script>\n" + std::string(report::kPageJs) +
         "</script>\n</body></html>\n";
  return out;
}

}  // namespace

std::string script_safe_json(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '<') out += "\\u003c";
    else if (c == '>') out += "\\u003e";
    else if (c == '&') out += "\\u0026";
    else if (c == '\xE2' && i + 2 < json.size() && json[i + 1] == '\x80' &&
             (json[i + 2] == '\xA8' || json[i + 2] == '\xA9')) {
      out += json[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

Result<int64_t> problem_field(std::string_view problem_key, std::string_view field) {
  auto p = parse_problem(problem_key);
  if (!p.ok()) return p.status();
  auto v = report::shape_field(*p, field);
  if (!v) return Status::Invalid("invalid field '" + std::string(field) + "': not a shape field");
  return *v;
}

Result<ReportData> load_report_data(Store& store, std::optional<int64_t> run_id,
                                    const std::string& engine) {
  ReportData d;
  if (run_id) {
    auto run = store.get_run(*run_id);
    if (!run.ok()) return Status::Invalid(fmt::format("invalid --run={}: {}", *run_id, run.status().message()));
    d.runs.push_back(*run);
  } else {
    auto runs = store.list_runs();
    if (!runs.ok()) return runs.status();
    d.runs = std::move(*runs);
  }
  ProbeFilter f;
  f.run_id = run_id;
  f.engine = engine;
  auto probes = store.list_probes(f);
  if (!probes.ok()) return probes.status();
  d.probes = std::move(*probes);
  ConclusionFilter cf;
  cf.run_id = run_id;
  cf.engine = engine;
  cf.kind = "boundary";
  auto conclusions = store.list_conclusions(cf);
  if (!conclusions.ok()) return conclusions.status();
  d.conclusions = std::move(*conclusions);
  return d;
}

Result<std::string> render_html_report(const ReportData& data, const HtmlReportOptions& opt) {
  auto maps = report::build_heatmaps(data.probes, opt.x_axis, opt.y_axis);
  if (!maps.ok()) return maps.status();
  return page(data, opt, *maps);
}

Status write_html_report(Store& store, const HtmlReportOptions& opt, const std::string& out_path) {
  auto data = load_report_data(store, opt.run_id, opt.engine);
  if (!data.ok()) return data.status();
  auto html = render_html_report(*data, opt);
  if (!html.ok()) return html.status();
  if (out_path == "-") {
    std::cout << *html << std::flush;
    return std::cout ? Status::Ok() : Status::Io("cannot write the report to stdout");
  }
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  out << *html;
  out.close();
  if (!out) return Status::Io("cannot write the report to " + out_path);
  return Status::Ok();
}

}  // namespace convguard
