#include "report/conclusions.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "search/grid.h"

namespace convguard {

StoredConclusion conclusion_of(const BoundaryResult& r, const Problem& base,
                               const std::string& algo, const std::string& engine,
                               const std::string& fp_hash) {
  Problem line = base;
  std::vector<std::string> over;
  for (const auto& [f, v] : r.over) {
    set_field(line, f, v);
    over.push_back(fmt::format("{}={}", f, v));
  }
  StoredConclusion c;
  c.kind = "boundary";
  c.problem = key(line);
  c.engine = engine;
  c.algo = algo;
  c.fingerprint_hash = fp_hash;
  c.axis = r.axis;
  c.tie = fmt::format("{}", fmt::join(r.tie, ","));
  c.over = fmt::format("{}", fmt::join(over, ","));
  c.outcome = r.outcome;
  c.confirmed = r.confirmed;
  c.summary_json = to_json(r).dump();
  return c;
}

Result<std::vector<ReportBoundary>> read_conclusions(const std::vector<StoredConclusion>& cs) {
  std::vector<ReportBoundary> out;
  for (const auto& c : cs) {
    auto j = nlohmann::json::parse(c.summary_json, nullptr, false);
    auto r = boundary_from_json(j);
    if (!r.ok())
      return Status::Corrupt(
          fmt::format("stored conclusion {}: {}", c.id, r.status().message()));
    out.push_back({std::move(*r), c});
  }
  return out;
}

Result<ReportBoundaries> load_report_boundaries(Store& store, ConclusionFilter filter,
                                                const std::vector<ProbeResult>& probes) {
  filter.kind = "boundary";
  auto cs = store.list_conclusions(filter);
  if (!cs.ok()) return cs.status();
  ReportBoundaries out;
  if (!cs->empty()) {
    auto stored = read_conclusions(*cs);
    if (!stored.ok()) return stored.status();
    out.boundaries = std::move(*stored);
    return out;
  }
  // A store written before conclusions were kept (or with no boundary search): the
  // probes are the only evidence, and nothing was re-probed to confirm it.
  out.source = BoundarySource::derived;
  for (auto& b : boundaries_from_probes(probes)) out.boundaries.push_back({std::move(b), {}});
  return out;
}

std::string boundary_json_lines(const ReportBoundaries& b) {
  std::string s;
  for (const auto& rb : b.boundaries) {
    auto j = to_json(rb.result);
    j["source"] = rb.stored ? "stored" : "derived";
    if (rb.stored) {
      j["id"] = rb.stored->id;
      j["run"] = rb.stored->run_id;
    }
    s += j.dump() + "\n";
  }
  return s;
}

}  // namespace convguard
