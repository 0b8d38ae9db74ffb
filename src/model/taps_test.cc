#include "model/taps.h"

#include <algorithm>
#include <random>

#include <gtest/gtest.h>

namespace convguard {
namespace {

// The definition, one output position at a time.
double taps_by_loop(int64_t i, int64_t o, int64_t k, int64_t s, int64_t p, int64_t d) {
  double n = 0;
  for (int64_t y = 0; y < o; ++y)
    for (int64_t t = 0; t < k; ++t) {
      const int64_t x = y * s - p + t * (d + 1);
      n += x >= 0 && x < i;
    }
  return n;
}

TEST(TapsInside, MatchesTheDefinitionOnEveryAxisOfSmallSizes) {
  std::mt19937 rng(7);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int n = 0; n < 20000; ++n) {
    const int64_t i = pick(1, 40), k = pick(1, 9), s = pick(1, 5), p = pick(0, 12), d = pick(0, 4);
    const int64_t o = std::max<int64_t>(0, (i + 2 * p - ((k - 1) * (d + 1) + 1)) / s + 1);
    ASSERT_EQ(taps_inside(i, o, k, s, p, d), taps_by_loop(i, o, k, s, p, d))
        << "i=" << i << " o=" << o << " k=" << k << " s=" << s << " p=" << p << " d=" << d;
  }
}

TEST(TapsInside, CountsABillionPositionsWithoutVisitingThem) {
  // Every output of a 3-tap kernel over a billion inputs, less the two taps in the padding.
  EXPECT_EQ(taps_inside(1000000000, 1000000000, 3, 1, 1, 0), 3e9 - 2);
  // A billion taps over a billion outputs: exact in double only up to 2^53, so near.
  const double big = taps_inside(2000000000, 1000000001, 1000000000, 1, 0, 0);
  EXPECT_NEAR(big, 1e18 + 1e9, 1e3);
}

TEST(TapsInside, IsZeroWithoutOutputsOrTaps) {
  EXPECT_EQ(taps_inside(10, 0, 3, 1, 0, 0), 0);
  EXPECT_EQ(taps_inside(10, 8, 0, 1, 0, 0), 0);
  EXPECT_EQ(taps_inside(10, 8, 3, 0, 0, 0), 0);
}

}  // namespace
}  // namespace convguard
