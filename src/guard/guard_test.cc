// The guard: routing against quirk files, exact results on every route, the cache,
// fingerprint refusal and learning. Profiles come from "sweeps" through an oracle prober
// that knows the quirk file: what would hang or crash is reported as a worker would have
// judged it, everything else really runs on sim in process.
#include "convguard/guard.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "convguard/cpu_engines.h"
#include "convguard/fill.h"
#include "convguard/inprocess.h"
#include "convguard/sim.h"

namespace convguard {
namespace {

std::string quirk_path(const std::string& name) {
  return std::string(CONVGUARD_SOURCE_DIR) + "/quirks/" + name + ".json";
}

Result<std::unique_ptr<Engine>> factory(const EngineSpec& s) {
  if (s.name == "ref") return make_ref_engine();
  if (s.name == "onednn") return make_onednn_engine();
  if (s.name != "sim") return Status::Invalid("test factory: no engine " + s.name);
  auto base = factory(EngineSpec{s.base, "", "", 0});
  if (!base.ok()) return base.status();
  return make_sim_engine(std::move(base.value()), s.quirks_path, s.seed);
}

EngineSpec sim_spec(const std::string& quirks, const std::string& base = "ref") {
  return EngineSpec{"sim", base, quirk_path(quirks), 0};
}

class OracleProber : public Prober {
 public:
  explicit OracleProber(EngineSpec spec) : spec_(spec) {
    engine_ = std::move(factory(spec).value());
    base_ = std::move(factory(EngineSpec{spec.base, "", "", 0}).value());
    quirks_ = load_quirks(spec.quirks_path).value();
    reference_ = make_cpu_reference("sim");
  }
  Status do_run(const std::vector<ProbeRequest>& reqs, const ResultCallback& cb,
                const DispatchCallback&) override {
    for (size_t i = 0; i < reqs.size(); ++i) cb(i, probe(reqs[i].problem, reqs[i].algo));
    return Status::Ok();
  }
  ProbeResult probe(const Problem& p, const std::string& algo) {
    ++calls;
    const int rule = choose_rule(quirks_, Phase::execute, &p, {algo}, 0);
    if (rule < 0 || quirks_.rules[size_t(rule)].effect != Effect::hang)
      return run_probe(*engine_, p, algo, reference_.get(), {});
    ProbeResult r;
    r.problem = key(p), r.dir = p.dir, r.dt = p.dt, r.engine = "sim";
    r.algo = base_->prepare(p, algo).value()->algo();
    r.outcome = Outcome::hang, r.phase = Phase::execute;
    return r;
  }
  Result<std::vector<std::string>> algorithms(const Problem& p) override { return engine_->algorithms(p); }
  Result<std::map<std::string, std::string>> fingerprint() override { return engine_->fingerprint(); }
  std::string engine_name() const override { return "sim"; }
  int calls = 0;

 private:
  EngineSpec spec_;
  std::unique_ptr<Engine> engine_, base_;
  Quirks quirks_;
  std::unique_ptr<Reference> reference_;
};

Problem problem(const std::string& text) {
  auto p = parse_problem(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status().to_string();
  return *p;
}

// "--dir=FWD_D mb1ic4oc4 ... ph1" at square size s.
Problem at(const std::string& head, int64_t s, const std::string& tail = "kh3kw3ph1pw1") {
  return problem(head + "ih" + std::to_string(s) + "iw" + std::to_string(s) + tail);
}

// Probes every problem through the oracle, ids in order, into a profile.
Profile sweep(OracleProber& oracle, const std::vector<Problem>& ps) {
  std::vector<ProfileProbe> probes;
  for (const Problem& p : ps) probes.push_back({int64_t(probes.size()) + 1, oracle.probe(p, kDefaultAlgo), false});
  return Profile::build(oracle.fingerprint().value(), std::move(probes)).value();
}

std::vector<Problem> square_line(const std::string& head, int64_t lo, int64_t hi,
                                 const std::string& tail = "kh3kw3ph1pw1") {
  std::vector<Problem> v;
  for (int64_t s = lo; s <= hi; ++s) v.push_back(at(head, s, tail));
  return v;
}

std::vector<Problem> concat(std::vector<Problem> a, const std::vector<Problem>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

GuardOptions options(const std::string& quirks, const std::string& cpu = "onednn") {
  GuardOptions o;
  o.device_engine = "sim", o.cpu_engine = cpu;
  o.device_spec = sim_spec(quirks);
  o.make_engine = factory;
  return o;
}

// Runs p through the guard and expects the reference's outputs exactly.
Route run_exact(Guard& guard, const Problem& p) {
  ConvTensors t, want;
  resize_for(p, t), resize_for(p, want);
  fill_inputs(p, t, 3), fill_inputs(p, want, 3);
  poison_outputs(p, t);
  Route route;
  const Status s = guard.run(p, t, &route);
  EXPECT_TRUE(s.ok()) << key(p) << ": " << s.to_string();
  auto ref = make_ref_engine();
  EXPECT_TRUE(ref->prepare(p, kDefaultAlgo).value()->execute(want, {}).ok());
  for (Arg a : outputs_of(p.dir)) EXPECT_EQ(tensor(t, a), tensor(want, a)) << key(p) << " " << to_string(a);
  return route;
}

// Sets `o` to learn through `oracle` and opens a guard on an empty profile of the oracle's
// fingerprint.
Result<Guard> open_learning(const std::shared_ptr<OracleProber>& oracle, GuardOptions& o) {
  o.learn = true, o.prober = oracle;
  return Guard::open(Profile::build(oracle->fingerprint().value(), {}).value(), o);
}

const std::string kNative = "--dir=FWD_D mb1ic4oc4";
const std::string kStaging = "--dir=FWD_D mb4ic4oc4";

TEST(Guard, RoutesTheSeedHangIntoProvenTilesAndMatchesTheReference) {
  OracleProber oracle(sim_spec("rx5600xt-rocm57"));
  Profile prof = sweep(oracle, concat(square_line(kNative, 8, 56), square_line(kStaging, 8, 48, "kh3kw3")));
  auto guard = Guard::open(prof, options("rx5600xt-rocm57"));
  ASSERT_TRUE(guard.ok()) << guard.status().to_string();
  const Problem p = at(kNative, 56);
  auto route = guard->plan(p);
  ASSERT_TRUE(route.ok());
  EXPECT_EQ(route->kind, RouteKind::tiles) << route->text();
  EXPECT_EQ(route->geometry.th, 28);
  EXPECT_NE(route->text().find("native 56x56: hang, probe 49"), std::string::npos) << route->text();
  EXPECT_NE(route->text().find("tile problem 30x30 mb4: ok, probe 72"), std::string::npos) << route->text();
  EXPECT_EQ(run_exact(*guard, p).kind, RouteKind::tiles);
}

TEST(Guard, RunsAProvenProblemNativelyAndCachesTheDecision) {
  OracleProber oracle(sim_spec("rx5600xt-rocm57"));
  auto guard = Guard::open(sweep(oracle, square_line(kNative, 8, 56)), options("rx5600xt-rocm57"));
  ASSERT_TRUE(guard.ok());
  const Problem p = at(kNative, 32);
  EXPECT_EQ(run_exact(*guard, p).kind, RouteKind::native);
  EXPECT_EQ(guard->plan(p)->kind, RouteKind::native);
  EXPECT_EQ(guard->stats().misses, 1);
  EXPECT_EQ(guard->stats().hits, 1);
}

TEST(Guard, ManyThreadsShareOneDecisionAndGetExactResults) {
  OracleProber oracle(sim_spec("rx5600xt-rocm57"));
  Profile prof = sweep(oracle, concat(square_line(kNative, 8, 56), square_line(kStaging, 8, 48, "kh3kw3")));
  auto guard = Guard::open(prof, options("rx5600xt-rocm57"));
  ASSERT_TRUE(guard.ok());
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 3; ++k) run_exact(*guard, at(kNative, i % 2 ? 56 : 24));
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(guard->stats().misses, 2);
  EXPECT_EQ(guard->stats().hits, 10);
}

TEST(Guard, SendsToTheCpuWhenTilesOfUsefulSizeHangToo) {
  OracleProber oracle(sim_spec("cpu-only"));
  Profile prof = sweep(oracle, concat(square_line(kNative, 4, 40), square_line(kStaging, 4, 40, "kh3kw3")));
  auto guard = Guard::open(prof, options("cpu-only"));
  ASSERT_TRUE(guard.ok());
  const Problem p = at(kNative, 40);
  const Route r = run_exact(*guard, p);
  EXPECT_EQ(r.kind, RouteKind::cpu) << r.text();
  EXPECT_EQ(r.engine, "onednn");
  EXPECT_NE(r.reason.find("no tiling or split"), std::string::npos);
}

TEST(Guard, RefusesWhenOnlyTheCpuIsSafeAndNoCpuEngineIsConfigured) {
  OracleProber oracle(sim_spec("cpu-only"));
  auto guard = Guard::open(sweep(oracle, square_line(kNative, 8, 40)), options("cpu-only", ""));
  ASSERT_TRUE(guard.ok());
  const Problem p = at(kNative, 40);
  ConvTensors t;
  resize_for(p, t);
  Route r;
  const Status s = guard->run(p, t, &r);
  EXPECT_EQ(r.kind, RouteKind::refuse);
  EXPECT_EQ(s.code(), Code::kUnsupported);
  EXPECT_NE(s.message().find("native 40x40: hang"), std::string::npos) << s.message();
}

TEST(Guard, FallsBackToTheCpuWhenEveryTileProblemHangs) {
  OracleProber oracle(sim_spec("guard-no-tiles"));
  Profile prof = sweep(oracle, concat(square_line(kNative, 8, 56), square_line(kStaging, 8, 48, "kh3kw3")));
  auto guard = Guard::open(prof, options("guard-no-tiles"));
  ASSERT_TRUE(guard.ok());
  EXPECT_EQ(run_exact(*guard, at(kNative, 56)).kind, RouteKind::cpu);
  EXPECT_EQ(run_exact(*guard, at(kNative, 40)).kind, RouteKind::native);
}

TEST(Guard, SplitsTheBatchWhereSmallerBatchesAreProven) {
  OracleProber oracle(sim_spec("guard-batch"));
  Profile prof = sweep(oracle, {at("--dir=FWD_B mb1ic4oc4", 20), at("--dir=FWD_B mb2ic4oc4", 20),
                                at("--dir=FWD_B mb5ic4oc4", 20)});
  auto guard = Guard::open(prof, options("guard-batch"));
  ASSERT_TRUE(guard.ok());
  const Route r = run_exact(*guard, at("--dir=FWD_B mb5ic4oc4", 20));
  EXPECT_EQ(r.kind, RouteKind::split_batch) << r.text();
  EXPECT_EQ(r.split.max_mb, 2);
}

TEST(Guard, SplitsTheGroupsWhereFewerGroupsAreProven) {
  OracleProber oracle(sim_spec("guard-groups"));
  Profile prof = sweep(oracle, {at("--dir=FWD_D mb2g2ic4oc6", 12), at("--dir=FWD_D mb2g1ic2oc3", 12),
                                at("--dir=FWD_D mb2g6ic12oc18", 12)});
  auto guard = Guard::open(prof, options("guard-groups"));
  ASSERT_TRUE(guard.ok());
  const Route r = run_exact(*guard, at("--dir=FWD_D mb2g6ic12oc18", 12));
  EXPECT_EQ(r.kind, RouteKind::split_groups) << r.text();
  EXPECT_EQ(r.split.max_groups, 2);
}

TEST(Guard, TilesATrainingStepInEveryDirection) {
  OracleProber oracle(sim_spec("guard-all-dirs"));
  for (const char* dir : {"FWD_B", "BWD_D", "BWD_WB"}) {
    const std::string native = std::string("--dir=") + dir + " mb2ic3oc5";
    const std::string staging = std::string("--dir=") + dir + " mb8ic3oc5";
    // Backward data's tiles own blocks of diff_src and read diff_dst windows padded by 2.
    const char* kernel = std::string(dir) == "BWD_D" ? "kh3kw3ph2pw2" : "kh3kw3";
    Profile prof = sweep(oracle, concat(square_line(native, 44, 48), square_line(staging, 20, 30, kernel)));
    auto guard = Guard::open(prof, options("guard-all-dirs"));
    ASSERT_TRUE(guard.ok());
    const Route r = run_exact(*guard, at(native, 48));
    EXPECT_EQ(r.kind, RouteKind::tiles) << dir << ": " << r.text();
  }
}

TEST(Guard, RefusesAProfileOfAnotherFingerprintUnlessForced) {
  OracleProber oracle(sim_spec("rx5600xt-rocm57"));
  Profile prof = sweep(oracle, square_line(kNative, 8, 12));
  auto refused = Guard::open(prof, options("cpu-only"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("sim.quirks: profile 'rx5600xt-rocm57', running 'cpu-only'"),
            std::string::npos) << refused.status().message();
  GuardOptions forced = options("cpu-only");
  forced.force = true;
  EXPECT_TRUE(Guard::open(prof, forced).ok());
}

TEST(Guard, LearnsAnUnknownProblemOnFirstUseAndSavesTheRule) {
  auto oracle = std::make_shared<OracleProber>(sim_spec("rx5600xt-rocm57"));
  const std::string path = testing::TempDir() + "/guard_learned.json";
  GuardOptions o = options("rx5600xt-rocm57");
  o.save_path = path;
  auto guard = open_learning(oracle, o);
  ASSERT_TRUE(guard.ok());
  const Route r = run_exact(*guard, at(kNative, 56));
  EXPECT_EQ(r.kind, RouteKind::tiles) << r.text();
  EXPECT_TRUE(r.learned);
  EXPECT_EQ(oracle->calls, 2);  // the native problem (hang), then one tile problem (ok)
  EXPECT_EQ(guard->stats().learned_probes, 2);
  EXPECT_EQ(run_exact(*guard, at(kNative, 56)).kind, RouteKind::tiles);
  EXPECT_EQ(oracle->calls, 2);  // cached: no new probe
  auto saved = Profile::load(path);
  ASSERT_TRUE(saved.ok()) << saved.status().to_string();
  EXPECT_EQ(saved->probes().size(), 2u);
  EXPECT_EQ(saved->find(at(kNative, 56), "sim", saved->probes()[0].result.algo).verdict, Verdict::fail);
  GuardOptions later = options("rx5600xt-rocm57");  // no learning: the saved rules suffice
  auto again = Guard::open(path, later);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->plan(at(kNative, 56))->kind, RouteKind::tiles);
  std::remove(path.c_str());
}

TEST(Guard, LearningProbesTheTilesInOneCallBeforeTakingChunksAnotherProblemProved) {
  // mb4 at 56 is tiled into 4 x 28x28: its staging (mb16 at 28) proves chunks of 16 images
  // for mb8 at 56 (staging mb32), which learning tries in one call first.
  auto oracle = std::make_shared<OracleProber>(sim_spec("rx5600xt-rocm57"));
  GuardOptions o = options("rx5600xt-rocm57");
  auto guard = open_learning(oracle, o);
  ASSERT_TRUE(guard.ok());
  ASSERT_EQ(run_exact(*guard, at("--dir=FWD_D mb4ic4oc4", 56)).tiles.max_images, 0);
  const int calls = oracle->calls;
  const Route r = run_exact(*guard, at("--dir=FWD_D mb8ic4oc4", 56));
  EXPECT_EQ(r.kind, RouteKind::tiles) << r.text();
  EXPECT_EQ(r.tiles.max_images, 0) << "one call: " << r.text();
  EXPECT_EQ(oracle->calls, calls + 2) << "the native problem, then the whole staging";
}

TEST(Guard, ANativeRouteIsMarkedLearnedOnlyWhenItsPlanProbed) {
  auto oracle = std::make_shared<OracleProber>(sim_spec("rx5600xt-rocm57"));
  GuardOptions o = options("rx5600xt-rocm57");
  auto guard = open_learning(oracle, o);
  ASSERT_TRUE(guard.ok());
  const Route first = run_exact(*guard, at(kNative, 40));
  EXPECT_EQ(first.kind, RouteKind::native) << first.text();
  EXPECT_TRUE(first.learned) << "its probe was made for this plan";
  EXPECT_EQ(oracle->calls, 1);
  auto swept = Guard::open(sweep(*oracle, square_line(kNative, 8, 56)), o);
  ASSERT_TRUE(swept.ok());
  const int calls = oracle->calls;
  EXPECT_FALSE(run_exact(*swept, at(kNative, 40)).learned) << "the profile proved it already";
  EXPECT_EQ(oracle->calls, calls);
}

TEST(Guard, LearningGivesUpOnTilesWithinItsBudgetAndUsesTheCpu) {
  auto oracle = std::make_shared<OracleProber>(sim_spec("cpu-only"));
  GuardOptions o = options("cpu-only");
  auto guard = open_learning(oracle, o);
  ASSERT_TRUE(guard.ok());
  EXPECT_EQ(run_exact(*guard, at(kNative, 64)).kind, RouteKind::cpu);
  EXPECT_LE(oracle->calls, 1 + o.max_learn_probes);
}

TEST(Guard, LearnsToSplitTheGroupsWhenTilesCannotHelp) {
  // g >= 4 hangs at every size, so tiles (which keep the groups) hang too.
  auto oracle = std::make_shared<OracleProber>(sim_spec("guard-groups"));
  GuardOptions o = options("guard-groups");
  auto guard = open_learning(oracle, o);
  ASSERT_TRUE(guard.ok());
  const Route r = run_exact(*guard, at("--dir=FWD_D mb2g8ic16oc16", 12));
  EXPECT_EQ(r.kind, RouteKind::split_groups) << r.text();
  EXPECT_TRUE(r.learned);
  EXPECT_EQ(r.split.max_groups, 2) << "halving: 4 groups hang, 2 do";
  EXPECT_LE(oracle->calls, 1 + o.max_learn_probes);
}

TEST(Guard, LearnsToSplitTheBatchWhenTilesCannotHelp) {
  // Forward 3x3 with 3 or more images hangs at every size: tiles, gathered into the batch,
  // hang too.
  const std::string quirks = testing::TempDir() + "/guard_batch_any_size.json";
  std::ofstream(quirks) << R"({"name": "batch-any-size", "rules": [{"when": {"dir": "FWD_D",
      "kh": 3, "mb": [3, null]}, "effect": "hang"}]})";
  const EngineSpec spec{"sim", "ref", quirks, 0};
  auto oracle = std::make_shared<OracleProber>(spec);
  GuardOptions o = options("guard-groups");
  o.device_spec = spec;
  auto guard = open_learning(oracle, o);
  ASSERT_TRUE(guard.ok()) << guard.status().to_string();
  const Route r = run_exact(*guard, at("--dir=FWD_D mb5ic4oc4", 12));
  EXPECT_EQ(r.kind, RouteKind::split_batch) << r.text();
  EXPECT_TRUE(r.learned);
  EXPECT_EQ(r.split.max_mb, 2) << "halving: 3 images hang, 2 do";
  std::remove(quirks.c_str());
}

}  // namespace
}  // namespace convguard
