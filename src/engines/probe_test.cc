#include <stdexcept>

#include <gtest/gtest.h>

#include "convguard/cpu_engines.h"
#include "convguard/fill.h"
#include "convguard/inprocess.h"
#include "convguard/probe.h"

namespace convguard {
namespace {

enum class Mode { correct, off_by_one, zeros, untouched, exec_error, device_lost, throws };

// Computes with `ref` and then misbehaves as told.
class FakePrepared : public Prepared {
 public:
  FakePrepared(std::unique_ptr<Prepared> inner, Mode mode) : inner_(std::move(inner)), mode_(mode) {}
  std::string algo() const override { return "fake-direct"; }
  AlgoClass algo_class() const override { return AlgoClass::exact; }
  Result<double> execute(ConvTensors& t, const ExecOptions& opt) override {
    switch (mode_) {
      case Mode::exec_error: return Status::Error("kernel launch failed");
      case Mode::device_lost: return Status::DeviceLost("illegal address");
      case Mode::throws: throw std::runtime_error("boom");
      case Mode::untouched: return 1.0;
      default: break;
    }
    auto ms = inner_->execute(t, opt);
    std::vector<float>& out = tensor(t, outputs_of(dir_)[0]);
    if (mode_ == Mode::off_by_one) out[3] += 1;
    if (mode_ == Mode::zeros) std::fill(out.begin(), out.end(), 0.0f);
    return ms.ok() ? Result<double>(2.5) : ms;
  }
  Dir dir_ = Dir::FWD_D;

 private:
  std::unique_ptr<Prepared> inner_;
  Mode mode_;
};

class FakeEngine : public Engine {
 public:
  explicit FakeEngine(std::string name, Mode mode = Mode::correct) : name_(std::move(name)), mode_(mode) {}
  Status init_status, prepare_status;
  int prepares = 0;

  std::string name() const override { return name_; }
  std::string version() const override { return "fake 1"; }
  Status init() override { return init_status; }
  std::vector<std::string> algorithms(const Problem&) override { return {"fake-direct"}; }
  Result<std::unique_ptr<Prepared>> prepare(const Problem& p, const std::string&) override {
    ++prepares;
    if (!prepare_status.ok()) return prepare_status;
    auto inner = ref_->prepare(p, "default");
    if (!inner.ok()) return inner.status();
    auto fp = std::make_unique<FakePrepared>(std::move(*inner), mode_);
    fp->dir_ = p.dir;
    return std::unique_ptr<Prepared>(std::move(fp));
  }
  std::map<std::string, std::string> fingerprint() override { return {{"engine", name_}}; }

 private:
  std::string name_;
  Mode mode_;
  std::unique_ptr<Engine> ref_ = make_ref_engine();
};

Problem problem(int64_t ih = 6) {
  Problem p;
  p.dir = Dir::FWD_B;
  p.mb = 1, p.ic = 4, p.ih = p.iw = ih, p.oc = 8, p.kh = p.kw = 3, p.ph = p.pw = 1;
  p.oh = p.ow = ih;
  return p;
}

ProbeResult probe(Mode mode, std::vector<Phase>* phases = nullptr, bool* lost = nullptr) {
  FakeEngine e("fake", mode);
  Reference ref(make_ref_engine(), nullptr);
  return run_probe(e, problem(), "default", &ref, {},
                   [&](Phase ph) { if (phases) phases->push_back(ph); }, lost);
}

TEST(RunProbe, ACorrectEngineIsOkAfterAllFourPhasesInOrder) {
  std::vector<Phase> phases;
  const ProbeResult r = probe(Mode::correct, &phases);
  EXPECT_EQ(r.outcome, Outcome::ok) << r.message;
  EXPECT_EQ(r.phase, Phase::verify);
  EXPECT_EQ(phases, (std::vector<Phase>{Phase::init, Phase::prepare, Phase::execute, Phase::verify}));
  EXPECT_EQ(r.algo, "default") << "the requested algorithm stays the key";
  EXPECT_EQ(r.impl, "fake-direct") << "the resolved algorithm is reported";
  EXPECT_EQ(r.engine, "fake");
  EXPECT_EQ(r.reference, "ref");
  EXPECT_EQ(r.time_ms, 2.5);
  EXPECT_EQ(r.max_rel_err, 0);
  EXPECT_EQ(r.problem, key(problem()));
}

TEST(RunProbe, AWrongElementIsWrongAndTheMessageNamesIt) {
  const ProbeResult r = probe(Mode::off_by_one);
  EXPECT_EQ(r.outcome, Outcome::wrong);
  EXPECT_EQ(r.phase, Phase::verify);
  EXPECT_NE(r.message.find("dst[3]"), std::string::npos) << r.message;
  EXPECT_GT(r.max_rel_err, 0);
}

TEST(RunProbe, AWrongResultCarriesItsClassAndItsErrorOverTheBound) {
  const ProbeResult r = probe(Mode::off_by_one);
  EXPECT_EQ(r.err_class, "exact");
  EXPECT_GT(r.err_ratio, 1);
  EXPECT_NE(r.message.find("exceed the exact bound"), std::string::npos) << r.message;
  // One unit on 37 terms of up to 256 is inside TF32 Winograd's rounding: the note says
  // which looser class the error would fit.
  EXPECT_NE(r.message.find("within the winograd_tf32 bound"), std::string::npos) << r.message;
}

TEST(RunProbe, ABrokenReferenceIsAnErrorNeverAFinding) {
  FakeEngine good("fake");
  // The judge is off by one where the engine is right: the double-precision second
  // opinion sides with the engine.
  Reference ref(std::make_unique<FakeEngine>("liar", Mode::off_by_one), nullptr);
  const ProbeResult r = run_probe(good, problem(), "default", &ref, {});
  EXPECT_EQ(r.outcome, Outcome::error) << r.message;
  EXPECT_NE(r.message.find("independent double-precision check at dst[3]"), std::string::npos)
      << r.message;
}

TEST(RunProbe, AnAllZeroOutputIsWrongAndNotTrusted) {
  const ProbeResult r = probe(Mode::zeros);
  EXPECT_EQ(r.outcome, Outcome::wrong);
  EXPECT_NE(r.message.find("all-zero output not trusted"), std::string::npos) << r.message;
}

TEST(RunProbe, AnOutputLeftPoisonedIsWrong) {
  const ProbeResult r = probe(Mode::untouched);
  EXPECT_EQ(r.outcome, Outcome::wrong);
  EXPECT_NE(r.message.find("nan"), std::string::npos) << r.message;
}

TEST(RunProbe, AnExecutionErrorIsErrorInExecute) {
  std::vector<Phase> phases;
  const ProbeResult r = probe(Mode::exec_error, &phases);
  EXPECT_EQ(r.outcome, Outcome::error);
  EXPECT_EQ(r.phase, Phase::execute);
  EXPECT_EQ(r.message, "kernel launch failed");
  EXPECT_EQ(phases.back(), Phase::execute);
}

TEST(RunProbe, ALostDeviceIsACrashAndSaysSo) {
  bool lost = false;
  const ProbeResult r = probe(Mode::device_lost, nullptr, &lost);
  EXPECT_EQ(r.outcome, Outcome::crash);
  EXPECT_EQ(r.phase, Phase::execute);
  EXPECT_TRUE(lost);
}

TEST(RunProbe, AnExceptionFromTheLibraryBecomesAnError) {
  const ProbeResult r = probe(Mode::throws);
  EXPECT_EQ(r.outcome, Outcome::error);
  EXPECT_EQ(r.phase, Phase::execute);
  EXPECT_NE(r.message.find("boom"), std::string::npos);
}

TEST(RunProbe, UnsupportedInPrepareIsUnsupportedAndStopsThere) {
  FakeEngine e("fake");
  e.prepare_status = Status::Unsupported("no f16 here");
  std::vector<Phase> phases;
  const ProbeResult r = run_probe(e, problem(), "default", nullptr, {},
                                  [&](Phase ph) { phases.push_back(ph); });
  EXPECT_EQ(r.outcome, Outcome::unsupported);
  EXPECT_EQ(r.phase, Phase::prepare);
  EXPECT_EQ(r.message, "no f16 here");
  EXPECT_EQ(phases, (std::vector<Phase>{Phase::init, Phase::prepare}));
}

TEST(RunProbe, OtherPrepareAndInitFailuresAreErrorsInTheirPhase) {
  FakeEngine e("fake");
  e.prepare_status = Status::Error("compile failed");
  EXPECT_EQ(run_probe(e, problem(), "default", nullptr, {}).outcome, Outcome::error);
  EXPECT_EQ(run_probe(e, problem(), "default", nullptr, {}).phase, Phase::prepare);
  e.init_status = Status::Error("no library");
  const ProbeResult r = run_probe(e, problem(), "default", nullptr, {});
  EXPECT_EQ(r.outcome, Outcome::error);
  EXPECT_EQ(r.phase, Phase::init);
}

TEST(RunProbe, WithoutVerificationItEndsAfterExecute) {
  FakeEngine e("fake", Mode::off_by_one);
  ProbeOptions opt;
  opt.verify = false;
  const ProbeResult r = run_probe(e, problem(), "default", nullptr, opt);
  EXPECT_EQ(r.outcome, Outcome::ok);
  EXPECT_EQ(r.phase, Phase::execute);
}

TEST(Reference, SmallProblemsUseTheSmallEngineAndLargeOnesTheFast) {
  Reference ref(std::make_unique<FakeEngine>("small"), std::make_unique<FakeEngine>("fast"),
                /*small_max_flops=*/2 * 8 * 4 * 9 * 36.0);
  std::string judge;
  ASSERT_TRUE(ref.outputs(problem(6), 0, &judge).ok());
  EXPECT_EQ(judge, "small");
  ASSERT_TRUE(ref.outputs(problem(7), 0, &judge).ok());
  EXPECT_EQ(judge, "fast");
}

TEST(Reference, NeverJudgesTheExcludedEngine) {
  Reference ref(make_ref_engine(), make_onednn_engine(), /*small_max_flops=*/0);
  ref.exclude("onednn");
  std::string judge;
  ASSERT_TRUE(ref.outputs(problem(), 0, &judge).ok());
  EXPECT_EQ(judge, "ref");
  Reference only(make_ref_engine(), nullptr);
  only.exclude("ref");
  EXPECT_FALSE(only.outputs(problem(), 0, &judge).ok());
}

TEST(Reference, ComputesEachReferenceOncePerProblemAndSeed) {
  auto small = std::make_unique<FakeEngine>("small");
  FakeEngine* counted = small.get();
  Reference ref(std::move(small), nullptr);
  std::string judge;
  ASSERT_TRUE(ref.outputs(problem(), 0, &judge).ok());
  ASSERT_TRUE(ref.outputs(problem(), 0, &judge).ok());
  EXPECT_EQ(counted->prepares, 1);
  ASSERT_TRUE(ref.outputs(problem(), 1, &judge).ok());
  EXPECT_EQ(counted->prepares, 2);
}

TEST(InProcessProber, OnednnIsJudgedByRefAndRunsEveryRequestInOrder) {
  InProcessProber prober(make_onednn_engine());
  std::vector<ProbeRequest> reqs = {{problem(), "default"}, {problem(8), "default"}};
  std::vector<ProbeResult> results;
  ASSERT_TRUE(run_all(prober, reqs, &results).ok());
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    EXPECT_EQ(r.outcome, Outcome::ok) << r.message;
    EXPECT_EQ(r.reference, "ref");
    EXPECT_EQ(r.engine, "onednn");
  }
  EXPECT_EQ(results[1].problem, key(problem(8)));
}

TEST(InProcessProber, AnnouncesEachRequestJustBeforeItsResult) {
  InProcessProber prober(make_onednn_engine());
  EXPECT_TRUE(prober.reports_dispatch());
  std::vector<std::string> events;
  const Status s = prober.run(
      {{problem(), "default"}, {problem(8), "default"}},
      [&](size_t i, const ProbeResult&) { events.push_back("result " + std::to_string(i)); },
      [&](size_t i) { events.push_back("dispatch " + std::to_string(i)); });
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(events, (std::vector<std::string>{"dispatch 0", "result 0", "dispatch 1", "result 1"}));
}

TEST(InProcessProber, StopsAfterALostDeviceAndLeavesTheRestSuspect) {
  InProcessProber prober(std::make_unique<FakeEngine>("fake", Mode::device_lost));
  std::vector<ProbeResult> results;
  const Status s = run_all(prober, {{problem(), "default"}, {problem(), "default"}}, &results);
  EXPECT_EQ(s.code(), Code::kDeviceLost);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].outcome, Outcome::crash);
  EXPECT_EQ(results[1].outcome, Outcome::suspect);
  EXPECT_EQ(results[1].engine, "fake");
}

}  // namespace
}  // namespace convguard
