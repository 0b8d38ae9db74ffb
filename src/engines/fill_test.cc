#include "convguard/fill.h"

#include <gtest/gtest.h>

#include <cmath>

namespace convguard {
namespace {

Problem small(Dir dir, DataType dt = DataType::f32) {
  Problem p;
  p.dir = dir;
  p.dt = dt;
  p.mb = 2, p.ic = 8, p.ih = p.iw = 9, p.oc = 16, p.kh = p.kw = 3, p.ph = p.pw = 1;
  p.oh = p.ow = 9;
  return p;
}

ConvTensors filled(const Problem& p, uint64_t seed) {
  ConvTensors t;
  resize_for(p, t);
  fill_inputs(p, t, seed);
  return t;
}

TEST(Fill, ValuesDoNotDependOnHowTheRangeIsSplit) {
  Problem p = small(Dir::FWD_B);
  p.ih = p.iw = p.oh = p.ow = 200;  // 640k src elements: fill_inputs uses several threads
  const ConvTensors whole = filled(p, 5);
  for (int64_t chunk : {1, 7, 4096, 100000}) {
    std::vector<float> pieces(whole.src.size());
    for (int64_t b = 0; b < int64_t(pieces.size()); b += chunk)
      fill_range(p, Arg::src, 5, b, std::min<int64_t>(b + chunk, pieces.size()), &pieces[b]);
    EXPECT_EQ(pieces, whole.src) << "chunk " << chunk;
  }
}

TEST(Fill, SameSeedSameValuesOtherSeedOtherValues) {
  const Problem p = small(Dir::FWD_D);
  EXPECT_EQ(filled(p, 1).src, filled(p, 1).src);
  EXPECT_NE(filled(p, 1).src, filled(p, 2).src);
  EXPECT_NE(filled(p, 1).src, filled(p, 1).wei) << "args draw from different streams";
}

TEST(Fill, InputsAreSmallIntegersAndNotAllZero) {
  for (Dir d : {Dir::FWD_B, Dir::BWD_D, Dir::BWD_WB})
    for (DataType dt : {DataType::f32, DataType::f16, DataType::bf16}) {
      const Problem p = small(d, dt);
      const ConvTensors t = filled(p, 3);
      for (Arg a : inputs_of(d)) {
        const auto& v = tensor(t, a);
        int nonzero = 0;
        for (float x : v) {
          ASSERT_EQ(x, std::round(x));
          ASSERT_LE(std::fabs(x), 16.0f);
          ASSERT_EQ(x, round_to(dt, x)) << "inputs are exact in the data type";
          nonzero += x != 0;
        }
        EXPECT_GT(nonzero, int(v.size()) / 2) << to_string(a);
      }
    }
}

TEST(Fill, LongReductionsGetSmallerOrSparserValues) {
  Problem p = small(Dir::BWD_W);
  p.mb = 64, p.ih = p.iw = p.oh = p.ow = 112;  // 800k products per weight gradient
  const ConvTensors t = filled(p, 1);
  double worst = 0, max_src = 0;
  for (float x : t.src) max_src = std::max(max_src, double(std::fabs(x)));
  worst = max_src * max_src * double(p.mb * p.oh * p.ow);
  EXPECT_LE(worst, 16777216.0) << "every partial sum stays exact in f32";

  Problem h = small(Dir::FWD_D, DataType::f16);
  h.ic = 256;  // 2304 products: f16 inputs become sparse +-1
  const ConvTensors f = filled(h, 1);
  for (float x : f.src) ASSERT_LE(std::fabs(x), 1.0f);
}

TEST(Fill, PoisonWritesNanIntoEveryOutputOnly) {
  const Problem p = small(Dir::BWD_WB);
  ConvTensors t = filled(p, 1);
  poison_outputs(p, t);
  for (float x : t.wei) ASSERT_TRUE(std::isnan(x));
  for (float x : t.bia) ASSERT_TRUE(std::isnan(x));
  for (float x : t.src) ASSERT_FALSE(std::isnan(x));
}

TEST(Fill, RoundToKeepsNanAndRoundsTiesToEven) {
  EXPECT_EQ(round_to(DataType::bf16, 257.0f), 256.0f);
  EXPECT_EQ(round_to(DataType::bf16, 259.0f), 260.0f);
  EXPECT_EQ(round_to(DataType::f16, 2049.0f), 2048.0f);
  EXPECT_EQ(round_to(DataType::f32, 2049.0f), 2049.0f);
  EXPECT_TRUE(std::isnan(round_to(DataType::bf16, std::nanf(""))));
  EXPECT_TRUE(std::isnan(round_to(DataType::f16, std::nanf(""))));
}

}  // namespace
}  // namespace convguard
