// Merging stores: the shards of a sweep, or stores of different machines, into one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "convguard/status.h"

namespace convguard {

/// What a merge added.
struct MergeSummary {
  int64_t runs = 0;         ///< runs added (a run already in the output is not added again)
  int64_t probes = 0;       ///< probes added
  int64_t conclusions = 0;  ///< conclusions added
  int64_t duplicates = 0;   ///< probes already in the output (merged before), skipped
  /// Probes whose key (problem, engine, algorithm, fingerprint) already held a different
  /// outcome from another run: kept beside it as a further attempt.
  int64_t conflicts = 0;
};

/// Writes to `out` a store holding every run (with its plan, in-flight marks and
/// conclusions) and every probe of `inputs`, in input order; ids are renumbered, nothing
/// is overwritten. A probe whose key already holds a different outcome from another run
/// is kept as attempt max+1 of that key, and being later it is the one reports show. A run,
/// probe or conclusion already there (same run start, command and boot; same key,
/// creation time, outcome and worker) is skipped, so merging a store again adds nothing.
/// The inputs are opened read-only and never written. The result is built in a temporary
/// file beside `out` and renamed over it only when complete: `out` is either as it was or
/// the whole merge. An existing `out` is refused (kInvalid) unless `overwrite`; `out` may
/// be one of the inputs then.
Result<MergeSummary> merge_stores(const std::vector<std::string>& inputs, const std::string& out,
                                  bool overwrite);

}  // namespace convguard
