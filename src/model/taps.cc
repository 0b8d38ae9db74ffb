#include "model/taps.h"

#include <algorithm>
#include <utility>

namespace convguard {
namespace {

using i128 = __int128;

i128 floor_div(i128 a, i128 b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }
i128 ceil_div(i128 a, i128 b) { return -floor_div(-a, b); }

// sum over x in [0, n) of floor((a x + b) / m), for a, b >= 0 and m > 0 (Euclid-like reduction:
// each round swaps the roles of a and m, so it takes O(log m) rounds).
i128 floor_sum(i128 n, i128 m, i128 a, i128 b) {
  i128 sum = 0;
  while (true) {
    if (a >= m) sum += n * (n - 1) / 2 * (a / m), a %= m;
    if (b >= m) sum += n * (b / m), b %= m;
    const i128 top = a * n + b;
    if (top < m) return sum;
    n = top / m, b = top % m;
    std::swap(m, a);
  }
}

// sum over y in [lo, hi] of floor((c + b y) / e), any sign of b and c, e > 0.
i128 sum_floor(i128 lo, i128 hi, i128 c, i128 b, i128 e) {
  if (hi < lo) return 0;
  const i128 n = hi - lo + 1;
  // Counting from the end that makes the slope non-negative.
  const i128 slope = b >= 0 ? b : -b, start = b >= 0 ? c + b * lo : c + b * hi;
  const i128 q = floor_div(start, e);
  return n * q + floor_sum(n, e, slope, start - q * e);
}

}  // namespace

double taps_inside(int64_t i, int64_t o, int64_t k, int64_t s, int64_t p, int64_t d) {
  if (i <= 0 || o <= 0 || k <= 0 || s <= 0 || d < 0) return 0;
  // Output y reads input y*s - p + t*e for taps t in [0, k): the taps inside are t in
  // [max(0, G(y)), min(k-1, F(y))] with F(y) = floor((i-1+p - s y)/e), G(y) = ceil((p - s y)/e).
  const i128 e = i128{d} + 1, last = i128{k} - 1;
  // Outputs with any tap inside: F(y) >= 0 and G(y) <= k-1. There the count is never negative
  // (F >= G - 1 always), so the sum splits at the clips.
  const i128 y_lo = std::max<i128>(0, ceil_div(i128{p} - last * e, s));
  const i128 y_hi = std::min<i128>(i128{o} - 1, floor_div(i128{i} - 1 + p, s));
  if (y_hi < y_lo) return 0;
  const i128 f_full = floor_div(i128{i} - 1 + p - last * e, s);  // F(y) >= k-1 up to here
  const i128 g_pos = ceil_div(i128{p}, s) - 1;                  // G(y) > 0 up to here
  const i128 full = std::max<i128>(0, std::min(f_full, y_hi) - y_lo + 1);
  const i128 upper = last * full + sum_floor(std::max(y_lo, f_full + 1), y_hi, i128{i} - 1 + p,
                                             -i128{s}, e);
  // G(y) = -floor((s y - p)/e).
  const i128 lower = -sum_floor(y_lo, std::min(y_hi, g_pos), -i128{p}, s, e);
  return static_cast<double>(upper - lower + (y_hi - y_lo + 1));
}

}  // namespace convguard
