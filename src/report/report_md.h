// Reports: the seed's markdown tables (working / hanging-or-failing, boundary summary)
// and the JSON-lines dump of stored probes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "search/boundary.h"
#include "convguard/outcome.h"
#include "search/repro.h"

namespace convguard {

/// Where a report's boundaries come from.
enum class BoundarySource {
  stored,   ///< the conclusions `convguard boundary` stored (confirmed or not, as it said)
  derived,  ///< read off the probes (boundaries_from_probes) of a store without conclusions
};

struct ReportInput {
  std::string title = "convguard report";
  /// Shown in a facts table under the title (device, driver, library versions...).
  std::map<std::string, std::string> facts;
  std::vector<ProbeResult> probes;
  std::vector<BoundaryResult> boundaries;
  BoundarySource boundary_source = BoundarySource::stored;
  ReproContext repro;  ///< for the convguard repro line of each failing row
};

/// The latest result per (problem, engine, algo): the last one in `in` wins; the order is
/// that of each key's first appearance.
std::vector<ProbeResult> latest_per_probe(const std::vector<ProbeResult>& in);

/// Markdown in the seed's form: a WORKING table and a HANGING / FAILING table with
/// Channels (ic→oc), Size (ihxiw), Time and Result columns (plus an "Other" column naming
/// whatever else varies between rows, and a Repro column with a `convguard probe` line on
/// failing rows), unsupported probes listed apart as not failures, then one boundary
/// summary line per boundary ("largest ok: 42x42, first failing: 44x44 (hang, execute) —
/// 14 probes, confirmed"; derived boundaries say "derived from probes, not confirmed").
/// Rows are sorted by ic, oc, ih, iw. Cell text is escaped for tables (| and control
/// characters) and code spans are fenced to fit any backticks inside.
std::string report_markdown(const ReportInput& in);

/// Boundaries read off stored probes: probes of square problems (ih == iw) that differ only
/// in size form a line; each line with a failure gets the largest ok size below its first
/// failing size, or non-monotonic when an ok size lies above a failure. Unsupported is
/// no failure. Such a boundary is not `confirmed` (nothing was re-probed); a report shows
/// it with BoundarySource::derived. For stores without stored conclusions only.
std::vector<BoundaryResult> boundaries_from_probes(const std::vector<ProbeResult>& probes);

/// One JSON line per probe (to_json), in the order given.
std::string report_json_lines(const std::vector<ProbeResult>& probes);

}  // namespace convguard
