// Profiles: what probes prove, how lines generalise (and how they do not), JSON round
// trips, fingerprint refusal and merging.
#include "convguard/profile.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace convguard {
namespace {

const std::map<std::string, std::string> kFp{{"engine", "sim"}, {"sim.quirks", "rx5600xt-rocm57"}};

Problem square(int64_t s, const std::string& extra = "mb1ic16oc32") {
  auto p = parse_problem("--dir=FWD_D " + extra + "ih" + std::to_string(s) + "iw" +
                         std::to_string(s) + "kh3kw3ph1pw1");
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return *p;
}

ProfileProbe probe(int64_t id, const Problem& p, Outcome o, const std::string& algo = "direct") {
  ProfileProbe pp;
  pp.id = id;
  pp.result.problem = key(p);
  pp.result.dir = p.dir, pp.result.dt = p.dt;
  pp.result.engine = "sim", pp.result.algo = algo, pp.result.outcome = o;
  pp.result.time_ms = 1;
  return pp;
}

// The seed's evidence: ok from 8 to 42 (every size), hang at 44, 48 and 64.
std::vector<ProfileProbe> seed_probes() {
  std::vector<ProfileProbe> v;
  int64_t id = 1;
  for (int64_t s = 8; s <= 42; ++s) v.push_back(probe(id++, square(s), Outcome::ok));
  for (int64_t s : {44, 48, 64}) v.push_back(probe(id++, square(s), Outcome::hang));
  return v;
}

TEST(Profile, DenseOkProbesBecomeOneLineRuleNamingThem) {
  auto prof = Profile::build(kFp, seed_probes());
  ASSERT_TRUE(prof.ok()) << prof.status().to_string();
  int lines = 0;
  for (const ProfileRule& r : prof->rules())
    if (r.line == Line::square) {
      ++lines;
      EXPECT_EQ(r.ih_lo, 8);
      EXPECT_EQ(r.ih_hi, 42);
      EXPECT_EQ(id_ranges(r.probes), "1-35");
      EXPECT_FALSE(r.interpolated);
    }
  EXPECT_EQ(lines, 1);
  const Finding ok = prof->find(square(40), "sim", "direct");
  EXPECT_EQ(ok.verdict, Verdict::ok);
  const Finding bad = prof->find(square(44), "sim", "direct");
  EXPECT_EQ(bad.verdict, Verdict::fail);
  EXPECT_EQ(bad.outcome, Outcome::hang);
  EXPECT_EQ(id_ranges(bad.probes), "36");
}

TEST(Profile, UnprobedSizesAreUnknownNeverSafe) {
  auto prof = Profile::build(kFp, seed_probes());
  ASSERT_TRUE(prof.ok());
  EXPECT_EQ(prof->find(square(43), "sim", "direct").verdict, Verdict::unknown);
  EXPECT_EQ(prof->find(square(50), "sim", "direct").verdict, Verdict::unknown);
  EXPECT_EQ(prof->find(square(4), "sim", "direct").verdict, Verdict::unknown);
  EXPECT_EQ(prof->find(square(32, "mb1ic17oc33"), "sim", "direct").verdict, Verdict::unknown);
  EXPECT_EQ(prof->find(square(32, "mb2ic16oc32"), "sim", "direct").verdict, Verdict::unknown);
  EXPECT_EQ(prof->find(square(32), "sim", "other").verdict, Verdict::unknown);
  EXPECT_EQ(prof->find(square(32), "onednn", "direct").verdict, Verdict::unknown);
  Problem off_line = square(32);
  off_line.iw = 30, off_line.ow = 30;
  EXPECT_EQ(prof->find(off_line, "sim", "direct").verdict, Verdict::unknown);
}

TEST(Profile, SparseProbesOnlyInterpolateWhenAllowedAndSaySo) {
  std::vector<ProfileProbe> v;
  for (int64_t s : {32, 36, 40, 42}) v.push_back(probe(s, square(s), Outcome::ok));
  auto strict = Profile::build(kFp, v);
  ASSERT_TRUE(strict.ok());
  EXPECT_EQ(strict->find(square(38), "sim", "direct").verdict, Verdict::unknown);
  EXPECT_EQ(strict->find(square(36), "sim", "direct").verdict, Verdict::ok);
  auto loose = Profile::build(kFp, v, {.max_gap = 4});
  ASSERT_TRUE(loose.ok());
  EXPECT_EQ(loose->find(square(38), "sim", "direct").verdict, Verdict::ok);
  bool interpolated = false;
  for (const ProfileRule& r : loose->rules()) interpolated |= r.interpolated;
  EXPECT_TRUE(interpolated);
  EXPECT_NE(loose->show().find("(interpolated)"), std::string::npos);
}

TEST(Profile, AFailureInsideARunSplitsIt) {
  // nonmonotonic.json's shape: ok below 44, hang 44..48, ok 49..52.
  std::vector<ProfileProbe> v;
  int64_t id = 1;
  for (int64_t s = 40; s <= 52; ++s)
    v.push_back(probe(id++, square(s), s >= 44 && s <= 48 ? Outcome::hang : Outcome::ok));
  auto prof = Profile::build(kFp, v, {.max_gap = 8});
  ASSERT_TRUE(prof.ok());
  EXPECT_EQ(prof->find(square(43), "sim", "direct").verdict, Verdict::ok);
  EXPECT_EQ(prof->find(square(46), "sim", "direct").verdict, Verdict::fail);
  EXPECT_EQ(prof->find(square(50), "sim", "direct").verdict, Verdict::ok);
}

TEST(Profile, AProblemWithAnyFailingProbeIsFailingEvenIfAnotherWasOk) {
  auto prof = Profile::build(kFp, {probe(1, square(44), Outcome::ok), probe(2, square(44), Outcome::hang)});
  ASSERT_TRUE(prof.ok());
  const Finding f = prof->find(square(44), "sim", "direct");
  EXPECT_EQ(f.verdict, Verdict::fail);
  EXPECT_EQ(id_ranges(f.probes), "1-2");
}

TEST(Profile, UnsupportedIsNeitherOkNorAFailure) {
  auto prof = Profile::build(kFp, {probe(1, square(20), Outcome::unsupported)});
  ASSERT_TRUE(prof.ok());
  EXPECT_EQ(prof->find(square(20), "sim", "direct").verdict, Verdict::unsupported);
}

TEST(Profile, OkValuesListProvenBatchSizes) {
  std::vector<ProfileProbe> v{probe(1, square(20, "mb1ic4oc4"), Outcome::ok),
                              probe(2, square(20, "mb2ic4oc4"), Outcome::ok),
                              probe(3, square(20, "mb4ic4oc4"), Outcome::hang)};
  auto prof = Profile::build(kFp, v);
  ASSERT_TRUE(prof.ok());
  EXPECT_EQ(prof->ok_values(square(20, "mb8ic4oc4"), "sim", "direct", "mb"),
            (std::vector<int64_t>{2, 1}));
}

TEST(Profile, RoundTripsThroughJsonAndAFile) {
  auto prof = Profile::build(kFp, seed_probes(), {.max_gap = 2});
  ASSERT_TRUE(prof.ok());
  const std::string path = testing::TempDir() + "/profile_roundtrip.json";
  ASSERT_TRUE(prof->save(path).ok());
  auto back = Profile::load(path);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->fingerprint(), kFp);
  EXPECT_EQ(back->probes().size(), prof->probes().size());
  EXPECT_EQ(back->rules().size(), prof->rules().size());
  EXPECT_EQ(back->options().max_gap, 2);
  EXPECT_EQ(back->to_json().dump(), prof->to_json().dump());
  std::remove(path.c_str());
}

TEST(Profile, ADirectoryFifoOrMissingFileIsInvalidInputNamingThePath) {
  const std::string dir = testing::TempDir() + "/profile_paths_" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  const std::string fifo = dir + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  for (const std::string& path : {dir, fifo, dir + "/missing.json"}) {
    auto p = Profile::load(path);
    ASSERT_FALSE(p.ok()) << path;
    EXPECT_EQ(p.status().code(), Code::kInvalid) << p.status().to_string();
    EXPECT_NE(p.status().message().find(path), std::string::npos) << p.status().message();
  }
  // Saving over a directory fails before anything is written beside it.
  auto prof = Profile::build(kFp, seed_probes());
  ASSERT_TRUE(prof.ok());
  EXPECT_FALSE(prof->save(dir).ok());
  EXPECT_NE(::access((dir + ".tmp").c_str(), F_OK), 0);
  std::remove(fifo.c_str());
  ::rmdir(dir.c_str());
}

TEST(Profile, RefusesANewerVersionAndAForeignFile) {
  auto prof = Profile::build(kFp, seed_probes());
  ASSERT_TRUE(prof.ok());
  nlohmann::json j = prof->to_json();
  j["version"] = kProfileVersion + 1;
  auto newer = Profile::from_json(j);
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.status().message().find("newer"), std::string::npos);
  auto foreign = Profile::from_json(nlohmann::json{{"rules", 1}});
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.status().message().find("format"), std::string::npos);
}

TEST(Profile, AnotherFingerprintIsRefusedNamingTheKeysUnlessForced) {
  auto prof = Profile::build(kFp, seed_probes());
  ASSERT_TRUE(prof.ok());
  auto running = kFp;
  running["sim.quirks"] = "cpu-only";
  running["device"] = "H100";
  const Status s = prof->check_fingerprint(running, false);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("sim.quirks: profile 'rx5600xt-rocm57', running 'cpu-only'"),
            std::string::npos) << s.message();
  EXPECT_NE(s.message().find("device: profile (absent), running 'H100'"), std::string::npos);
  EXPECT_TRUE(prof->check_fingerprint(running, true).ok());
  EXPECT_TRUE(prof->check_fingerprint(kFp, false).ok());
}

TEST(Profile, MergeUnitesEvidenceOfOneFingerprintAndRenumbersCollisions) {
  auto a = Profile::build(kFp, {probe(1, square(20), Outcome::ok)});
  auto b = Profile::build(kFp, {probe(1, square(21), Outcome::ok), probe(2, square(44), Outcome::hang)});
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(a->merge(*b).ok());
  EXPECT_EQ(a->probes().size(), 3u);
  EXPECT_EQ(a->find(square(21), "sim", "direct").verdict, Verdict::ok);
  EXPECT_EQ(a->find(square(44), "sim", "direct").verdict, Verdict::fail);
  ASSERT_TRUE(a->merge(*b).ok());  // merging the same evidence again adds nothing new to rules
  EXPECT_EQ(a->find(square(20), "sim", "direct").verdict, Verdict::ok);
  auto other = Profile::build({{"engine", "cudnn"}}, {});
  ASSERT_TRUE(other.ok());
  const Status s = a->merge(*other);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("different fingerprints"), std::string::npos);
}

TEST(Profile, LearnedProbesGetFreshIdsAndJoinTheRules) {
  auto prof = Profile::build(kFp, seed_probes());
  ASSERT_TRUE(prof.ok());
  EXPECT_EQ(prof->find(square(43), "sim", "direct").verdict, Verdict::unknown);
  const int64_t id = prof->add(probe(0, square(43), Outcome::ok).result);
  EXPECT_EQ(id, 39);
  EXPECT_TRUE(prof->probes().back().learned);
  EXPECT_EQ(prof->find(square(43), "sim", "direct").verdict, Verdict::ok);
}

TEST(Profile, IdRangesCompressRuns) {
  EXPECT_EQ(id_ranges({12, 9, 10, 11, 17, 9}), "9-12, 17");
  EXPECT_EQ(id_ranges({}), "");
}

}  // namespace
}  // namespace convguard
