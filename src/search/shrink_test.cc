#include "search/shrink.h"

#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/fake_probers.h"

namespace convguard {
namespace {

using testing::FakeProber;
using testing::seed_rule;

Problem parse(const char* text) {
  auto p = parse_problem(text);
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return *p;
}

ShrinkResult shrink_ok(FakeProber& prober, const Problem& from, ShrinkOptions opt = {}) {
  auto r = shrink(prober, from, opt);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : ShrinkResult{};
}

// The result fails like the start, and no single-field smaller neighbour does.
void expect_minimal(const FakeProber::Rule& rule, const ShrinkResult& r) {
  std::mt19937 rng(1);
  EXPECT_EQ(rule(r.to, rng), r.outcome) << key(r.to);
  EXPECT_TRUE(r.minimal);
  const auto ns = smaller_neighbours(r.to);
  EXPECT_FALSE(ns.empty());
  for (const Problem& n : ns) EXPECT_NE(rule(n, rng), r.outcome) << key(n);
}

TEST(Shrink, ReducesTheSeedHangToItsSmallestForm) {
  FakeProber prober(seed_rule);
  const Problem from = parse("--dir=FWD_D mb8ic64ih96oc128kh3ph1");
  auto r = shrink_ok(prober, from);
  EXPECT_EQ(r.outcome, Outcome::hang);
  EXPECT_EQ(r.phase, Phase::execute);
  EXPECT_EQ(r.to.mb, 1);
  EXPECT_EQ(r.to.ic, 1);
  EXPECT_EQ(r.to.oc, 1);
  EXPECT_EQ(r.to.ih, 44);
  EXPECT_EQ(r.to.kh, 3);
  EXPECT_EQ(r.to.iw, 1);  // the rule never looks at the width
  EXPECT_EQ(r.result.outcome, Outcome::hang);
  EXPECT_EQ(r.result.problem, key(r.to));
  EXPECT_LE(r.probes, 200);
  EXPECT_EQ(r.probes, prober.probes);
  expect_minimal(seed_rule, r);
}

TEST(Shrink, IsDeterministicAndNeverProbesAProblemTwice) {
  const Problem from = parse("--dir=FWD_D mb8ic64ih96oc128kh3ph1");
  FakeProber a(seed_rule), b(seed_rule);
  auto ra = shrink_ok(a, from), rb = shrink_ok(b, from);
  EXPECT_EQ(key(ra.to), key(rb.to));
  EXPECT_EQ(ra.steps, rb.steps);
  std::set<std::string> keys;
  for (const auto& p : a.problems) EXPECT_TRUE(keys.insert(key(p)).second) << key(p);
}

Outcome grouped_rule(const Problem& p, std::mt19937&) {
  // Crashes with several groups of at least 4 input channels each, strided, from 9x9 up.
  return p.g >= 2 && p.ic / p.g >= 4 && p.sh >= 2 && p.ih >= 9 ? Outcome::crash : Outcome::ok;
}

TEST(Shrink, KeepsGroupDivisibilityAndTheFactorsThatMatter) {
  FakeProber prober(grouped_rule);
  const Problem from = parse("--dir=BWD_D g4mb4ic64ih33oc32kh5sh3ph2dh1");
  auto r = shrink_ok(prober, from);
  EXPECT_EQ(r.to.g, 2);
  EXPECT_EQ(r.to.ic, 8);
  EXPECT_EQ(r.to.oc, 2);
  EXPECT_EQ(r.to.sh, 2);
  EXPECT_EQ(r.to.ih, 9);
  EXPECT_EQ(r.to.dh, 0);
  EXPECT_EQ(r.to.dir, Dir::BWD_D);
  EXPECT_TRUE(validate(r.to).ok());
  expect_minimal(grouped_rule, r);
}

Outcome two_bugs(const Problem& p, std::mt19937&) {
  if (p.ih >= 40) return Outcome::crash;
  if (p.ih >= 20) return Outcome::wrong;
  return Outcome::ok;
}

TEST(Shrink, ADifferentFailureIsNotTheSameBug) {
  FakeProber prober(two_bugs);
  auto r = shrink_ok(prober, parse("--dir=FWD_D mb2ic8ih64oc8kh3ph1"));
  EXPECT_EQ(r.outcome, Outcome::crash);
  EXPECT_EQ(r.to.ih, 40);
  expect_minimal(two_bugs, r);
}

TEST(Shrink, NonMonotonicFieldsStillEndAtAFailingProblemWithNoFailingNeighbour) {
  // Fails only for channel counts that are multiples of 8: bisection may skip past some.
  auto rule = [](const Problem& p, std::mt19937&) {
    return p.oc % 8 == 0 && p.ih >= 5 ? Outcome::wrong : Outcome::ok;
  };
  FakeProber prober(rule);
  auto r = shrink_ok(prober, parse("--dir=FWD_D mb1ic3ih30oc120kh3"));
  EXPECT_EQ(r.to.oc % 8, 0);
  expect_minimal(rule, r);
}

TEST(Shrink, AProblemThatDoesNotFailIsRefused) {
  FakeProber prober(seed_rule);
  auto r = shrink(prober, parse("--dir=FWD_D mb1ic4ih8oc4kh3ph1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("does not fail (ok)"), std::string::npos);
  FakeProber unsupported([](const Problem&, std::mt19937&) { return Outcome::unsupported; });
  EXPECT_FALSE(shrink(unsupported, parse("--dir=FWD_D mb1ic4ih8oc4kh3ph1")).ok());
}

TEST(Shrink, TheProbeBudgetIsHonouredAndTheResultStillFails) {
  FakeProber prober(seed_rule);
  ShrinkOptions opt;
  opt.max_probes = 6;
  auto r = shrink_ok(prober, parse("--dir=FWD_D mb8ic64ih96oc128kh3ph1"), opt);
  EXPECT_LE(prober.probes, 6);
  EXPECT_FALSE(r.minimal);
  std::mt19937 rng(1);
  EXPECT_EQ(seed_rule(r.to, rng), Outcome::hang);
  EXPECT_LT(r.to.mb, 8);
}

TEST(Shrink, JsonCarriesFromToOutcomeAndProbes) {
  FakeProber prober(seed_rule);
  auto r = shrink_ok(prober, parse("--dir=FWD_D mb2ic4ih48oc4kh3ph1"));
  auto j = to_json(r);
  EXPECT_EQ(j["from"], "--dir=FWD_D --dt=f32 g1mb2ic4ih48iw48oc4oh48ow48kh3kw3sh1sw1ph1pw1dh0dw0");
  EXPECT_EQ(j["to"], key(r.to));
  EXPECT_EQ(j["outcome"], "hang");
  EXPECT_EQ(j["probes"], r.probes);
  EXPECT_EQ(j["minimal"], true);
  EXPECT_TRUE(j["steps"].is_array());
}

TEST(Shrink, NeighboursAreOneStepSmallerInOneFieldAndValid) {
  const Problem p = parse("--dir=FWD_D g2mb1ic4ih3oc2kh3");
  for (const Problem& n : smaller_neighbours(p)) {
    EXPECT_TRUE(validate(n).ok()) << key(n);
    EXPECT_NE(key(n), key(p));
  }
  // ih=3 with kh=3 cannot shrink spatially; mb is already 1.
  for (const Problem& n : smaller_neighbours(p)) {
    EXPECT_EQ(n.ih, 3);
    EXPECT_EQ(n.mb, 1);
  }
}

}  // namespace
}  // namespace convguard
