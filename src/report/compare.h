// Comparing two runs (of one store or of two): what differs in their fingerprints (library
// versions, device, environment) and which problems changed outcome. When the library
// versions are identical the text says so in its first line, whatever the runs are called:
// the seed compared "ROCm 5.2" with "ROCm 5.7" while both used the same bundled MIOpen.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "convguard/outcome.h"
#include "convguard/status.h"
#include "convguard/store.h"

namespace convguard {

/// One run with what a comparison needs.
struct RunSide {
  std::string store_path;
  RunInfo run;
  std::string label;                               ///< run_label(run)
  std::map<std::string, std::string> fingerprint;  ///< parsed fingerprint_json
  std::vector<StoredProbe> probes;                 ///< the run's latest probe per key
};

/// The kind of a fingerprint key: "library" (versions: cudnn, driver, miopen, *version*...),
/// "device" (device*, compute_capability, cpu_isa, *arch*...), "environment" (env.*) or "other".
const char* fingerprint_category(std::string_view key);

/// A run's name for people: options_json's "label", else the fingerprint's "label", else
/// "run N".
std::string run_label(const RunInfo& run);

/// Parses a run's fingerprint_json into key -> text (non-string values as their JSON text).
/// Corrupt names the run when the text is not a JSON object.
Result<std::map<std::string, std::string>> parse_fingerprint(const RunInfo& run);

/// Where a run lives: "7" (run 7 of the default store), "latest" (its newest run),
/// "other.db:7" (run 7 of another store), "other.db" (that store's newest run).
struct RunRef {
  std::string store_path;
  std::optional<int64_t> run_id;  ///< unset: the newest run
};
/// Invalid names the text when it is empty or names no store.
Result<RunRef> parse_run_ref(std::string_view text, const std::string& default_store);

/// Loads one run of an open store (the newest when run_id is unset). Invalid names an
/// unknown run or an empty store.
Result<RunSide> load_run(Store& store, std::optional<int64_t> run_id);
/// Opens ref.store_path read-only and loads the run.
Result<RunSide> load_run(const RunRef& ref);

struct FingerprintDiff {
  std::string key;
  std::string category;            ///< fingerprint_category(key)
  std::optional<std::string> a, b;  ///< unset: the key is absent from that run
};

/// One problem (and algorithm) whose outcome differs, or that only one run probed.
struct OutcomeChange {
  std::string problem;  ///< key
  std::string name;     ///< label, when either run has one
  std::string algo;
  std::optional<Outcome> a, b;  ///< unset: not probed in that run
  std::string message;          ///< the failing side's message (the newer run's when both fail)
};

struct RunComparison {
  RunSide a, b;  ///< probes omitted (cleared) after comparing
  /// Every library key of either run has the same value in both (and there is one).
  bool same_libraries = false;
  std::vector<std::pair<std::string, std::string>> libraries;  ///< run a's library keys
  std::vector<FingerprintDiff> differences;  ///< keys whose values differ, sorted by key
  std::vector<OutcomeChange> changed, only_a, only_b;
  std::map<Outcome, int> counts_a, counts_b;  ///< outcomes per run
  int unchanged = 0;  ///< problems with the same outcome in both
};

/// Compares two runs; probes are matched by (problem key, algo).
RunComparison compare_runs(const RunSide& a, const RunSide& b);
/// Resolves both references and compares.
Result<RunComparison> compare_run_refs(std::string_view ref_a, std::string_view ref_b,
                                       const std::string& default_store);

/// The first line alone: "These runs used the same libraries: cudnn 9.1.0, ..." (naming the
/// labels when they differ), or "These runs used different libraries: ..." with the changes,
/// or a line saying that neither fingerprint names a library version.
std::string libraries_line(const RunComparison& c);
/// Markdown: the libraries line first, then the runs, fingerprint differences, outcome
/// changes and problems only one run probed.
std::string to_markdown(const RunComparison& c);
/// {"same_libraries", "libraries_line", "a": {run}, "b": {run}, "differences": [...],
///  "changed": [...], "only_a": [...], "only_b": [...], "unchanged": N}.
nlohmann::json to_json(const RunComparison& c);

/// What `convguard report --compare A B` does: compare_run_refs, then markdown (or the JSON
/// object, indented, when `json`) to `out_path` ("-" or "": stdout). Invalid for a bad
/// reference or unknown run, Io when the output cannot be written.
Status write_comparison(std::string_view ref_a, std::string_view ref_b,
                        const std::string& default_store, bool json, const std::string& out_path);

}  // namespace convguard
