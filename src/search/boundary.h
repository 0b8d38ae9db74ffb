// Boundary search: where along one axis (e.g. ih from 8 to 512) a problem stops working,
// found by bisection under a monotonic assumption that is checked, not trusted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "convguard/outcome.h"
#include "convguard/problem.h"
#include "convguard/prober.h"
#include "convguard/status.h"

namespace convguard {

/// One axis to search: FIELD over the inclusive range [lo, hi] in steps of `step`
/// (the values searched are lo, lo+step, ... up to hi).
struct Axis {
  std::string field;
  int64_t lo = 0, hi = 0, step = 1;
};

/// Parses "ih=8:512" or "ih=8:512:2". Errors name the text.
Result<Axis> parse_axis(std::string_view text);
/// Parses "ic=8,16,32" (the --over form) into a field and its values.
Result<std::pair<std::string, std::vector<int64_t>>> parse_over(std::string_view text);

struct BoundaryOptions {
  Axis axis;
  /// Fields set to the axis value too (e.g. "iw" with axis ih keeps the map square).
  std::vector<std::string> tie;
  /// How many times each side of the boundary pair is probed in all (the bisection's probe
  /// included); 1 means no confirmation, and the result is never `confirmed`.
  int repeats = 2;
  /// Extra probes in the confirmation round at the middle of the widest unprobed stretches
  /// (one below the pair, one above), so that a failing island below the boundary or an
  /// ok island above it shows up as non-monotonic evidence. 0 turns them off.
  int spot_checks = 2;
  std::string algo = "default";  ///< engine.h's kDefaultAlgo
  /// Runs the confirmation repeats (null: the main prober). A prober that reuses stored
  /// results would only give the stored answer again, so pass one that really re-runs.
  Prober* repeat_prober = nullptr;
  /// Probes one line may use before it gives up (reported in the notes).
  int max_probes = 64;
  /// Results already in hand for this engine and fingerprint (a store's): those of
  /// `algo` on a line are its evidence before any probe, and the search starts from the
  /// bracket they make (an ok below the lowest failure) instead of the axis' ends. Suspect
  /// results are left out: they say only that a probe was in flight when a process died.
  std::vector<ProbeResult> stored;
  /// Values probed per bisection round: N splits the bracket into N+1 stretches (an
  /// (N+1)-ary search), one batch that a prober with N workers runs at once. 1 is plain
  /// bisection; on monotonic evidence every N finds the same pair.
  int parallel = 1;
};

/// The evidence for one axis value.
struct AxisProbe {
  int64_t value = 0;
  ProbeResult result;
};

struct BoundaryResult {
  std::string axis;
  std::vector<std::string> tie;  ///< fields that followed the axis
  std::vector<std::pair<std::string, int64_t>> over;  ///< fixed values of a frontier line
  /// The boundary pair; both absent when the evidence is flaky or non-monotonic (a wrong
  /// boundary is worse than none). first_failing alone: every value fails; largest_ok
  /// alone: no value fails.
  std::optional<int64_t> largest_ok, first_failing;
  std::optional<Problem> ok_problem, failing_problem;  ///< the problems at those values
  Outcome outcome = Outcome::ok;  ///< of the first failing probe (ok when none failed)
  Phase phase = Phase::init;
  int probes = 0;          ///< requests handed to the prober (stored results included)
  int stored = 0;          ///< results from BoundaryOptions::stored used as evidence
  int rounds = 0;          ///< batches this line took part in
  bool confirmed = false;  ///< the pair was re-probed `repeats` times and agreed
  bool flaky = false;      ///< the same problem gave ok and a failure
  bool non_monotonic = false;  ///< an ok was seen above a failure
  std::vector<std::string> notes;  ///< why not confirmed, unsupported values, the budget
  std::vector<AxisProbe> evidence;  ///< every probe used, in the order run
};

/// docs/DESIGN.md's summary object: {"axis", "over", "largest_ok", "first_failing", "outcome",
/// "phase", "probes", "confirmed"} plus "stored", "tie", "flaky", "non_monotonic", "notes" and
/// the problem keys "ok_problem" and "failing_problem" when set.
nlohmann::json to_json(const BoundaryResult& r);
/// Reads a summary object back (to_json's form; the evidence is not in it). Invalid names
/// the field when one is missing or of the wrong type, or a value does not parse.
Result<BoundaryResult> boundary_from_json(const nlohmann::json& j);
/// One line: "largest ok: ih=42 (42x42)  first failing: 44 (44x44, hang, execute)  probes: 8".
std::string summary_line(const BoundaryResult& r);

/// The problem at one axis value: `base` with the axis and tied fields set and outputs
/// deduced. Invalid names the value when that problem is inconsistent.
Result<Problem> problem_at(const Problem& base, const BoundaryOptions& opt, int64_t value);

/// Finds the boundary along opt.axis for `base`: probes both ends (one batch) unless the
/// stored evidence already brackets a boundary, bisects, then re-probes the pair.
/// `unsupported` is never a failure: such values are stepped over and named in the notes.
/// A non-ok Status only when the prober cannot go on.
Result<BoundaryResult> find_boundary(Prober& prober, const Problem& base,
                                     const BoundaryOptions& opt);

/// A frontier: one boundary per value of `over_field`, the lines' probes batched together
/// so that a prober with several workers runs them in parallel.
Result<std::vector<BoundaryResult>> map_frontier(Prober& prober, const Problem& base,
                                                 const BoundaryOptions& opt,
                                                 const std::string& over_field,
                                                 const std::vector<int64_t>& over_values);

}  // namespace convguard
