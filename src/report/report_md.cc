#include "report/report_md.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "report/markdown.h"
#include "search/grid.h"

namespace convguard {
namespace {

// One row: a probe and the problem it names.
struct Row {
  ProbeResult r;
  Problem p;
};

using report::md_cell;
using report::md_code;

std::string seconds(double ms) {
  if (ms <= 0) return "—";
  return fmt::format("{:.3g}s", ms / 1000.0);
}

std::string result_text(const ProbeResult& r) {
  const char* ph = to_string(r.phase);
  switch (r.outcome) {
    case Outcome::ok:
      return r.inexact ? fmt::format("✅ ok, inexact ({}: max rel err {:.3g}, {:.2g} of its bound)",
                                     r.err_class, r.max_rel_err, r.err_ratio)
                       : "✅ ok";
    case Outcome::unsupported: return "➖ unsupported";
    case Outcome::hang: return fmt::format("⏱️ HANG ({})", ph);
    case Outcome::crash:
      return r.signal ? fmt::format("💥 CRASH ({}, signal {})", ph, r.signal)
                      : fmt::format("💥 CRASH ({})", ph);
    case Outcome::wrong:
      return r.err_class.empty() ? fmt::format("❌ WRONG (max rel err {:.3g})", r.max_rel_err)
                                 : fmt::format("❌ WRONG (max rel err {:.3g}, {:.3g}x the {} bound)",
                                               r.max_rel_err, r.err_ratio, r.err_class);
    case Outcome::oob: return "❌ OOB (wrote outside the output)";
    case Outcome::error: return fmt::format("⚠️ ERROR ({})", md_cell(r.message.substr(0, 80)));
    case Outcome::wedged: return fmt::format("🧊 WEDGED ({})", ph);
    case Outcome::suspect: return "❓ SUSPECT (in flight when the harness died)";
    case Outcome::invalid: return fmt::format("INVALID ({})", md_cell(r.message.substr(0, 80)));
  }
  return "?";
}

// Attributes beyond channels and size; those that differ between rows get a column.
std::vector<std::pair<std::string, std::string>> attributes(const Row& row) {
  const Problem& p = row.p;
  std::vector<std::pair<std::string, std::string>> a = {
      {"dir", to_string(p.dir)}, {"dt", to_string(p.dt)}, {"layout", to_string(p.layout)},
      {"engine", row.r.engine},  {"algo", row.r.algo},    {"name", p.name}};
  for (const char* f : {"g", "mb", "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw"}) {
    const std::string v = fmt::format("{}", *get_field(p, f));
    a.push_back({f, v});
  }
  return a;
}

std::vector<std::string> varying_attributes(const std::vector<Row>& rows) {
  std::vector<std::string> names;
  if (rows.empty()) return names;
  const auto first = attributes(rows.front());
  for (size_t i = 0; i < first.size(); ++i) {
    std::set<std::string> values;
    for (const Row& row : rows) values.insert(attributes(row)[i].second);
    // "default" is stored as the algorithm it resolved to once the engine got that far.
    if (first[i].first == "algo" && values.size() == 2 && values.count("default")) continue;
    if (values.size() > 1) names.push_back(first[i].first);
  }
  return names;
}

std::string other_text(const Row& row, const std::vector<std::string>& names) {
  std::string s;
  // An attribute this row lacks (an unnamed problem among named ones) says nothing.
  for (const auto& [k, v] : attributes(row))
    if (!v.empty() && std::find(names.begin(), names.end(), k) != names.end())
      s += (s.empty() ? "" : " ") + k + "=" + v;
  return md_cell(s);
}

std::string channels(const Problem& p) { return fmt::format("{}→{}", p.ic, p.oc); }
std::string size(const Problem& p) { return fmt::format("{}x{}", p.ih, p.iw); }

std::string table(const std::vector<Row>& rows, const std::vector<std::string>& other,
                  bool with_repro, const ReproContext& ctx) {
  std::string s = "| Channels | Size |";
  std::string rule = "|----------|------|";
  if (!other.empty()) {
    s += " Other |";
    rule += "-------|";
  }
  s += " Time | Result |";
  rule += "------|--------|";
  if (with_repro) {
    s += " Repro |";
    rule += "-------|";
  }
  s += "\n" + rule + "\n";
  for (const Row& row : rows) {
    s += fmt::format("| {} | {} |", channels(row.p), size(row.p));
    if (!other.empty()) s += " " + other_text(row, other) + " |";
    const double ms = row.r.wall_ms > 0 ? row.r.wall_ms : row.r.time_ms;
    s += fmt::format(" {} | {} |", seconds(ms), result_text(row.r));
    if (with_repro) {
      Problem unnamed = row.p;
      unnamed.name.clear();  // the key is enough to reproduce; names stay in "Other"
      s += " " + md_code(convguard_line(unnamed, row.r, ctx)) + " |";
    }
    s += "\n";
  }
  return s;
}

// "42x42" for a spatial axis, else "ic=16".
std::string at_value(const BoundaryResult& b, const std::optional<Problem>& p, int64_t v) {
  const bool spatial = b.axis == "ih" || b.axis == "iw";
  if (p && spatial) return size(*p);
  return fmt::format("{}={}", b.axis, v);
}

std::string boundary_line(const BoundaryResult& b, BoundarySource source) {
  std::string s = "- ";
  for (const auto& [f, v] : b.over) s += fmt::format("{}={}, ", f, v);
  const auto& any = b.failing_problem ? b.failing_problem : b.ok_problem;
  if (any) s += channels(*any) + ": ";
  if (b.flaky || b.non_monotonic) {
    s += "no boundary";
  } else {
    s += "largest ok: " + (b.largest_ok ? at_value(b, b.ok_problem, *b.largest_ok) : "none");
    s += ", first failing: ";
    s += b.first_failing ? fmt::format("{} ({}, {})", at_value(b, b.failing_problem, *b.first_failing),
                                       to_string(b.outcome), to_string(b.phase))
                         : "none";
  }
  // A derived boundary was never re-probed: it cannot be confirmed, and says why.
  const char* status = source == BoundarySource::derived ? "derived from probes, not confirmed"
                       : b.confirmed                     ? "confirmed"
                                                         : "not confirmed";
  s += fmt::format(" — {} probes, {}", b.probes, status);
  for (const auto& n : b.notes) s += "; " + md_cell(n);
  return s + "\n";
}

std::string facts_table(const ReportInput& in, const std::vector<Row>& rows) {
  std::map<std::string, int> counts;
  for (const Row& row : rows) ++counts[to_string(row.r.outcome)];
  std::string c;
  for (const auto& [k, n] : counts) c += (c.empty() ? "" : ", ") + fmt::format("{} {}", n, k);
  std::string s = "| | |\n|---|---|\n";
  for (const auto& [k, v] : in.facts) s += "| " + md_cell(k) + " | " + md_cell(v) + " |\n";
  s += fmt::format("| Probes | {} ({}) |\n", rows.size(), c.empty() ? "none" : c);
  return s;
}

}  // namespace

std::vector<ProbeResult> latest_per_probe(const std::vector<ProbeResult>& in) {
  std::vector<ProbeResult> out;
  std::map<std::tuple<std::string, std::string, std::string>, size_t> at;
  for (const ProbeResult& r : in) {
    auto [it, fresh] = at.try_emplace({r.problem, r.engine, r.algo}, out.size());
    if (fresh) out.push_back(r);
    else out[it->second] = r;
  }
  return out;
}

namespace {

// A stored line: the sizes probed for one problem shape, in size order.
struct SizeLine {
  Problem shape;  // any member, for channels
  std::map<int64_t, std::vector<const Row*>> by_size;
};

BoundaryResult judge_line(const SizeLine& line) {
  BoundaryResult b;
  b.axis = "ih";
  b.tie = {"iw"};
  const Row* first_fail = nullptr;
  std::optional<int64_t> top_ok;
  for (const auto& [size, rows] : line.by_size)
    for (const Row* row : rows) {
      b.probes++;
      if (row->r.outcome == Outcome::unsupported) continue;
      if (row->r.outcome == Outcome::ok) top_ok = size;
      else if (!first_fail) first_fail = row;
    }
  if (!first_fail) return b;
  b.outcome = first_fail->r.outcome;
  b.phase = first_fail->r.phase;
  if (top_ok && *top_ok > first_fail->p.ih) {
    b.non_monotonic = true;
    b.notes.push_back(fmt::format("non-monotonic: ok at {}x{} above a failure at {}", *top_ok,
                                  *top_ok, size(first_fail->p)));
    return b;
  }
  b.first_failing = first_fail->p.ih;
  b.failing_problem = first_fail->p;
  for (const auto& [sz, rows] : line.by_size)
    for (const Row* row : rows)
      if (sz < first_fail->p.ih && row->r.outcome == Outcome::ok) {
        b.largest_ok = sz;
        b.ok_problem = row->p;
      }
  return b;
}

std::vector<Row> rows_of(const std::vector<ProbeResult>& probes) {
  std::vector<Row> rows;
  for (const ProbeResult& r : latest_per_probe(probes)) {
    auto p = problem_of(r);
    if (p.ok()) rows.push_back({r, *p});
  }
  // Ties by key, engine and algorithm, not by recording order: workers finish in any
  // order, and a store merged from shards records in another, for the same report.
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::tie(a.p.ic, a.p.oc, a.p.ih, a.p.iw, a.r.problem, a.r.engine, a.r.algo) <
           std::tie(b.p.ic, b.p.oc, b.p.ih, b.p.iw, b.r.problem, b.r.engine, b.r.algo);
  });
  return rows;
}

}  // namespace

std::vector<BoundaryResult> boundaries_from_probes(const std::vector<ProbeResult>& probes) {
  const std::vector<Row> rows = rows_of(probes);
  auto shape_key = [](const Row& row) {
    Problem shape = row.p;
    shape.ih = shape.iw = shape.oh = shape.ow = 0;
    return key(shape) + " " + row.r.engine;
  };
  // A probe of "default" is stored under the algorithm the engine chose when it got that
  // far, and under "default" when it hung first: one named algorithm per shape is one line.
  std::map<std::string, std::set<std::string>> named;
  for (const Row& row : rows)
    if (row.r.algo != "default") named[shape_key(row)].insert(row.r.algo);
  std::map<std::string, SizeLine> lines;
  std::vector<std::string> order;
  for (const Row& row : rows) {
    if (row.p.ih != row.p.iw) continue;
    const std::string sk = shape_key(row);
    const std::string k = sk + (named[sk].size() > 1 ? " " + row.r.algo : "");
    auto [it, fresh] = lines.try_emplace(k);
    if (fresh) {
      it->second.shape = row.p;
      order.push_back(k);
    }
    it->second.by_size[row.p.ih].push_back(&row);
  }
  std::vector<BoundaryResult> out;
  for (const auto& k : order) {
    const SizeLine& line = lines[k];
    if (line.by_size.size() < 2) continue;
    BoundaryResult b = judge_line(line);
    if (b.first_failing || b.non_monotonic) out.push_back(std::move(b));
  }
  return out;
}

std::string report_markdown(const ReportInput& in) {
  const std::vector<Row> rows = rows_of(in.probes);
  const auto other = varying_attributes(rows);
  std::vector<Row> good, bad, unsupported;
  for (const Row& row : rows)
    (row.r.outcome == Outcome::ok            ? good
     : row.r.outcome == Outcome::unsupported ? unsupported
                                             : bad)
        .push_back(row);
  std::string s = "# " + md_cell(in.title) + "\n\n" + facts_table(in, rows) + "\n";
  s += "## ✅ WORKING configurations\n\n";
  s += good.empty() ? "None.\n" : table(good, other, false, in.repro);
  s += "\n## ⏱️ HANGING / FAILING configurations\n\n";
  s += bad.empty() ? "None.\n" : table(bad, other, true, in.repro);
  if (!unsupported.empty())
    s += "\n## ➖ Unsupported by the engine (not failures)\n\n" + table(unsupported, other, false, in.repro);
  if (!in.boundaries.empty()) {
    s += "\n## Size boundary\n\n";
    for (const auto& b : in.boundaries) s += boundary_line(b, in.boundary_source);
  }
  return s;
}

std::string report_json_lines(const std::vector<ProbeResult>& probes) {
  std::string s;
  for (const auto& r : probes) s += to_json(r).dump() + "\n";
  return s;
}

}  // namespace convguard
