#include "convguard/bounds.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "convguard/fill.h"

namespace convguard {
namespace {

Problem tiny() {
  Problem p;
  p.dir = Dir::FWD_D;
  p.mb = 1, p.ic = 1, p.oc = 1, p.ih = p.iw = p.oh = p.ow = 2, p.kh = p.kw = 1;
  return p;
}

Problem resnet_3x3(DataType dt = DataType::f32) {
  Problem p;
  p.dir = Dir::FWD_D, p.dt = dt;
  p.mb = 1, p.ic = p.oc = 64, p.ih = p.iw = p.oh = p.ow = 56, p.kh = p.kw = 3, p.ph = p.pw = 1;
  return p;
}

Comparison exact(const Problem& p, const ConvTensors& got, const ConvTensors& ref) {
  return compare_outputs(p, got, ref, AlgoClass::exact, nullptr);
}

TEST(Compare, IdenticalResultsPassWithZeroError) {
  const Problem p = tiny();
  ConvTensors ref, got;
  ref.dst = got.dst = {1, -2, 0, 4};
  const Comparison c = exact(p, got, ref);
  EXPECT_TRUE(c.pass);
  EXPECT_EQ(c.max_rel_err, 0);
  EXPECT_EQ(c.err_ratio, 0);
  EXPECT_FALSE(c.inexact);
}

TEST(Compare, NamesTheFirstBadElementWithItsBoundAndCountsMismatches) {
  const Problem p = tiny();
  ConvTensors ref, got;
  ref.dst = {1, 4, 8, 0};
  got.dst = {1, 3, 9, 0};
  const Comparison c = exact(p, got, ref);
  EXPECT_FALSE(c.pass);
  EXPECT_EQ(c.mismatches, 2);
  EXPECT_DOUBLE_EQ(c.max_rel_err, 0.25);
  EXPECT_EQ(c.first_bad, 1);
  EXPECT_NE(c.message.find("dst[1] got 3 expected 4 (abs err 1, bound"), std::string::npos)
      << c.message;
  EXPECT_NE(c.message.find("2 of 4 elements exceed the exact bound"), std::string::npos)
      << c.message;
}

TEST(Compare, NanAndInfNeverPassWhateverTheClass) {
  const Problem p = tiny();
  ConvTensors ref, got, mag;
  ref.dst = {1, 2, 3, 4};
  mag.dst = {1e30f, 1e30f, 1e30f, 1e30f};
  got.dst = {1, std::numeric_limits<float>::quiet_NaN(), 3, 4};
  Comparison c = compare_outputs(p, got, ref, AlgoClass::fft, &mag);
  EXPECT_FALSE(c.pass);
  EXPECT_EQ(c.nonfinite, 1);
  got.dst[1] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(compare_outputs(p, got, ref, AlgoClass::winograd, &mag).pass);
}

TEST(Compare, AnAllZeroResultIsNotTrustedWhenTheReferenceIsNot) {
  const Problem p = tiny();
  ConvTensors ref, got, mag;
  ref.dst = {0, 0, 1, 0};
  mag.dst = {1e6f, 1e6f, 1e6f, 1e6f};
  got.dst = {0, 0, 0, 0};
  const Comparison c = compare_outputs(p, got, ref, AlgoClass::fft, &mag);
  EXPECT_FALSE(c.pass);
  EXPECT_TRUE(c.all_zero);
  EXPECT_EQ(c.message.rfind("all-zero output not trusted", 0), 0u) << c.message;
  ref.dst = {0, 0, 0, 0};
  EXPECT_TRUE(exact(p, got, ref).pass);
}

TEST(Compare, ChecksEveryOutputOfTheDirection) {
  Problem p = tiny();
  p.dir = Dir::BWD_WB;
  ConvTensors ref, got;
  ref.wei = got.wei = {2};
  ref.bia = {5};
  got.bia = {6};
  const Comparison c = exact(p, got, ref);
  EXPECT_FALSE(c.pass);
  EXPECT_NE(c.message.find("bia[0]"), std::string::npos) << c.message;
}

TEST(Bounds, ExactClassesNeedNoMagnitudesWhereTheFillsKeepSumsExact) {
  for (DataType dt : {DataType::f32, DataType::f16, DataType::bf16}) {
    EXPECT_FALSE(needs_magnitudes(resnet_3x3(dt), AlgoClass::exact)) << to_string(dt);
    EXPECT_TRUE(needs_magnitudes(resnet_3x3(dt), AlgoClass::fft)) << to_string(dt);
    // Winograd's bound is over the fills' distribution; the FFT's is normwise in M.
    EXPECT_FALSE(needs_magnitudes(resnet_3x3(dt), AlgoClass::winograd)) << to_string(dt);
  }
  // TF32 and f16 accumulation are exact on the fills' integers; bf16 accumulation is not.
  EXPECT_FALSE(needs_magnitudes(resnet_3x3(DataType::f32), AlgoClass::reduced));
  EXPECT_FALSE(needs_magnitudes(resnet_3x3(DataType::f16), AlgoClass::reduced));
  EXPECT_TRUE(needs_magnitudes(resnet_3x3(DataType::bf16), AlgoClass::reduced));
}

TEST(Bounds, AnExactF32ResultMayDifferByNothingButItsFinalRounding) {
  const Problem p = resnet_3x3();
  const ErrorModel e = error_model(p, AlgoClass::exact);
  EXPECT_EQ(e.u_store, std::ldexp(1.0, -24));
  EXPECT_EQ(e.u_input, 0);
  EXPECT_EQ(e.k, 64 * 9 + 1);
  ConvTensors ref, got;
  ref.dst.assign(p.dst_elems(), 1000);
  got.dst = ref.dst;
  got.dst[7] = 1001;
  EXPECT_FALSE(exact(p, got, ref).pass) << "one unit is a fault on integer data";
}

TEST(Bounds, WinogradsBoundGrowsWithTheTileAndWithTf32) {
  const double b23 = winograd_growth(2, 3), b43 = winograd_growth(4, 3),
               b63 = winograd_growth(6, 3);
  EXPECT_GE(b23, 1.0);
  EXPECT_LT(b23, b43);
  EXPECT_LT(b43, b63);
  const Problem p = resnet_3x3();
  auto term = [&](AlgoClass c) { return error_model(p, c).abs_term; };
  EXPECT_GT(term(AlgoClass::winograd_4x4), 0);
  EXPECT_LT(term(AlgoClass::winograd_4x4), term(AlgoClass::winograd_6x6));
  EXPECT_EQ(term(AlgoClass::winograd), term(AlgoClass::winograd_6x6));
  EXPECT_LT(term(AlgoClass::winograd_6x6), term(AlgoClass::winograd_13x13));
  EXPECT_LT(100 * term(AlgoClass::winograd_6x6), term(AlgoClass::winograd_tf32));
}

TEST(Bounds, Tf32ResultsMayCarryElevenBitsAndSayTheyAreInexact) {
  Problem p = tiny();
  ConvTensors ref, got;
  ref.dst = {2161, -3413, 7, 0};
  got.dst = {2160, -3412, 7, 0};  // rounded to 11 significant bits, as tensor-core engines do
  const Comparison c = compare_outputs(p, got, ref, AlgoClass::reduced, nullptr);
  EXPECT_TRUE(c.pass) << c.message;
  EXPECT_TRUE(c.inexact);
  got.dst[2] = 8;  // one unit on a small output is beyond TF32's precision
  EXPECT_FALSE(compare_outputs(p, got, ref, AlgoClass::reduced, nullptr).pass);
}

TEST(Bounds, AnInexactOkSaysSoAndTheFftBoundIsNormwise) {
  Problem p = tiny();
  ConvTensors ref, got, mag;
  ref.dst = {1000, -3, 7, 0};
  mag.dst = {1e6f, 1e6f, 1e6f, 1e6f};
  got.dst = {1000, -3.001f, 7, 0};  // 1e-3 on an output whose terms reach 1e6
  const Comparison c = compare_outputs(p, got, ref, AlgoClass::fft, &mag);
  EXPECT_TRUE(c.pass) << c.message;
  EXPECT_TRUE(c.inexact);
  EXPECT_GT(c.err_ratio, 0);
  EXPECT_LT(c.err_ratio, 1);
  EXPECT_FALSE(exact(p, got, ref).pass);
  got.dst[3] = 100;  // far beyond any rounding of 1e6-sized terms
  const Comparison bad = compare_outputs(p, got, ref, AlgoClass::fft, &mag);
  EXPECT_FALSE(bad.pass);
  EXPECT_NE(bad.message.find("normwise error"), std::string::npos) << bad.message;
  EXPECT_NE(bad.message.find("dst[3] got 100"), std::string::npos) << bad.message;
}

}  // namespace
}  // namespace convguard
