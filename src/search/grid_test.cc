#include "search/grid.h"

#include <gtest/gtest.h>

namespace convguard {
namespace {

Problem fwd_base() {
  Problem b;
  b.dir = Dir::FWD_D;
  b.mb = 1;
  return b;
}

std::vector<Problem> expand_ok(std::string_view spec, GridStats* stats = nullptr) {
  auto r = expand_grid(spec, fwd_base(), stats);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : std::vector<Problem>{};
}

std::string expand_error(std::string_view spec, size_t cap = kMaxGridCombinations) {
  auto r = expand_grid(spec, fwd_base(), nullptr, cap);
  EXPECT_FALSE(r.ok()) << spec;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  return r.status().message();
}

TEST(Grid, ExpandsTheIssueExampleInSpecOrderWithTheLastFieldFastest) {
  GridStats st;
  auto ps = expand_ok("mb=1 ic=15,16,17,31 oc=ic+16,ic*2+1 ih=32:64:2 kh=3 ph=1", &st);
  ASSERT_EQ(ps.size(), 4u * 2u * 17u);
  EXPECT_EQ(st.skipped, 0u);
  EXPECT_EQ(st.combinations, ps.size());
  EXPECT_EQ(key(ps[0]), "--dir=FWD_D --dt=f32 g1mb1ic15ih32iw32oc31oh32ow32kh3kw3sh1sw1ph1pw1dh0dw0");
  EXPECT_EQ(ps[1].ih, 34);
  EXPECT_EQ(ps[16].ih, 64);
  EXPECT_EQ(ps[17].oc, 31);  // ic*2+1 for ic=15
  EXPECT_EQ(ps[34].ic, 16);
  EXPECT_EQ(ps[34].oc, 32);
}

TEST(Grid, ListsRangesAndStepsMix) {
  auto ps = expand_ok("ic=1,4:6,10:20:5 oc=8 ih=8 kh=1");
  std::vector<int64_t> ics;
  for (const auto& p : ps) ics.push_back(p.ic);
  EXPECT_EQ(ics, (std::vector<int64_t>{1, 4, 5, 6, 10, 15, 20}));
}

TEST(Grid, RangeWithAStepThatDoesNotLandOnHiStopsBelowIt) {
  auto ps = expand_ok("ic=4 oc=4 ih=8:13:2 kh=1");
  ASSERT_EQ(ps.size(), 3u);
  EXPECT_EQ(ps.back().ih, 12);
}

TEST(Grid, ExpressionsHonourPrecedenceParenthesesAndUnaryMinus) {
  auto ps = expand_ok("ic=4 oc=(ic+2)*3-ic/2 ih=10 kh=3 ph=-(-1)");
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].oc, 16);
  EXPECT_EQ(ps[0].ph, 1);
  EXPECT_EQ(ps[0].oh, 10);
}

TEST(Grid, AFieldMayUseOneAssignedLaterInTheSpec) {
  auto ps = expand_ok("oc=ic*2 ic=3,5 ih=8 kh=1");
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0].oc, 6);
  EXPECT_EQ(ps[1].oc, 10);
}

TEST(Grid, RangeBoundsMayBeExpressions) {
  auto ps = expand_ok("ic=2,3 oc=ic:ic*2 ih=8 kh=1");
  EXPECT_EQ(ps.size(), 3u + 4u);
}

TEST(Grid, WidthFieldsFollowTheirHeightCounterpartsAndOutputsAreDeduced) {
  auto ps = expand_ok("ic=4 oc=8 ih=20 kh=5 sh=2 ph=2 dh=1");
  ASSERT_EQ(ps.size(), 1u);
  const Problem& p = ps[0];
  EXPECT_EQ(p.iw, 20);
  EXPECT_EQ(p.kw, 5);
  EXPECT_EQ(p.sw, 2);
  EXPECT_EQ(p.pw, 2);
  EXPECT_EQ(p.dw, 1);
  EXPECT_EQ(p.oh, conv_out_size(20, 5, 2, 2, 1));
  EXPECT_EQ(p.ow, p.oh);
}

TEST(Grid, AnExplicitWidthIsKeptAndExpressionsMayReadAPromotedOne) {
  auto ps = expand_ok("ic=4 oc=iw ih=20 iw=12 kh=3");
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].iw, 12);
  EXPECT_EQ(ps[0].oc, 12);
  EXPECT_EQ(ps[0].ow, 10);
  auto qs = expand_ok("ic=4 oc=kw+1 ih=20 kh=3");
  EXPECT_EQ(qs[0].oc, 4);
}

TEST(Grid, UnassignedFieldsKeepTheBaseValues) {
  Problem base = fwd_base();
  base.mb = 7;
  base.dt = DataType::f16;
  auto r = expand_grid("ic=4 oc=4 ih=8 kh=1", base);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)[0].mb, 7);
  EXPECT_EQ((*r)[0].dt, DataType::f16);
}

TEST(Grid, DirDataTypeAndLayoutTakeNameLists) {
  auto ps = expand_ok("dir=FWD_D,BWD_D dt=f32,f16 layout=nhwc ic=4 oc=4 ih=8 kh=1");
  ASSERT_EQ(ps.size(), 4u);
  EXPECT_EQ(ps[1].dir, Dir::FWD_D);
  EXPECT_EQ(ps[1].dt, DataType::f16);
  EXPECT_EQ(ps[2].dir, Dir::BWD_D);
  EXPECT_EQ(ps[3].layout, Layout::nhwc);
}

TEST(Grid, InvalidCombinationsAreSkippedAndCounted) {
  GridStats st;
  auto ps = expand_ok("ic=4 oc=4 ih=1:6 kh=3", &st);
  EXPECT_EQ(ps.size(), 4u);  // ih=1,2 leave no output
  EXPECT_EQ(st.combinations, 6u);
  EXPECT_EQ(st.skipped, 2u);
  EXPECT_NE(st.first_skip.find("output is empty"), std::string::npos) << st.first_skip;
}

TEST(Grid, DivisionByZeroInOneBranchSkipsOnlyThatBranch) {
  GridStats st;
  auto ps = expand_ok("ic=0,4 oc=8/ic*ic ih=8 kh=1", &st);
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].oc, 8);
  EXPECT_EQ(st.skipped, 1u);
  EXPECT_NE(st.first_skip.find("division by zero"), std::string::npos);
}

TEST(Grid, EveryCombinationInvalidIsAnErrorQuotingTheFirstReason) {
  const auto m = expand_error("ic=4 oc=6 g=4 ih=8 kh=1");
  EXPECT_NE(m.find("every one of 1 combinations is invalid"), std::string::npos) << m;
  EXPECT_NE(m.find("oc=6"), std::string::npos) << m;
}

TEST(Grid, UnknownFieldIsNamedWithItsColumn) {
  EXPECT_EQ(expand_error("mb=1 oc=32 icc=16"), "grid: unknown field 'icc' at column 12");
}

TEST(Grid, UnknownFieldInsideAnExpressionIsNamedWithItsColumn) {
  EXPECT_EQ(expand_error("ic=4 oc=ic+x2"), "grid: unknown field 'x2' in expression at column 12");
}

TEST(Grid, EmptyRangeIsNamed) {
  EXPECT_EQ(expand_error("ic=4 ih=64:32"), "grid: range 64:32 is empty at column 9");
}

TEST(Grid, NonPositiveStepIsNamed) {
  EXPECT_EQ(expand_error("ih=8:16:0"), "grid: range step 0 is not positive in '8:16:0' at column 4");
}

TEST(Grid, AssignmentWithoutEqualsIsNamed) {
  EXPECT_EQ(expand_error("ic=4 oc"), "grid: expected FIELD=VALUES at column 6, got 'oc'");
  EXPECT_EQ(expand_error("=4"), "grid: expected FIELD=VALUES at column 1, got '=4'");
}

TEST(Grid, MissingValueIsNamed) {
  EXPECT_EQ(expand_error("ic= oc=4"), "grid: no value for 'ic' at column 4");
}

TEST(Grid, SyntaxErrorsNameTheCharacterAndColumn) {
  EXPECT_EQ(expand_error("ic=4 oc=(ic+1"), "grid: unexpected end of '(ic+1' at column 14");
  EXPECT_EQ(expand_error("ic=4 oc=ic+*2"), "grid: unexpected '*' at column 12");
  EXPECT_EQ(expand_error("ic=4,,5"), "grid: unexpected ',' at column 6");
  EXPECT_EQ(expand_error("ic=4 oc=3%2"), "grid: unexpected '%' at column 10");
}

TEST(Grid, DuplicateFieldIsNamedWithBothColumns) {
  EXPECT_EQ(expand_error("ic=4 oc=4 ic=8"), "grid: field 'ic' is assigned twice (columns 1 and 11)");
}

TEST(Grid, HugeNumberIsNamed) {
  EXPECT_EQ(expand_error("ic=99999999999999999999"),
            "grid: number '99999999999999999999' is too large at column 4");
}

TEST(Grid, ExpressionsNestedTooDeeplyAreAnErrorRatherThanAStackOverflow) {
  EXPECT_EQ(expand_error("ic=" + std::string(100000, '-') + "1"),
            "grid: expression nested deeper than 64 at column 68");
  EXPECT_EQ(expand_error("ic=" + std::string(100000, '(') + "1"),
            "grid: expression nested deeper than 64 at column 68");
  std::string chain = "ic=1";
  for (int i = 0; i < 50000; ++i) chain += "+1";
  EXPECT_EQ(expand_error(chain), "grid: expression nested deeper than 64 at column 133");
  std::string deep_enough = "oc=4 ih=8 kh=1 ic=" + std::string(63, '(') + "4" + std::string(63, ')');
  auto r = expand_grid(deep_enough, fwd_base(), nullptr);
  EXPECT_TRUE(r.ok()) << r.status().message();
}

TEST(Grid, EnumFieldsRejectBadNamesAndCannotBeUsedInExpressions) {
  const auto m = expand_error("dir=FWD_D,SIDEWAYS ic=4");
  EXPECT_NE(m.find("dir=SIDEWAYS"), std::string::npos) << m;
  EXPECT_NE(m.find("column 11"), std::string::npos) << m;
  EXPECT_EQ(expand_error("ic=dir+1"), "grid: field 'dir' cannot be used in an expression at column 4");
}

TEST(Grid, CyclicReferencesAreNamed) {
  EXPECT_EQ(expand_error("ic=oc+1 oc=ic*2 ih=8 kh=1"), "grid: cyclic reference: ic -> oc -> ic");
  EXPECT_EQ(expand_error("ic=ic+1"), "grid: cyclic reference: ic -> ic");
  // oh is deduced from ih, so ih cannot be defined from oh.
  EXPECT_EQ(expand_error("ic=4 oc=4 ih=oh+2 kh=3"), "grid: cyclic reference: ih -> oh -> ih");
}

TEST(Grid, EmptySpecIsAnError) {
  EXPECT_NE(expand_error("   ").find("empty spec"), std::string::npos);
}

TEST(Grid, GridLargerThanTheCapIsRefusedClearly) {
  auto m = expand_error("ic=1:100 oc=1:100 ih=8 kh=1", 1000);
  EXPECT_EQ(m, "grid: more than 1000 combinations; narrow the ranges or split the grid");
  m = expand_error("ih=1:1000000000", 1000);
  EXPECT_EQ(m, "grid: range 1:1000000000 has more than 1000 values at column 4");
}

TEST(Grid, FieldAccessByNameCoversEveryShapeField) {
  Problem p;
  int64_t v = 1;
  for (auto f : shape_fields()) ASSERT_TRUE(set_field(p, f, v++)) << f;
  v = 1;
  for (auto f : shape_fields()) EXPECT_EQ(get_field(p, f), v++) << f;
  EXPECT_FALSE(get_field(p, "dir").has_value());
  EXPECT_FALSE(set_field(p, "bogus", 1));
  EXPECT_EQ(width_twin("ih"), "iw");
  EXPECT_EQ(width_twin("ph"), "pw");
  EXPECT_EQ(width_twin("ic"), "");
}

}  // namespace
}  // namespace convguard
