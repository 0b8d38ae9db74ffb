// A second opinion before a result is called wrong: the reference itself is checked
// against an independent computation, so a harness bug never becomes a finding.
#pragma once

#include <cstdint>
#include <string>

#include "convguard/bounds.h"
#include "convguard/engine.h"
#include "convguard/problem.h"

namespace convguard {

struct SecondOpinion {
  bool reference_agrees = true;  ///< every sampled reference output matches the check
  int64_t checked = 0;           ///< outputs recomputed
  std::string message;           ///< the first disagreement, when there is one
};

/// Recomputes, in double precision from freshly generated fills of `seed` and with
/// for_each_term (terms.h, code shared with no engine), the element `c` names and a
/// spread of others in every output, and compares the reference (and M, where given)
/// with them: the reference must equal the exact sum rounded once to p's type.
SecondOpinion second_opinion(const Problem& p, uint64_t seed, const ConvTensors& ref,
                             const ConvTensors* mag, const Comparison& c);

}  // namespace convguard
