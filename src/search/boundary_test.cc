#include "search/boundary.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "search/grid.h"
#include "testing/fake_probers.h"

namespace convguard {
namespace {

using testing::FakeProber;
using testing::log2_ceil;
using testing::seed_rule;

Problem seed_base() {
  auto p = parse_problem("--dir=FWD_D mb1ic16ih32oc32kh3ph1");
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return *p;
}

BoundaryOptions ih_axis(int64_t lo, int64_t hi, int64_t step) {
  BoundaryOptions o;
  o.axis = {"ih", lo, hi, step};
  o.tie = {"iw"};
  return o;
}

BoundaryResult search(FakeProber& prober, const BoundaryOptions& o, Problem base = seed_base()) {
  auto r = find_boundary(prober, base, o);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : BoundaryResult{};
}

TEST(Boundary, FindsTheSeedBoundaryOf42OkAnd44HangOnEvenSizes) {
  FakeProber prober(seed_rule);
  auto r = search(prober, ih_axis(8, 512, 2));
  ASSERT_TRUE(r.largest_ok && r.first_failing);
  EXPECT_EQ(*r.largest_ok, 42);
  EXPECT_EQ(*r.first_failing, 44);
  EXPECT_EQ(r.outcome, Outcome::hang);
  EXPECT_EQ(r.phase, Phase::execute);
  EXPECT_TRUE(r.confirmed);
  EXPECT_FALSE(r.flaky);
  EXPECT_FALSE(r.non_monotonic);
  EXPECT_EQ(r.failing_problem->iw, 44);
  EXPECT_EQ(r.ok_problem->ow, 42);
  EXPECT_EQ(r.probes, prober.probes);
  // Ends + bisection + one repeat of each side + two spot checks.
  EXPECT_LE(r.probes, 2 + log2_ceil(253) + 2 + 2);
  EXPECT_EQ(prober.batches.front(), 2u) << "both ends go in one batch";
  EXPECT_EQ(static_cast<int>(r.evidence.size()), r.probes);
}

// What a sweep of the seed's list leaves in the store: results at these sizes of the base.
std::vector<ProbeResult> stored_at(const std::vector<int64_t>& sizes, const std::string& algo = "default",
                                   Problem base = seed_base()) {
  std::vector<ProbeResult> out;
  for (int64_t s : sizes) {
    base.ih = base.iw = s;
    deduce_outputs(base);
    ProbeResult r;
    r.problem = key(base);
    r.algo = algo;
    r.outcome = s >= 44 ? Outcome::hang : Outcome::ok;
    r.phase = Phase::execute;
    out.push_back(r);
  }
  return out;
}

TEST(Boundary, StoredResultsThatBracketTheBoundaryReplaceTheEndsAndTheBisection) {
  FakeProber prober(seed_rule);
  auto o = ih_axis(8, 512, 2);
  o.stored = stored_at({32, 36, 40, 42, 44, 46, 48, 64});
  auto r = search(prober, o);
  ASSERT_TRUE(r.largest_ok && r.first_failing);
  EXPECT_EQ(*r.largest_ok, 42);
  EXPECT_EQ(*r.first_failing, 44);
  EXPECT_EQ(r.outcome, Outcome::hang);
  EXPECT_TRUE(r.confirmed);
  EXPECT_EQ(r.stored, 8);
  // One confirmation round: a repeat of each side of the pair and a spot check on each side.
  EXPECT_EQ(r.probes, 4);
  EXPECT_EQ(r.rounds, 1);
  for (const Problem& p : prober.problems) {
    EXPECT_NE(p.ih, 8) << "the low end is not probed";
    EXPECT_NE(p.ih, 512) << "the high end is not probed";
  }
  EXPECT_EQ(r.evidence.size(), 12u) << "the stored results are evidence too";
  EXPECT_NE(summary_line(r).find("probes: 4 (and 8 stored)"), std::string::npos) << summary_line(r);
  EXPECT_EQ(to_json(r)["stored"], 8);
}

TEST(Boundary, StoredResultsInsideTheEndsNarrowTheFirstBisection) {
  FakeProber with(seed_rule), without(seed_rule);
  auto o = ih_axis(8, 512, 2);
  o.stored = stored_at({40, 48});
  auto r = search(with, o);
  auto plain = search(without, ih_axis(8, 512, 2));
  ASSERT_TRUE(r.largest_ok && r.first_failing);
  EXPECT_EQ(*r.largest_ok, 42);
  EXPECT_EQ(*r.first_failing, 44);
  EXPECT_TRUE(r.confirmed);
  EXPECT_LT(r.probes, plain.probes);
}

TEST(Boundary, OnlyStoredResultsOfTheLinesProblemsAndAlgorithmAreEvidence) {
  FakeProber prober(seed_rule);
  auto o = ih_axis(8, 512, 2);
  Problem other = seed_base();
  other.oc = 64;  // another line
  o.stored = stored_at({42, 44}, "fwd.GEMM.default");
  for (auto& r : stored_at({42, 44}, "default", other)) o.stored.push_back(r);
  for (auto& r : stored_at({43})) o.stored.push_back(r);  // off the step-2 grid
  auto suspect = stored_at({44});
  suspect[0].outcome = Outcome::suspect;
  o.stored.push_back(suspect[0]);
  auto r = search(prober, o);
  EXPECT_EQ(r.stored, 0);
  EXPECT_EQ(prober.batches.front(), 2u) << "the search began at the ends";
  EXPECT_EQ(*r.first_failing, 44);
}

TEST(Boundary, NonMonotonicStoredResultsGiveNoBoundary) {
  FakeProber prober(seed_rule);
  auto o = ih_axis(8, 512, 2);
  o.stored = stored_at({42, 44});
  o.stored[1].outcome = Outcome::ok;  // 44 ok in the store ...
  auto low = stored_at({40});
  low[0].outcome = Outcome::hang;  // ... above a hang at 40
  o.stored.push_back(low[0]);
  auto r = search(prober, o);
  EXPECT_TRUE(r.non_monotonic || r.flaky);
  EXPECT_FALSE(r.largest_ok && r.first_failing && !r.non_monotonic && !r.flaky);
}

TEST(Boundary, ParallelRoundsFindTheSamePairInFewerRounds) {
  FakeProber one(seed_rule), three(seed_rule);
  auto seq = search(one, ih_axis(8, 512, 2));
  auto o = ih_axis(8, 512, 2);
  o.parallel = 3;
  auto par = search(three, o);
  ASSERT_TRUE(par.largest_ok && par.first_failing);
  EXPECT_EQ(*par.largest_ok, 42);
  EXPECT_EQ(*par.first_failing, 44);
  EXPECT_TRUE(par.confirmed);
  EXPECT_EQ(par.evidence.size(), static_cast<size_t>(par.probes));
  // Ends, then 4-ary rounds (log4 of 253 is 4), then the confirmation round.
  EXPECT_LE(par.rounds, 1 + 4 + 1);
  EXPECT_LT(par.rounds, seq.rounds);
  EXPECT_EQ(three.batches[1], 3u) << "a bisection round probes three values at once";
}

TEST(Boundary, ParallelRoundsOverAnOkIslandAreNonMonotonicNotABoundary) {
  // Fails at 20..29 and from 36 up: the first 4-ary round (16, 24, 32) sees ok above a failure.
  FakeProber prober([](const Problem& p, std::mt19937&) {
    return (p.ih >= 20 && p.ih < 30) || p.ih >= 36 ? Outcome::hang : Outcome::ok;
  });
  auto o = ih_axis(8, 40, 1);
  o.parallel = 3;
  auto base = seed_base();
  base.ih = base.iw = 40;
  auto r = search(prober, o, base);
  EXPECT_TRUE(r.non_monotonic) << summary_line(r);
  EXPECT_FALSE(r.largest_ok || r.first_failing) << summary_line(r);
}

TEST(Boundary, SummaryJsonHasTheShapeDesignDescribes) {
  FakeProber prober(seed_rule);
  auto r = search(prober, ih_axis(8, 512, 2));
  auto j = to_json(r);
  EXPECT_EQ(j["axis"], "ih");
  EXPECT_EQ(j["tie"], nlohmann::json::array({"iw"}));
  EXPECT_TRUE(j["over"].is_object());
  EXPECT_EQ(j["largest_ok"], 42);
  EXPECT_EQ(j["first_failing"], 44);
  EXPECT_EQ(j["outcome"], "hang");
  EXPECT_EQ(j["phase"], "execute");
  EXPECT_EQ(j["probes"], r.probes);
  EXPECT_EQ(j["confirmed"], true);
  EXPECT_FALSE(j.contains("flaky"));
  EXPECT_NE(summary_line(r).find("largest ok: ih=iw=42   first failing: 44 (hang, execute)"),
            std::string::npos)
      << summary_line(r);
}

TEST(Boundary, TheSummaryJsonReadsBackWithoutTheEvidence) {
  FakeProber prober(seed_rule);
  auto r = search(prober, ih_axis(8, 512, 2));
  r.over = {{"ic", 16}};
  r.notes = {"a note"};
  auto back = boundary_from_json(nlohmann::json::parse(to_json(r).dump()));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->axis, "ih");
  EXPECT_EQ(back->tie, r.tie);
  EXPECT_EQ(back->over, r.over);
  EXPECT_EQ(back->largest_ok, 42);
  EXPECT_EQ(back->first_failing, 44);
  ASSERT_TRUE(back->ok_problem && back->failing_problem);
  EXPECT_EQ(key(*back->ok_problem), key(*r.ok_problem));
  EXPECT_EQ(back->failing_problem->iw, 44);
  EXPECT_EQ(back->outcome, Outcome::hang);
  EXPECT_EQ(back->phase, Phase::execute);
  EXPECT_EQ(back->probes, r.probes);
  EXPECT_TRUE(back->confirmed);
  EXPECT_EQ(back->notes, r.notes);
  EXPECT_TRUE(back->evidence.empty());
  EXPECT_EQ(to_json(*back), to_json(r));
}

TEST(Boundary, ASummaryThatDoesNotReadBackNamesTheField) {
  auto bad_type = boundary_from_json(nlohmann::json::parse(
      R"({"axis":"ih","largest_ok":"42","outcome":"hang","phase":"execute"})"));
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.status().message().find("largest_ok"), std::string::npos)
      << bad_type.status().message();
  auto no_axis = boundary_from_json(nlohmann::json::parse(R"({"outcome":"ok","phase":"init"})"));
  ASSERT_FALSE(no_axis.ok());
  EXPECT_NE(no_axis.status().message().find("axis"), std::string::npos);
  EXPECT_FALSE(boundary_from_json(nlohmann::json::array()).ok());
}

TEST(Boundary, StepOneFindsTheAdjacentPair) {
  FakeProber prober(seed_rule);
  auto r = search(prober, ih_axis(8, 512, 1));
  EXPECT_EQ(r.largest_ok, 43);
  EXPECT_EQ(r.first_failing, 44);
  EXPECT_TRUE(r.confirmed);
}

TEST(Boundary, ProbesUsedGrowLogarithmicallyWithTheRange) {
  for (int64_t hi : {64, 512, 4096, 65536}) {
    FakeProber prober(seed_rule);
    auto r = search(prober, ih_axis(8, hi, 1));
    EXPECT_EQ(r.first_failing, 44) << hi;
    EXPECT_LE(r.probes, 2 + log2_ceil(hi - 8 + 1) + 2 + 2) << hi;
  }
}

TEST(Boundary, AnAllFailingAxisReportsTheLowEndAsFirstFailing) {
  FakeProber prober([](const Problem&, std::mt19937&) { return Outcome::crash; });
  auto r = search(prober, ih_axis(8, 512, 2));
  EXPECT_FALSE(r.largest_ok);
  EXPECT_EQ(r.first_failing, 8);
  EXPECT_EQ(r.outcome, Outcome::crash);
  EXPECT_TRUE(r.confirmed);
}

TEST(Boundary, AnAllOkAxisReportsTheHighEndAndNoBoundary) {
  FakeProber prober([](const Problem&, std::mt19937&) { return Outcome::ok; });
  auto r = search(prober, ih_axis(8, 512, 2));
  EXPECT_EQ(r.largest_ok, 512);
  EXPECT_FALSE(r.first_failing);
  EXPECT_EQ(r.outcome, Outcome::ok);
  EXPECT_FALSE(r.confirmed);
  EXPECT_LE(r.probes, 4);
}

TEST(Boundary, AFailureBelowAnOkAtTheEndsIsNonMonotonicNotABoundary) {
  FakeProber prober([](const Problem& p, std::mt19937&) {
    return p.ih <= 30 ? Outcome::wrong : Outcome::ok;
  });
  auto r = search(prober, ih_axis(8, 512, 2));
  EXPECT_TRUE(r.non_monotonic);
  EXPECT_FALSE(r.largest_ok);
  EXPECT_FALSE(r.first_failing);
  EXPECT_FALSE(r.confirmed);
  EXPECT_EQ(r.outcome, Outcome::wrong);
  EXPECT_EQ(to_json(r)["largest_ok"], nullptr);
  EXPECT_EQ(to_json(r)["non_monotonic"], true);
}

TEST(Boundary, ASpotCheckCatchesAFailingIslandBelowTheBoundary) {
  // Hangs from 300 up, and also in [100, 200]: bisection alone would report 298/300.
  FakeProber prober([](const Problem& p, std::mt19937&) {
    return p.ih >= 300 || (p.ih >= 100 && p.ih <= 200) ? Outcome::hang : Outcome::ok;
  });
  auto r = search(prober, ih_axis(8, 512, 2));
  EXPECT_TRUE(r.non_monotonic) << summary_line(r);
  EXPECT_FALSE(r.first_failing);
  EXPECT_FALSE(r.confirmed);
}

TEST(Boundary, AnOkIslandAboveAnAllOkLookingAxisIsCaught) {
  FakeProber prober([](const Problem& p, std::mt19937&) {
    return p.ih >= 200 && p.ih <= 400 ? Outcome::hang : Outcome::ok;
  });
  auto r = search(prober, ih_axis(8, 512, 2));
  EXPECT_TRUE(r.non_monotonic) << summary_line(r);
}

Outcome flaky_rule(const Problem& p, std::mt19937& rng) {
  if (p.ih >= 44) return Outcome::hang;
  if (p.ih >= 40) return std::bernoulli_distribution(0.5)(rng) ? Outcome::hang : Outcome::ok;
  return Outcome::ok;
}

TEST(Boundary, AFlakyRegionIsReportedInsteadOfAWrongBoundary) {
  int flagged = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    FakeProber prober(flaky_rule, seed);
    BoundaryOptions o = ih_axis(8, 512, 1);
    o.repeats = 4;
    auto r = search(prober, o);
    if (r.flaky) {
      ++flagged;
      EXPECT_FALSE(r.largest_ok) << seed;
      EXPECT_FALSE(r.confirmed) << seed;
      EXPECT_NE(summary_line(r).find("flaky"), std::string::npos);
      continue;
    }
    // Unflagged, the pair must still be a true edge of the failing region.
    ASSERT_TRUE(r.first_failing) << seed;
    EXPECT_GE(*r.first_failing, 40) << seed;
    EXPECT_LE(*r.first_failing, 44) << seed;
  }
  EXPECT_GE(flagged, 20);
}

TEST(Boundary, UnsupportedIsSteppedOverAndNeverCalledAFailure) {
  FakeProber prober([](const Problem& p, std::mt19937&) {
    if (p.ih >= 44 && p.ih <= 60) return Outcome::unsupported;
    return p.ih >= 62 ? Outcome::hang : Outcome::ok;
  });
  auto r = search(prober, ih_axis(8, 512, 2));
  EXPECT_EQ(r.largest_ok, 42);
  EXPECT_EQ(r.first_failing, 62);
  EXPECT_EQ(r.outcome, Outcome::hang);
  EXPECT_NE(summary_line(r).find("unsupported"), std::string::npos);
}

TEST(Boundary, UnsupportedLowEndMovesTheSearchUp) {
  FakeProber prober([](const Problem& p, std::mt19937&) {
    if (p.ih <= 12) return Outcome::unsupported;
    return p.ih >= 44 ? Outcome::hang : Outcome::ok;
  });
  auto r = search(prober, ih_axis(8, 512, 2));
  EXPECT_EQ(r.largest_ok, 42);
  EXPECT_EQ(r.first_failing, 44);
  EXPECT_FALSE(r.non_monotonic);
}

TEST(Boundary, AnAxisWhereEverythingIsUnsupportedHasNoBoundary) {
  FakeProber prober([](const Problem&, std::mt19937&) { return Outcome::unsupported; });
  BoundaryOptions o = ih_axis(8, 20, 2);
  auto r = search(prober, o);
  EXPECT_FALSE(r.largest_ok);
  EXPECT_FALSE(r.first_failing);
  EXPECT_FALSE(r.confirmed);
}

TEST(Boundary, RepeatsGoToTheRepeatProberAndEverythingElseToTheMainOne) {
  FakeProber main(seed_rule), repeater(seed_rule);
  BoundaryOptions o = ih_axis(8, 512, 2);
  o.repeats = 3;
  o.repeat_prober = &repeater;
  auto r = search(main, o);
  EXPECT_TRUE(r.confirmed);
  EXPECT_EQ(repeater.probes, 4);  // two more of 42 and two more of 44
  for (const auto& p : repeater.problems) EXPECT_TRUE(p.ih == 42 || p.ih == 44) << p.ih;
  EXPECT_EQ(main.probes + repeater.probes, r.probes);
}

TEST(Boundary, OneRepeatIsNeverConfirmed) {
  FakeProber prober(seed_rule);
  BoundaryOptions o = ih_axis(8, 512, 2);
  o.repeats = 1;
  o.spot_checks = 0;
  auto r = search(prober, o);
  EXPECT_EQ(r.first_failing, 44);
  EXPECT_FALSE(r.confirmed);
  EXPECT_LE(r.probes, 2 + log2_ceil(253));
}

TEST(Boundary, TheProbeBudgetStopsTheSearchUnconfirmed) {
  FakeProber prober(seed_rule);
  BoundaryOptions o = ih_axis(8, 512, 1);
  o.max_probes = 5;
  auto r = search(prober, o);
  EXPECT_LE(r.probes, 5);
  EXPECT_FALSE(r.confirmed);
  EXPECT_NE(summary_line(r).find("budget"), std::string::npos);
}

TEST(Boundary, AFrontierFindsOneBoundaryPerValueAndBatchesTheLines) {
  // Hangs once the work ic * ih passes 16 * 43.
  FakeProber prober([](const Problem& p, std::mt19937&) {
    return p.ic * p.ih > 16 * 43 ? Outcome::hang : Outcome::ok;
  });
  auto r = map_frontier(prober, seed_base(), ih_axis(8, 512, 1), "ic", {8, 16, 32, 64});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 4u);
  const int64_t expect_first[] = {87, 44, 22, 11};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ((*r)[i].first_failing, expect_first[i]) << i;
    EXPECT_EQ((*r)[i].largest_ok, expect_first[i] - 1) << i;
    EXPECT_EQ(to_json((*r)[i])["over"]["ic"], (std::vector<int64_t>{8, 16, 32, 64})[i]);
  }
  EXPECT_EQ(prober.batches.front(), 8u) << "every line's ends in the first batch";
  EXPECT_LT(prober.batches.size(), static_cast<size_t>(prober.probes) / 2);
}

TEST(Boundary, AxisAndOverTextParse) {
  auto a = parse_axis("ih=8:512:2");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->field, "ih");
  EXPECT_EQ(a->lo, 8);
  EXPECT_EQ(a->hi, 512);
  EXPECT_EQ(a->step, 2);
  EXPECT_EQ(parse_axis("ih=8:512")->step, 1);
  EXPECT_FALSE(parse_axis("ih=8").ok());
  EXPECT_FALSE(parse_axis("ih").ok());
  EXPECT_NE(parse_axis("ih=8:x").status().message().find("'x'"), std::string::npos);
  auto o = parse_over("ic=8,16,32");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->first, "ic");
  EXPECT_EQ(o->second, (std::vector<int64_t>{8, 16, 32}));
  EXPECT_FALSE(parse_over("ic=8,,16").ok());
  EXPECT_FALSE(parse_over("zz=1").ok());
}

TEST(Boundary, BadOptionsAndInvalidEndsAreNamed) {
  FakeProber prober(seed_rule);
  BoundaryOptions o = ih_axis(8, 512, 1);
  o.axis.field = "oh";
  EXPECT_NE(find_boundary(prober, seed_base(), o).status().message().find("'oh'"),
            std::string::npos);
  o = ih_axis(512, 8, 1);
  EXPECT_NE(find_boundary(prober, seed_base(), o).status().message().find("512:8 is empty"),
            std::string::npos);
  o = ih_axis(1, 64, 1);
  o.tie.clear();
  Problem base = seed_base();
  base.ph = 0;
  auto r = find_boundary(prober, base, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("ih=1 is invalid"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(prober.probes, 0);
}

}  // namespace
}  // namespace convguard
