// How much one command may ask for: past these, a typo rather than a sweep, and memory
// would run out before the first probe.
#pragma once

#include <cstddef>
#include <string_view>

#include "convguard/problem.h"

namespace convguard {

/// The most problems one command may name (descriptors times knob lists, batch files,
/// grids).
inline constexpr size_t kMaxProblems = 100000;

/// Invalid ("<origin> would make N problems (...), more than kMaxProblems ...") when
/// `have` problems plus `each` for every combination of `knobs` exceed kMaxProblems;
/// checked before expanding.
Status check_expansion(size_t have, size_t each, const Knobs& knobs, std::string_view origin);

}  // namespace convguard
