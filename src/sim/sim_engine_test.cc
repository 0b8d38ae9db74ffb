#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "convguard/cpu_engines.h"
#include "convguard/inprocess.h"
#include "convguard/probe.h"
#include "convguard/sim.h"

namespace convguard {
namespace {

// Exit codes of a child whose spin was cut short by exit_after_cpu_ms().
constexpr int kSpun = 42;     // burnt the CPU time it was given: a real busy loop
constexpr int kSlept = 41;     // hardly any CPU time: it blocked instead of spinning
constexpr int kInjected = 43;  // the base's inject_hang ran

// A base engine that writes 1.0 to every output element, optionally after a sleep.
class OnesPrepared : public Prepared {
 public:
  OnesPrepared(Problem p, std::string algo, int sleep_ms)
      : p_(std::move(p)), algo_(std::move(algo)), sleep_ms_(sleep_ms) {}
  std::string algo() const override { return algo_; }
  AlgoClass algo_class() const override { return AlgoClass::exact; }
  Result<double> execute(ConvTensors& t, const ExecOptions&) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    t.src.assign(static_cast<size_t>(p_.src_elems()), 1.0f);
    t.wei.assign(static_cast<size_t>(p_.wei_elems()), 1.0f);
    t.bia.assign(static_cast<size_t>(p_.oc), 1.0f);
    t.dst.assign(static_cast<size_t>(p_.dst_elems()), 1.0f);
    return static_cast<double>(sleep_ms_);
  }

 private:
  Problem p_;
  std::string algo_;
  int sleep_ms_;
};

class OnesEngine : public Engine {
 public:
  explicit OnesEngine(int sleep_ms = 0, bool can_hang = false)
      : sleep_ms_(sleep_ms), can_hang_(can_hang) {}
  std::string name() const override { return "fake"; }
  std::string version() const override { return "fake 1.0"; }
  Status init() override { return Status::Ok(); }
  std::vector<std::string> algorithms(const Problem&) override { return {"direct", "winograd"}; }
  Result<std::unique_ptr<Prepared>> prepare(const Problem& p, const std::string& algo) override {
    if (algo != kDefaultAlgo && algo != "direct" && algo != "winograd")
      return Status::Invalid("invalid algo=" + algo);
    const std::string resolved = algo == kDefaultAlgo ? "direct" : algo;
    return std::unique_ptr<Prepared>(std::make_unique<OnesPrepared>(p, resolved, sleep_ms_));
  }
  std::map<std::string, std::string> fingerprint() override { return {{"fake.version", "1.0"}}; }
  Status inject_hang() override {
    if (!can_hang_) return Engine::inject_hang();
    _exit(kInjected);
  }

 private:
  int sleep_ms_;
  bool can_hang_;
};

Problem small(int64_t oc = 4, Dir dir = Dir::FWD_D) {
  Problem p;
  p.dir = dir;
  p.mb = 1;
  p.ic = 2;
  p.ih = p.iw = 5;
  p.oc = oc;
  p.kh = p.kw = 3;
  p.oh = p.ow = 3;
  return p;
}

std::unique_ptr<Engine> sim_with(const std::string& rules, uint64_t seed = 0, int sleep_ms = 0,
                                 bool can_hang = false) {
  auto q = parse_quirks(R"({"name": "t", "rules": [)" + rules + "]}", "t.json");
  EXPECT_TRUE(q.ok()) << q.status().to_string();
  return make_sim_engine(std::make_unique<OnesEngine>(sleep_ms, can_hang), q.ok() ? *q : Quirks{},
                         seed);
}

// Prepares and executes p once; returns execute's result (or prepare's failure).
Result<double> run_once(Engine& e, const Problem& p, ConvTensors& t,
                        const std::string& algo = kDefaultAlgo) {
  auto prepared = e.prepare(p, algo);
  if (!prepared.ok()) return prepared.status();
  return (*prepared)->execute(t, ExecOptions{});
}

Status run_once(Engine& e, const Problem& p) {
  ConvTensors t;
  auto r = run_once(e, p, t);
  return r.ok() ? Status::Ok() : r.status();
}

// In a death-test child: ends the process with kSpun once it has burnt `cpu_ms` of CPU
// time (a real busy loop), or with kSlept when 20 s of wall time pass first (it blocked
// instead of spinning). CPU time, not wall time, decides: on a loaded machine a spinning
// child may get only a few milliseconds of CPU in a fifth of a second.
void exit_after_cpu_ms(int cpu_ms) {
  signal(SIGPROF, [](int) { _exit(kSpun); });
  signal(SIGALRM, [](int) { _exit(kSlept); });
  itimerval cpu{};
  cpu.it_value.tv_sec = cpu_ms / 1000;
  cpu.it_value.tv_usec = (cpu_ms % 1000) * 1000;
  setitimer(ITIMER_PROF, &cpu, nullptr);
  itimerval wall{};
  wall.it_value.tv_sec = 20;
  setitimer(ITIMER_REAL, &wall, nullptr);
}

TEST(SimEngine, DescribesItselfOverItsBase) {
  auto e = sim_with(R"({"effect": "hang"})");
  EXPECT_EQ(e->name(), "sim");
  EXPECT_EQ(e->version(), "sim(t) over fake 1.0");
  EXPECT_EQ(e->algorithms(small()), (std::vector<std::string>{"direct", "winograd"}));
  auto fp = e->fingerprint();
  EXPECT_EQ(fp["fake.version"], "1.0");
  EXPECT_EQ(fp["sim.quirks"], "t");
  EXPECT_EQ(fp["sim.quirks_hash"].size(), 16u);
}

TEST(SimEngine, LoadsAQuirkFileAndFingerprintsItsContent) {
  const std::string path = ::testing::TempDir() + "sim_engine_test_quirks.json";
  std::ofstream(path) << R"({"name": "file", "rules": []})";
  auto e = make_sim_engine(std::make_unique<OnesEngine>(), path, 0);
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ((*e)->version(), "sim(file) over fake 1.0");
  auto q = parse_quirks(R"({"name": "file", "rules": []})", path);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*e)->fingerprint()["sim.quirks_hash"], q->content_hash);
  std::remove(path.c_str());
}

TEST(SimEngine, MissingQuirkFileIsInvalidNamingThePath) {
  auto e = make_sim_engine(std::make_unique<OnesEngine>(), "/nonexistent/q.json", 0);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Code::kInvalid);
  EXPECT_NE(e.status().message().find("/nonexistent/q.json"), std::string::npos);
}

TEST(SimEngine, UnmatchedProblemsRunTheBaseUntouched) {
  auto e = sim_with(R"({"when": {"oc": 64}, "effect": "wrong"})");
  ASSERT_TRUE(e->init().ok());
  ConvTensors t;
  auto ms = run_once(*e, small(4), t);
  ASSERT_TRUE(ms.ok()) << ms.status().to_string();
  for (float v : t.dst) EXPECT_EQ(v, 1.0f);
}

TEST(SimEngine, WrongChangesForwardOutput) {
  auto e = sim_with(R"({"when": {"oc": 4}, "effect": "wrong"})");
  ConvTensors t;
  ASSERT_TRUE(run_once(*e, small(4), t).ok());
  int changed = 0;
  for (float v : t.dst) changed += v != 1.0f;
  EXPECT_GE(changed, 1);
  EXPECT_LE(changed, 3);
}

TEST(SimEngine, WrongChangesEveryOutputOfBackwardWeightsWithBias) {
  auto e = sim_with(R"({"effect": "wrong"})");
  ConvTensors t;
  ASSERT_TRUE(run_once(*e, small(4, Dir::BWD_WB), t).ok());
  EXPECT_NE(t.wei.front(), 1.0f);
  EXPECT_NE(t.bia.front(), 1.0f);
  EXPECT_EQ(t.dst.front(), 1.0f);  // an input of BWD_WB stays as the base wrote it
}

TEST(SimEngine, WrongMatchesTheResolvedAlgorithmName) {
  auto e = sim_with(R"({"when": {"algo": "direct"}, "effect": "wrong"})");
  ConvTensors t;
  ASSERT_TRUE(run_once(*e, small(), t, kDefaultAlgo).ok());
  EXPECT_NE(t.dst.front(), 1.0f);
  ASSERT_TRUE(run_once(*e, small(), t, "winograd").ok());
  EXPECT_EQ(t.dst.front(), 1.0f);
}

TEST(SimEngine, ErrorReturnsAnErrorStatusInEachPhase) {
  auto ex = sim_with(R"({"effect": "error", "message": "boom"})");
  Status s = run_once(*ex, small());
  EXPECT_EQ(s.code(), Code::kError);
  EXPECT_NE(s.message().find("boom"), std::string::npos);
  auto pre = sim_with(R"({"effect": "error", "phase": "prepare"})");
  auto prepared = pre->prepare(small(), kDefaultAlgo);
  ASSERT_FALSE(prepared.ok());
  EXPECT_EQ(prepared.status().code(), Code::kError);
  EXPECT_NE(prepared.status().message().find("in prepare"), std::string::npos);
  auto init = sim_with(R"({"effect": "error", "phase": "init"})");
  EXPECT_EQ(init->init().code(), Code::kError);
}

TEST(SimEngine, BaseErrorsPassThrough) {
  auto e = sim_with(R"({"effect": "crash", "phase": "prepare"})");
  auto prepared = e->prepare(small(), "no-such-algo");
  ASSERT_FALSE(prepared.ok());
  EXPECT_EQ(prepared.status().code(), Code::kInvalid);
}

TEST(SimEngine, SlowTakesAboutFactorTimesTheBase) {
  auto e = sim_with(R"({"effect": "slow", "factor": 5})", 0, 20);
  ConvTensors t;
  const auto t0 = std::chrono::steady_clock::now();
  auto ms = run_once(*e, small(), t);
  const double wall =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(ms.ok());
  EXPECT_DOUBLE_EQ(*ms, 100.0);  // the base reports 20 ms
  EXPECT_GE(wall, 60.0);         // 5 x 20 ms, with room for a coarse clock
  EXPECT_LT(wall, 5000.0);
}

TEST(SimEngine, AfterCallsStartsTheEffectAfterThatManyExecutionsOfAnyProblem) {
  auto e = sim_with(R"({"when": {"oc": 4}, "effect": "error", "after_calls": 3})");
  auto* sim = dynamic_cast<SimEngine*>(e.get());
  ASSERT_NE(sim, nullptr);
  EXPECT_TRUE(run_once(*e, small(4)).ok());
  EXPECT_TRUE(run_once(*e, small(8)).ok());
  EXPECT_TRUE(run_once(*e, small(4)).ok());
  EXPECT_EQ(sim->executions(), 3);
  EXPECT_EQ(run_once(*e, small(4)).code(), Code::kError);
  EXPECT_TRUE(run_once(*e, small(8)).ok());
  EXPECT_EQ(run_once(*e, small(4)).code(), Code::kError);
}

TEST(SimEngine, ACanaryProbeRunsTheBaseUntouchedAndLeavesCanaryModeAfterwards) {
  auto q = parse_quirks(R"({"name": "t", "rules": [{"effect": "error"}]})", "t.json");
  ASSERT_TRUE(q.ok()) << q.status().to_string();
  auto e = make_sim_engine(make_ref_engine(), *q, 0);
  auto* sim = dynamic_cast<SimEngine*>(e.get());
  ASSERT_NE(sim, nullptr);
  ASSERT_TRUE(e->init().ok());
  auto reference = make_cpu_reference("sim");
  ProbeOptions canary;
  canary.canary = true;
  const ProbeResult r = run_probe(*e, small(), kDefaultAlgo, reference.get(), canary);
  EXPECT_EQ(r.outcome, Outcome::ok) << r.message;
  EXPECT_FALSE(sim->canary());
  EXPECT_EQ(sim->executions(), 0);
  EXPECT_EQ(run_probe(*e, small(), kDefaultAlgo, reference.get(), ProbeOptions{}).outcome,
            Outcome::error);
}

TEST(SimEngine, CanaryModeRunsTheBaseUntouchedAndIsNotCounted) {
  auto e = sim_with(R"({"effect": "error", "after_calls": 1})");
  auto* sim = dynamic_cast<SimEngine*>(e.get());
  ASSERT_NE(sim, nullptr);
  EXPECT_TRUE(run_once(*e, small()).ok());
  e->set_canary(true);
  EXPECT_TRUE(sim->canary());
  EXPECT_TRUE(run_once(*e, small()).ok());
  EXPECT_EQ(sim->executions(), 1);
  e->set_canary(false);
  EXPECT_EQ(run_once(*e, small()).code(), Code::kError);
}

// The pattern of fired (error) and clean executions over n runs.
std::string flaky_pattern(uint64_t seed, int n) {
  auto e = sim_with(R"({"effect": "error", "probability": 0.5})", seed);
  std::string pattern;
  for (int i = 0; i < n; ++i) pattern += run_once(*e, small(4 + i % 3)).ok() ? '.' : 'x';
  return pattern;
}

TEST(SimEngine, ProbabilityIsReproducibleForASeed) {
  const std::string a = flaky_pattern(11, 64);
  EXPECT_EQ(a, flaky_pattern(11, 64));
  EXPECT_NE(a.find('x'), std::string::npos);
  EXPECT_NE(a.find('.'), std::string::npos);
  EXPECT_NE(a, flaky_pattern(12, 64));
}

TEST(SimEngineDeathTest, CrashIsARealSegfault) {
  auto e = sim_with(R"({"effect": "crash"})");
  EXPECT_EXIT((void)run_once(*e, small()), ::testing::KilledBySignal(SIGSEGV),
              "rule 0 \\(crash\\) in execute");
}

TEST(SimEngineDeathTest, CrashInPrepare) {
  auto e = sim_with(R"({"effect": "crash", "phase": "prepare"})");
  EXPECT_EXIT((void)e->prepare(small(), kDefaultAlgo), ::testing::KilledBySignal(SIGSEGV),
              "in prepare");
}

TEST(SimEngineDeathTest, AbortRaisesSigabrt) {
  auto e = sim_with(R"({"effect": "abort", "message": "why"})");
  EXPECT_EXIT((void)run_once(*e, small()), ::testing::KilledBySignal(SIGABRT), "abort.*why");
}

TEST(SimEngineDeathTest, HangSpinsOnTheCpuWhenTheBaseCannotHang) {
  auto e = sim_with(R"({"effect": "hang"})");
  EXPECT_EXIT(
      {
        exit_after_cpu_ms(100);
        (void)run_once(*e, small());
      },
      ::testing::ExitedWithCode(kSpun), "rule 0 \\(hang\\) in execute");
}

TEST(SimEngineDeathTest, HangUsesTheBaseInjectHangWhenItHasOne) {
  auto e = sim_with(R"({"effect": "hang"})", 0, 0, true);
  EXPECT_EXIT(
      {
        exit_after_cpu_ms(2000);
        (void)run_once(*e, small());
      },
      ::testing::ExitedWithCode(kInjected), "");
}

TEST(SimEngineDeathTest, HangInPrepareAndInInit) {
  auto pre = sim_with(R"({"effect": "hang", "phase": "prepare"})");
  EXPECT_EXIT(
      {
        exit_after_cpu_ms(100);
        (void)pre->prepare(small(), kDefaultAlgo);
      },
      ::testing::ExitedWithCode(kSpun), "in prepare");
  auto init = sim_with(R"({"effect": "hang", "phase": "init"})");
  EXPECT_EXIT(
      {
        exit_after_cpu_ms(100);
        (void)init->init();
      },
      ::testing::ExitedWithCode(kSpun), "in init");
}

TEST(SimEngineDeathTest, HangAfterCallsSparesTheFirstExecutions) {
  auto e = sim_with(R"({"effect": "hang", "after_calls": 2})");
  EXPECT_EXIT(
      {
        exit_after_cpu_ms(100);
        for (int i = 0; i < 2; ++i) (void)run_once(*e, small());
        _exit(7);
      },
      ::testing::ExitedWithCode(7), "");
  EXPECT_EXIT(
      {
        exit_after_cpu_ms(100);
        for (int i = 0; i < 3; ++i) (void)run_once(*e, small());
      },
      ::testing::ExitedWithCode(kSpun), "");
}

// Points CONVGUARD_SIM_WEDGE_FILE at a fresh path for one test and cleans up after it.
class SimWedgeDeathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "convguard_sim_wedge_" + std::to_string(getpid());
    std::remove(path_.c_str());
    setenv(kSimWedgeFileEnv, path_.c_str(), 1);
  }
  void TearDown() override {
    unsetenv(kSimWedgeFileEnv);
    std::remove(path_.c_str());
  }
  bool wedged() const { return access(path_.c_str(), F_OK) == 0; }
  std::string path_;
};

TEST_F(SimWedgeDeathTest, WedgeMarksTheDeviceAndHangs) {
  auto e = sim_with(R"({"when": {"oc": 64}, "effect": "wedge"})");
  EXPECT_TRUE(run_once(*e, small(4)).ok());
  EXPECT_FALSE(wedged());
  EXPECT_EXIT(
      {
        exit_after_cpu_ms(100);
        (void)run_once(*e, small(64));
      },
      ::testing::ExitedWithCode(kSpun), "rule 0 \\(wedge\\)");
  EXPECT_TRUE(wedged());
}

TEST_F(SimWedgeDeathTest, AWedgedDeviceHangsEveryFreshEngineEvenForCanaries) {
  std::ofstream(path_) << "wedged\n";
  auto e = sim_with("");
  EXPECT_EXIT(
      {
        exit_after_cpu_ms(100);
        (void)e->init();
      },
      ::testing::ExitedWithCode(kSpun), "device wedged");
  e->set_canary(true);
  EXPECT_EXIT(
      {
        exit_after_cpu_ms(100);
        (void)run_once(*e, small());
      },
      ::testing::ExitedWithCode(kSpun), "");
  std::remove(path_.c_str());
  EXPECT_TRUE(e->init().ok());
  EXPECT_TRUE(run_once(*e, small()).ok());
}

}  // namespace
}  // namespace convguard
