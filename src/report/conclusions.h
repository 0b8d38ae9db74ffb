// Boundaries as stored conclusions: what `convguard boundary` keeps in the store, and the
// boundaries the reports show, which are those conclusions when the store has any and are
// derived from probes (never confirmed) only for a store without them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "search/boundary.h"
#include "report/report_md.h"
#include "convguard/status.h"
#include "convguard/store.h"

namespace convguard {

/// The stored form of boundary `r`, searched from `base` (the command's base problem; the
/// line's base is `base` with r.over set) with `algo` on `engine` under fingerprint
/// `fp_hash`. run_id is set when it is recorded (Store::record_conclusions).
StoredConclusion conclusion_of(const BoundaryResult& r, const Problem& base,
                               const std::string& algo, const std::string& engine,
                               const std::string& fp_hash);

/// One boundary as a report shows it.
struct ReportBoundary {
  BoundaryResult result;
  std::optional<StoredConclusion> stored;  ///< the row it was read from; unset when derived
};

/// The boundaries of a report and where they come from.
struct ReportBoundaries {
  BoundarySource source = BoundarySource::stored;
  std::vector<ReportBoundary> boundaries;
};

/// Stored boundary conclusions read back, in order. Corrupt names a conclusion whose
/// summary does not parse.
Result<std::vector<ReportBoundary>> read_conclusions(const std::vector<StoredConclusion>& cs);

/// The boundaries for a report: the newest stored boundary per line
/// (Store::list_conclusions with `filter`, kind "boundary"), or, when none matches,
/// boundaries_from_probes(probes) as BoundarySource::derived.
Result<ReportBoundaries> load_report_boundaries(Store& store, ConclusionFilter filter,
                                                const std::vector<ProbeResult>& probes);

/// One JSON line per boundary: to_json plus "source" ("stored" or "derived") and, for a
/// stored one, "id" (the conclusion's) and "run".
std::string boundary_json_lines(const ReportBoundaries& b);

}  // namespace convguard
