// benchdnn's count of kernel taps that land inside the input along one spatial axis.
#pragma once

#include <cstdint>

namespace convguard {

/// Pairs (output position, kernel tap) of one axis whose input position lies inside the input
/// rather than in the padding: input i, output o, kernel k, stride s, padding p, dilation d
/// (benchdnn's: 0 is dense). In closed form (floor sums), so the time does not grow with o or k:
/// a valid descriptor may have a billion positions on an axis. 0 where o, k, i or s is not
/// positive.
double taps_inside(int64_t i, int64_t o, int64_t k, int64_t s, int64_t p, int64_t d);

}  // namespace convguard
