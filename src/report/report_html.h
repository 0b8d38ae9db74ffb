// The HTML report: one self-contained page (no external assets, no network) with a summary
// of the runs, SVG heat maps of outcome over two problem fields, a sortable and filterable
// table of probes, and repro lines with copy buttons.
//
// Heat maps: one map per (engine, algo, dir, dt) and per value of any other problem field
// that varies *within* a cell (e.g. two kernel sizes at the same ih and ic give one map per
// kernel size). Fields that vary only together with the axes (oc = 2*ic, iw = ih, oh, ow)
// do not split maps. When splitting would give more than kMaxSplitMaps (heatmap.h) maps for a group,
// the remaining cells show the worst outcome of their probes (Outcome's declaration order)
// and say how many probes they hold. Cells never probed are left blank.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "convguard/outcome.h"
#include "convguard/status.h"
#include "convguard/store.h"

namespace convguard {

struct HtmlReportOptions {
  std::string title = "convguard report";
  std::string x_axis = "ih";  ///< problem field along the heat maps' horizontal axis
  std::string y_axis = "ic";  ///< problem field along the vertical axis
  /// Only this run's probes (the latest per key); every run's latest probes when unset.
  std::optional<int64_t> run_id;
  std::string engine;  ///< only this engine's probes when not empty
};

/// What the page shows, as read from a store.
struct ReportData {
  std::vector<RunInfo> runs;        ///< the runs shown in the summary, oldest first
  std::vector<StoredProbe> probes;  ///< latest per (problem, engine, algo, fingerprint)
  /// The newest stored boundary per line (Store::list_conclusions); the page derives
  /// boundaries from the heat maps' rows only when there is none.
  std::vector<StoredConclusion> conclusions;
};

/// Reads runs, probes (ProbeFilter semantics: the latest per problem, engine, algo and
/// fingerprint) and boundary conclusions, filtered alike. Invalid names an unknown run id.
Result<ReportData> load_report_data(Store& store, std::optional<int64_t> run_id = {},
                                    const std::string& engine = "");

/// Renders the page. Invalid names an axis that is not a problem shape field
/// (g mb ic ih iw oc oh ow kh kw sh sw ph pw dh dw) or x_axis == y_axis.
Result<std::string> render_html_report(const ReportData& data, const HtmlReportOptions& opt);

/// load_report_data + render_html_report, written to `out_path` ("-": stdout). Io names
/// the path when it cannot be written.
Status write_html_report(Store& store, const HtmlReportOptions& opt, const std::string& out_path);

/// JSON text made safe inside <script>: '<', '>', '&', U+2028 and U+2029 as \uXXXX escapes
/// (so "</script>" or "<!--" in a string cannot end or change the script element). The
/// input must be JSON as nlohmann::json::dump writes it.
std::string script_safe_json(std::string_view json_text);

/// The value of shape field `field` of the problem whose key is `problem_key`;
/// Invalid for an unknown field or an unparsable key.
Result<int64_t> problem_field(std::string_view problem_key, std::string_view field);

}  // namespace convguard
