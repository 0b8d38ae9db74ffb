// Heat maps of probe outcomes over two problem fields, and their SVG drawing
// (internal to the HTML report; the grouping rules are in include/convguard/report_html.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "convguard/outcome.h"
#include "convguard/problem.h"
#include "convguard/store.h"
#include "convguard/status.h"

namespace convguard::report {

/// Most maps one (engine, algo, dir, dt) group is split into before cells merge (worst of).
inline constexpr int kMaxSplitMaps = 12;

/// One probed cell: the worst outcome of its probes.
struct HeatCell {
  Outcome outcome = Outcome::ok;
  int probes = 0;          ///< probes merged into the cell (1 unless the map merges)
  std::string tip;         ///< tooltip text (plain; escaped when drawn)
  size_t probe = 0;        ///< index in build_heatmaps' input of the probe shown
};

struct HeatMap {
  std::string title;  ///< "sim default FWD_D f32" plus split fields ("kh=3")
  std::string x_axis, y_axis;
  std::vector<int64_t> xs, ys;  ///< sorted distinct values
  std::map<std::pair<int64_t, int64_t>, HeatCell> cells;  ///< by (x, y)
  bool merged = false;  ///< some cell holds probes of different problems (worst shown)
};

/// Where one row (a y value) of a map stops working: the first failing x and the largest
/// ok x below it (absent when nothing below was ok).
struct RowBoundary {
  std::string map_title;
  int64_t y = 0;
  std::optional<int64_t> largest_ok;
  int64_t first_failing = 0;
  Outcome outcome = Outcome::ok;
  size_t probe = 0;  ///< index in build_heatmaps' input of the first failing probe
};

/// Text made safe for HTML element content and quoted attribute values (& < > " ').
std::string html_escape(std::string_view text);

/// The value of shape field `field` (g mb ic ih iw oc oh ow kh kw sh sw ph pw dh dw) of p.
std::optional<int64_t> shape_field(const Problem& p, std::string_view field);

/// A failure for the report: anything but ok and unsupported.
bool is_failure(Outcome o);
/// The letter drawn in a cell of that outcome ("H" for hang, "" for ok); the CSS class
/// suffix is to_string(o).
const char* outcome_glyph(Outcome o);

/// Groups `probes` into maps (see report_html.h); when they hold several fingerprints, each
/// fingerprint has its own maps. Probes whose problem does not parse are skipped. Invalid
/// names a bad axis.
Result<std::vector<HeatMap>> build_heatmaps(const std::vector<StoredProbe>& probes,
                                            const std::string& x_axis, const std::string& y_axis);
/// The boundary of each row that has a failure, in y order.
std::vector<RowBoundary> row_boundaries(const HeatMap& map);

/// The map as inline SVG: one `<rect class="cell outcome-X">` per probed cell with a
/// <title>, axis labels, and a `path.boundary` between ok and failing neighbours.
std::string heatmap_svg(const HeatMap& map);
/// The colour legend (HTML), one `span.swatch.outcome-X` per outcome.
std::string legend_html();
/// CSS rules giving each outcome its colour (fills for cells, backgrounds for swatches).
std::string outcome_css();

}  // namespace convguard::report
