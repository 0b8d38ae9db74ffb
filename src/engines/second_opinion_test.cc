#include "engines/second_opinion.h"

#include <gtest/gtest.h>

#include "convguard/cpu_engines.h"
#include "convguard/probe.h"

namespace convguard {
namespace {

struct Judged {
  ConvTensors ref, mag;
};

// The reference's outputs and M, as run_probe has them before a verdict.
Judged judged(const Problem& p) {
  Reference reference(make_ref_engine(), nullptr);
  std::string judge;
  auto out = reference.outputs(p, 0, &judge);
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  Judged j{**out, {}};
  auto mag = reference.magnitudes(p, 0);
  EXPECT_TRUE(mag.ok()) << mag.status().to_string();
  j.mag = **mag;
  return j;
}

Problem problem(Dir d) {
  auto p = parse_problem("g2mb2ic6ih9iw7oc4kh3kw2sh2sw1ph1pw0dh0dw1");
  EXPECT_TRUE(p.ok());
  p->dir = d;
  return *p;
}

// An element away from the evenly spaced sample (the forward's 2x4x5x5 = 200 outputs are sampled
// every 6th from 3), so only its being flagged gets it checked.
constexpr int64_t kOffGrid = 11;

TEST(SecondOpinion, AgreesWithACorrectReferenceInEveryDirectionAndChecksTheFlaggedElement) {
  for (Dir d : {Dir::FWD_B, Dir::BWD_D, Dir::BWD_WB}) {
    const Problem p = problem(d);
    const Judged j = judged(p);
    Comparison c;
    c.first_arg = outputs_of(d).front();
    c.first_bad = kOffGrid;
    const SecondOpinion s = second_opinion(p, 0, j.ref, &j.mag, c);
    EXPECT_TRUE(s.reference_agrees) << to_string(d) << ": " << s.message;
    EXPECT_GT(s.checked, 1) << "the flagged element and a spread of others";
  }
}

TEST(SecondOpinion, CatchesAReferenceThatIsWrongOnlyAtTheFlaggedElement) {
  const Problem p = problem(Dir::FWD_D);
  Judged j = judged(p);
  j.ref.dst[kOffGrid] += 1;
  Comparison c;
  c.first_arg = Arg::dst;
  c.first_bad = kOffGrid;
  const SecondOpinion s = second_opinion(p, 0, j.ref, &j.mag, c);
  EXPECT_FALSE(s.reference_agrees);
  EXPECT_NE(s.message.find("dst[11]"), std::string::npos) << s.message;
  EXPECT_NE(s.message.find("harness fault, not a finding"), std::string::npos) << s.message;
}

TEST(SecondOpinion, CatchesMagnitudesThatAreNotTheAbsoluteSums) {
  const Problem p = problem(Dir::BWD_W);
  Judged j = judged(p);
  for (float& m : j.mag.wei) m *= 2;
  Comparison c;
  c.first_arg = Arg::wei;
  c.first_bad = 0;
  const SecondOpinion s = second_opinion(p, 0, j.ref, &j.mag, c);
  EXPECT_FALSE(s.reference_agrees);
  EXPECT_NE(s.message.find("magnitude"), std::string::npos) << s.message;
}

TEST(SecondOpinion, ChecksTheFillsOfTheSeedItIsGiven) {
  const Problem p = problem(Dir::FWD_D);
  const Judged j = judged(p);  // seed 0's reference
  Comparison c;
  EXPECT_FALSE(second_opinion(p, 1, j.ref, nullptr, c).reference_agrees)
      << "another seed's fills give other sums";
}

}  // namespace
}  // namespace convguard
