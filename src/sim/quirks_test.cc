#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "convguard/sim.h"

namespace convguard {
namespace {

Problem conv(int64_t ih, int64_t iw, int64_t kh = 3, Dir dir = Dir::FWD_D) {
  Problem p;
  p.dir = dir;
  p.mb = 1;
  p.ic = 16;
  p.oc = 32;
  p.ih = ih;
  p.iw = iw;
  p.kh = p.kw = kh;
  p.ph = p.pw = kh / 2;
  p.oh = conv_out_size(ih, kh, 1, p.ph, 0);
  p.ow = conv_out_size(iw, kh, 1, p.pw, 0);
  return p;
}

Quirks parse_ok(const std::string& text) {
  auto q = parse_quirks(text, "t.json");
  EXPECT_TRUE(q.ok()) << q.status().to_string();
  return q.ok() ? *q : Quirks{};
}

std::string rules(const std::string& body) { return R"({"name": "t", "rules": [)" + body + "]}"; }

// Index of the rule chosen for an execute of p with algorithm `algo` after `calls` executions.
int chosen(const Quirks& q, const Problem& p, const std::string& algo = "default",
           int64_t calls = 0) {
  return choose_rule(q, Phase::execute, &p, {algo}, calls);
}

std::string error_of(const std::string& text) {
  auto q = parse_quirks(text, "rx.json");
  EXPECT_FALSE(q.ok()) << text;
  if (q.ok()) return "";
  EXPECT_EQ(q.status().code(), Code::kInvalid);
  return q.status().message();
}

TEST(QuirksParse, ReadsEveryFieldOfARule) {
  Quirks q = parse_ok(R"({"name": "n", "description": "d", "rules": [
      {"when": {"ih": [44, null]}, "effect": "slow", "factor": 2.5, "after_calls": 3,
       "phase": "prepare", "probability": 0.25, "message": "m"}]})");
  ASSERT_EQ(q.rules.size(), 1u);
  const QuirkRule& r = q.rules[0];
  EXPECT_EQ(q.name, "n");
  EXPECT_EQ(q.description, "d");
  EXPECT_EQ(r.effect, Effect::slow);
  EXPECT_DOUBLE_EQ(r.factor, 2.5);
  EXPECT_EQ(r.after_calls, 3);
  EXPECT_EQ(r.phase, Phase::prepare);
  EXPECT_DOUBLE_EQ(r.probability, 0.25);
  EXPECT_EQ(r.message, "m");
  ASSERT_EQ(r.when.size(), 1u);
  EXPECT_EQ(r.when[0].field, "ih");
  EXPECT_EQ(r.when[0].ranges[0].lo, 44);
  EXPECT_FALSE(r.when[0].ranges[0].hi.has_value());
  EXPECT_EQ(q.content_hash.size(), 16u);
}

TEST(QuirksParse, DefaultsAreExecuteAlwaysAndCertain) {
  Quirks q = parse_ok(rules(R"({"effect": "hang"})"));
  ASSERT_EQ(q.rules.size(), 1u);
  EXPECT_TRUE(q.rules[0].when.empty());
  EXPECT_EQ(q.rules[0].phase, Phase::execute);
  EXPECT_EQ(q.rules[0].after_calls, 0);
  EXPECT_DOUBLE_EQ(q.rules[0].probability, 1);
}

TEST(QuirksParse, AcceptsEveryEffectName) {
  for (const char* e : {"hang", "wedge", "crash", "abort", "error", "wrong"}) {
    Quirks q = parse_ok(rules(std::string(R"({"effect": ")") + e + "\"}"));
    ASSERT_EQ(q.rules.size(), 1u);
    EXPECT_STREQ(to_string(q.rules[0].effect), e);
  }
}

TEST(QuirksParse, HashChangesWithTheContent) {
  EXPECT_NE(parse_ok(rules("")).content_hash, parse_ok(rules(" ")).content_hash);
}

TEST(QuirksValidate, UnknownEffectNamesRuleAndValue) {
  EXPECT_EQ(error_of(rules(R"({"effect": "hang"}, {"effect": "hang"}, {"effect": "explode"})")),
            "quirks rx.json: rule 2: unknown effect \"explode\"");
}

TEST(QuirksValidate, RejectsEachBadFieldNamingIt) {
  struct Case {
    const char* rule;
    const char* expect;
  } cases[] = {
      {R"({"efect": "hang"})", "rule 0: unknown field \"efect\""},
      {R"({"when": {"ihh": 3}, "effect": "hang"})", "rule 0: when: unknown field \"ihh\""},
      {R"({"when": {"ih": [50, 44]}, "effect": "hang"})", "when.ih: range [50,44] has lo > hi"},
      {R"({"when": {"ih": "big"}, "effect": "hang"})", "when.ih: expected an integer"},
      {R"({"when": {"ih": 4.5}, "effect": "hang"})", "when.ih: expected an integer"},
      {R"({"when": {"ih": [1, 2, "x"]}, "effect": "hang"})", "when.ih: expected an integer"},
      {R"({"when": {"ih": []}, "effect": "hang"})", "when.ih: empty list"},
      {R"({"when": {"ih": {"any": [1]}}, "effect": "hang"})", "when.ih: an object must be"},
      {R"({"when": {"dir": "SIDEWAYS"}, "effect": "hang"})", "when.dir: bad value \"SIDEWAYS\""},
      {R"({"when": {"dt": 32}, "effect": "hang"})", "when.dt: expected a string"},
      {R"({"when": [1], "effect": "hang"})", "when: expected an object"},
      {R"({"when": {}})", "effect: missing"},
      {R"({"effect": 3})", "effect: expected a string"},
      {R"({"effect": "slow"})", "factor: missing"},
      {R"({"effect": "slow", "factor": 0.5})", "factor: expected a number from 1 to 1e6, got 0.5"},
      {R"({"effect": "slow", "factor": 1e308})",
       "factor: expected a number from 1 to 1e6, got 1e+308"},
      {R"({"effect": "hang", "factor": 2})", "factor: 2 given, but only effect slow"},
      {R"({"effect": "hang", "after_calls": -1})", "after_calls: expected an integer >= 0, got -1"},
      {R"({"effect": "hang", "probability": 0})",
       "probability: expected a number in (0, 1], got 0"},
      {R"({"effect": "hang", "probability": 1.5})", "probability: expected a number in (0, 1]"},
      {R"({"effect": "hang", "message": 7})", "message: expected a string, got 7"},
      {R"({"effect": "hang", "phase": "verify"})", "phase: expected \"init\""},
      {R"({"effect": "hang", "phase": "boot"})", "phase: expected \"init\""},
      {R"({"effect": "wrong", "phase": "prepare"})", "effect wrong: only in phase execute"},
      {R"({"when": {"ih": 3}, "effect": "hang", "phase": "init"})",
       "when.ih: phase init sees no problem"},
      {R"({"effect": "hang", "phase": "init", "after_calls": 2})",
       "after_calls: not allowed in phase init"},
      {R"("hang")", "rule 0: expected an object"},
  };
  for (const Case& c : cases) {
    std::string msg = error_of(rules(c.rule));
    EXPECT_NE(msg.find("quirks rx.json: rule 0: "), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << "rule " << c.rule << "\n got: " << msg;
  }
}

TEST(QuirksValidate, RejectsBadTopLevels) {
  EXPECT_NE(error_of("{").find("quirks rx.json: not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("[]").find("expected a JSON object"), std::string::npos);
  EXPECT_NE(error_of(R"({"rules": []})").find("name: expected a non-empty string"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"name": "x"})").find("rules: expected an array"), std::string::npos);
  EXPECT_NE(error_of(R"({"name": "x", "rules": [], "extra": 1})").find("unknown field \"extra\""),
            std::string::npos);
}

TEST(QuirksLoad, MissingFileIsInvalidNamingThePath) {
  auto q = load_quirks("/nonexistent/dir/q.json");
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), Code::kInvalid);
  EXPECT_NE(q.status().message().find("/nonexistent/dir/q.json"), std::string::npos);
}

TEST(QuirksMatch, ExactValue) {
  Quirks q = parse_ok(rules(R"({"when": {"ih": 44}, "effect": "hang"})"));
  EXPECT_EQ(chosen(q, conv(44, 44)), 0);
  EXPECT_EQ(chosen(q, conv(43, 44)), -1);
}

TEST(QuirksMatch, ListOfValuesAndOfRanges) {
  Quirks q = parse_ok(rules(R"({"when": {"ih": [[44, 48], [56, 60], 70]}, "effect": "hang"},
                               {"when": {"iw": {"in": [5, 9]}}, "effect": "crash"})"));
  for (int64_t ih : {44, 46, 48, 56, 60, 70}) EXPECT_EQ(chosen(q, conv(ih, 1)), 0) << ih;
  for (int64_t ih : {43, 49, 55, 61, 69, 71}) EXPECT_EQ(chosen(q, conv(ih, 1)), -1) << ih;
  EXPECT_EQ(chosen(q, conv(3, 5)), 1);
  EXPECT_EQ(chosen(q, conv(3, 9)), 1);
  EXPECT_EQ(chosen(q, conv(3, 7)), -1);  // {"in": [5, 9]} is two values, not a range
}

TEST(QuirksMatch, RangesWithOpenEnds) {
  Quirks q = parse_ok(rules(R"({"when": {"ih": [null, 8]}, "effect": "hang"},
                               {"when": {"ih": [44, null]}, "effect": "crash"},
                               {"when": {"ih": [20, 30]}, "effect": "abort"},
                               {"when": {"iw": [null, null]}, "effect": "error"})"));
  EXPECT_EQ(chosen(q, conv(1, 1)), 0);
  EXPECT_EQ(chosen(q, conv(8, 1)), 0);
  EXPECT_EQ(chosen(q, conv(44, 1)), 1);
  EXPECT_EQ(chosen(q, conv(1000, 1)), 1);
  EXPECT_EQ(chosen(q, conv(20, 1)), 2);
  EXPECT_EQ(chosen(q, conv(30, 1)), 2);
  EXPECT_EQ(chosen(q, conv(31, 1)), 3);
}

TEST(QuirksMatch, AlgoDirAndDtAreStrings) {
  Quirks q = parse_ok(rules(R"({"when": {"algo": "winograd"}, "effect": "wrong"},
                               {"when": {"dir": ["bwd_d", "BWD_W"], "dt": "f16"}, "effect": "hang"},
                               {"when": {"layout": "axb"}, "effect": "error"})"));
  Problem p = conv(8, 8);
  EXPECT_EQ(chosen(q, p, "winograd"), 0);
  EXPECT_EQ(choose_rule(q, Phase::execute, &p, {"default", "winograd"}, 0), 0);
  EXPECT_EQ(chosen(q, p, "direct"), -1);
  p.dir = Dir::BWD_D;
  EXPECT_EQ(chosen(q, p), -1);  // f32
  p.dt = DataType::f16;
  EXPECT_EQ(chosen(q, p), 1);
  p.dir = Dir::BWD_WB;
  EXPECT_EQ(chosen(q, p), -1);
  p.layout = Layout::nhwc;
  EXPECT_EQ(chosen(q, p), 2);
}

TEST(QuirksMatch, AllConditionsMustHold) {
  Quirks q =
      parse_ok(rules(R"({"when": {"ih": [44, null], "kh": 3, "oc": 32}, "effect": "hang"})"));
  EXPECT_EQ(chosen(q, conv(44, 44)), 0);
  EXPECT_EQ(chosen(q, conv(44, 44, 5)), -1);
  Problem p = conv(44, 44);
  p.oc = 33;
  EXPECT_EQ(chosen(q, p), -1);
}

TEST(QuirksMatch, FirstMatchingRuleWins) {
  Quirks q = parse_ok(rules(R"({"when": {"ih": [44, null]}, "effect": "hang"},
                               {"when": {"ih": [40, null]}, "effect": "crash"},
                               {"effect": "wrong"})"));
  EXPECT_EQ(chosen(q, conv(50, 1)), 0);
  EXPECT_EQ(chosen(q, conv(42, 1)), 1);
  EXPECT_EQ(chosen(q, conv(2, 1)), 2);
}

TEST(QuirksMatch, RulesApplyOnlyInTheirPhase) {
  Quirks q = parse_ok(rules(R"({"effect": "hang", "phase": "prepare"},
                               {"effect": "crash", "phase": "init"})"));
  Problem p = conv(8, 8);
  EXPECT_EQ(choose_rule(q, Phase::prepare, &p, {"default"}, 0), 0);
  EXPECT_EQ(choose_rule(q, Phase::execute, &p, {"default"}, 0), -1);
  EXPECT_EQ(choose_rule(q, Phase::init, nullptr, {}, 0), 1);
}

TEST(QuirksMatch, AfterCallsDefersARuleAndLetsLaterOnesMatchMeanwhile) {
  Quirks q = parse_ok(rules(R"({"when": {"oc": 32}, "effect": "crash", "after_calls": 3},
                               {"when": {"oc": 32}, "effect": "wrong"})"));
  Problem p = conv(8, 8);
  for (int64_t calls = 0; calls < 3; ++calls) EXPECT_EQ(chosen(q, p, "default", calls), 1);
  EXPECT_EQ(chosen(q, p, "default", 3), 0);
  EXPECT_EQ(chosen(q, p, "default", 10), 0);
}

TEST(QuirksMatch, ProbabilityIsDeterministicAndNearItsRate) {
  Quirks q = parse_ok(rules(R"({"effect": "hang", "probability": 0.5})"));
  const QuirkRule& r = q.rules[0];
  const std::string k = key(conv(44, 44));
  int fired = 0, same = 0;
  for (int64_t calls = 0; calls < 1000; ++calls) {
    bool a = rule_fires(r, 7, Phase::execute, k, calls);
    fired += a;
    same += a == rule_fires(r, 7, Phase::execute, k, calls);
  }
  EXPECT_EQ(same, 1000);
  EXPECT_GT(fired, 400);
  EXPECT_LT(fired, 600);
  int differ = 0;
  for (int64_t calls = 0; calls < 64; ++calls)
    differ +=
        rule_fires(r, 7, Phase::execute, k, calls) != rule_fires(r, 8, Phase::execute, k, calls);
  EXPECT_GT(differ, 0) << "the seed must change the coin";
  EXPECT_TRUE(
      rule_fires(parse_ok(rules(R"({"effect": "hang"})")).rules[0], 7, Phase::execute, k, 0));
}

class ShippedQuirks : public ::testing::TestWithParam<const char*> {};

TEST_P(ShippedQuirks, ParseCleanly) {
  auto q = load_quirks(std::string(CONVGUARD_SOURCE_DIR) + "/quirks/" + GetParam());
  ASSERT_TRUE(q.ok()) << q.status().to_string();
  EXPECT_FALSE(q->rules.empty());
}

INSTANTIATE_TEST_SUITE_P(All, ShippedQuirks,
                         ::testing::Values("rx5600xt-rocm57.json", "nonmonotonic.json",
                                           "flaky.json", "cpu-only.json", "mixed-faults.json"));

TEST(ShippedQuirks, Rx5600xtHangsForwardThreeByThreeFrom44WhateverTheChannels) {
  auto q = load_quirks(std::string(CONVGUARD_SOURCE_DIR) + "/quirks/rx5600xt-rocm57.json");
  ASSERT_TRUE(q.ok()) << q.status().to_string();
  for (Dir d : {Dir::FWD_D, Dir::FWD_B}) {
    for (int64_t ic : {15, 16, 17, 31}) {
      Problem p = conv(44, 44, 3, d);
      p.ic = ic;
      EXPECT_GE(chosen(*q, p), 0) << ic;
      EXPECT_EQ(q->rules[static_cast<size_t>(chosen(*q, p))].effect, Effect::hang);
      p = conv(42, 42, 3, d);
      p.ic = ic;
      EXPECT_EQ(chosen(*q, p), -1) << ic;
    }
    EXPECT_GE(chosen(*q, conv(64, 64, 3, d)), 0);
    EXPECT_GE(chosen(*q, conv(8, 44, 3, d)), 0);
    EXPECT_GE(chosen(*q, conv(44, 8, 3, d)), 0);
    EXPECT_EQ(chosen(*q, conv(64, 64, 1, d)), -1);
  }
  EXPECT_EQ(chosen(*q, conv(64, 64, 3, Dir::BWD_D)), -1);
}

TEST(ShippedQuirks, NonmonotonicHasTwoIslands) {
  auto q = load_quirks(std::string(CONVGUARD_SOURCE_DIR) + "/quirks/nonmonotonic.json");
  ASSERT_TRUE(q.ok()) << q.status().to_string();
  for (int64_t s : {44, 48, 56, 60}) EXPECT_GE(chosen(*q, conv(s, s)), 0) << s;
  for (int64_t s : {42, 49, 52, 55, 61, 64}) EXPECT_EQ(chosen(*q, conv(s, s)), -1) << s;
}

}  // namespace
}  // namespace convguard
