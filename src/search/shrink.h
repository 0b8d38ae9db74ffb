// Shrinking: from a failing problem, a smallest problem that fails the same way, for a
// bug report that reproduces in milliseconds instead of minutes.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "convguard/outcome.h"
#include "convguard/problem.h"
#include "convguard/prober.h"
#include "convguard/status.h"

namespace convguard {

struct ShrinkOptions {
  int max_probes = 200;         ///< requests handed to the prober, the first one included
  std::string algo = "default";  ///< engine.h's kDefaultAlgo
  /// A candidate must end in the same phase too (a hang in prepare is another bug than a
  /// hang in execute).
  bool same_phase = true;
};

struct ShrinkResult {
  Problem from, to;
  Outcome outcome = Outcome::ok;  ///< the outcome kept throughout
  Phase phase = Phase::init;
  int probes = 0;
  /// True when the last pass tried every single-field reduction of `to` (one step smaller in
  /// each field, and each field's minimum) and none failed the same way; false when the
  /// probe budget ran out first.
  bool minimal = false;
  std::vector<std::string> steps;  ///< accepted reductions, e.g. "mb 8 -> 1"
  ProbeResult result;              ///< the probe of `to`
  std::vector<ProbeResult> evidence;  ///< every probe run, in order
};

/// {"from": key, "to": key, "outcome", "phase", "probes", "minimal", "steps"}.
nlohmann::json to_json(const ShrinkResult& r);

/// Deterministic greedy passes over mb, groups, ic, oc (per group, so g still divides),
/// spatial size (square first), kernel, stride, dilation and padding: each field goes to
/// its minimum if that still fails, else bisects down to the smallest value that does
/// (assuming monotony, which the final pass rechecks one step below). Passes repeat until
/// one changes nothing. Candidates that are invalid problems are skipped unprobed, and a
/// probe's result is never asked twice. Invalid status if `failing` does not fail (or is
/// unsupported); a prober that cannot go on stops the search with its status.
Result<ShrinkResult> shrink(Prober& prober, const Problem& failing, const ShrinkOptions& opt = {});

/// Every valid problem one step smaller than `p` in a single field (mb-1, g-1 with or
/// without keeping the per-group channels, ic-g, oc-g, ih-1, ..., ph-1, dw-1), outputs
/// deduced. The neighbours a minimal shrink result must not fail on.
std::vector<Problem> smaller_neighbours(const Problem& p);

}  // namespace convguard
