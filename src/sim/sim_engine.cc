// The sim engine: a base engine plus the faults of a quirk file (contract in sim.h).
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "convguard/sim.h"

namespace convguard {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

[[noreturn]] void spin_forever() {
  volatile uint64_t spins = 0;
  for (;;) spins = spins + 1;
}

// Read through a volatile so the compiler cannot see the null and turn the store into a trap.
int* volatile g_null_target = nullptr;

// A real fault is the point: UndefinedBehaviorSanitizer must not turn it into a report and an
// exit status of 1 (the sanitizer test stage runs the death and crash tests too).
[[noreturn]] __attribute__((no_sanitize("undefined"))) void segfault() {
  *static_cast<volatile int*>(g_null_target) = 1;
  std::abort();  // not reached; keeps [[noreturn]] honest if the store somehow succeeds
}

const char* wedge_file() {
  const char* f = std::getenv(kSimWedgeFileEnv);
  return (f && *f) ? f : nullptr;
}

bool device_wedged() {
  const char* f = wedge_file();
  return f && access(f, F_OK) == 0;
}

void mark_wedged() {
  const char* f = wedge_file();
  if (!f) return;
  int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    static const char kText[] = "convguard sim: device wedged\n";
    [[maybe_unused]] ssize_t n = write(fd, kText, sizeof kText - 1);
    close(fd);
  }
}

void say(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

// Changes the first, middle and last element of every output of the direction.
void perturb_outputs(const Problem& p, ConvTensors& t) {
  std::vector<std::vector<float>*> outs;
  switch (p.dir) {
    case Dir::FWD_D:
    case Dir::FWD_B:
      outs = {&t.dst};
      break;
    case Dir::BWD_D:
      outs = {&t.src};
      break;
    case Dir::BWD_W:
      outs = {&t.wei};
      break;
    case Dir::BWD_WB:
      outs = {&t.wei, &t.bia};
      break;
  }
  for (std::vector<float>* v : outs) {
    if (v->empty()) continue;
    std::vector<size_t> at{0, v->size() / 2, v->size() - 1};
    at.erase(std::unique(at.begin(), at.end()), at.end());  // tiny outputs repeat indices
    for (size_t i : at) (*v)[i] = (*v)[i] + 1 + std::fabs((*v)[i]);
  }
}

class SimEngineImpl;

class SimPrepared : public Prepared {
 public:
  SimPrepared(SimEngineImpl& engine, Problem p, std::vector<std::string> algos,
              std::unique_ptr<Prepared> base)
      : engine_(engine), p_(std::move(p)), algos_(std::move(algos)), base_(std::move(base)) {}
  std::string algo() const override { return base_->algo(); }
  AlgoClass algo_class() const override { return base_->algo_class(); }
  Result<double> execute(ConvTensors& t, const ExecOptions& opt) override;

 private:
  SimEngineImpl& engine_;
  Problem p_;
  std::vector<std::string> algos_;
  std::unique_ptr<Prepared> base_;
};

class SimEngineImpl : public SimEngine {
 public:
  SimEngineImpl(std::unique_ptr<Engine> base, Quirks quirks, uint64_t seed)
      : base_(std::move(base)), quirks_(std::move(quirks)), seed_(seed) {}

  std::string name() const override { return "sim"; }
  std::string version() const override {
    return fmt::format("sim({}) over {}", quirks_.name, base_->version());
  }
  Status init() override;
  std::vector<std::string> algorithms(const Problem& p) override { return base_->algorithms(p); }
  Result<std::unique_ptr<Prepared>> prepare(const Problem& p, const std::string& algo) override;
  std::map<std::string, std::string> fingerprint() override {
    auto fp = base_->fingerprint();
    fp["sim.quirks"] = quirks_.name;
    fp["sim.quirks_hash"] = quirks_.content_hash;
    return fp;
  }
  Status inject_hang() override { return base_->inject_hang(); }

  void set_canary(bool on) override { canary_ = on; }
  bool canary() const override { return canary_; }
  int64_t executions() const override { return executions_; }
  const Quirks& quirks() const override { return quirks_; }

  /// The rule that fires for a call in `phase`, or -1; advances nothing.
  int rule_for(Phase phase, const Problem* p, const std::vector<std::string>& algos) const;
  /// Applies a rule's effect for hang, wedge, crash, abort, error, and the sleep of slow
  /// (`base_ms`: the wall time the base took). Returns only for error/slow/wrong.
  Status apply(int rule, Phase phase, double base_ms);
  /// Hangs if the simulated device is wedged.
  void check_wedge();
  Engine& base() { return *base_; }
  int64_t count_execution() { return executions_++; }

 private:
  std::unique_ptr<Engine> base_;
  Quirks quirks_;
  uint64_t seed_;
  bool canary_ = false;
  int64_t executions_ = 0;
};

void SimEngineImpl::check_wedge() {
  if (!device_wedged()) return;
  say(fmt::format("convguard sim: device wedged ({} exists); hanging", wedge_file()));
  spin_forever();
}

int SimEngineImpl::rule_for(Phase phase, const Problem* p,
                            const std::vector<std::string>& algos) const {
  int i = choose_rule(quirks_, phase, p, algos, executions_);
  if (i < 0) return -1;
  const std::string k = p ? key(*p) : std::string();
  return rule_fires(quirks_.rules[static_cast<size_t>(i)], seed_, phase, k, executions_) ? i : -1;
}

Status SimEngineImpl::apply(int index, Phase phase, double base_ms) {
  const QuirkRule& r = quirks_.rules[static_cast<size_t>(index)];
  const std::string what =
      fmt::format("convguard sim: quirks {}: rule {} ({}) in {}{}{}", quirks_.name, index,
                  to_string(r.effect), to_string(phase), r.message.empty() ? "" : ": ", r.message);
  switch (r.effect) {
    case Effect::wedge:
      say(what);
      mark_wedged();
      [[fallthrough]];
    case Effect::hang: {
      if (r.effect == Effect::hang) say(what);
      Status s = base_->inject_hang();
      if (!s.ok() && s.code() != Code::kUnsupported) return s;
      spin_forever();
    }
    case Effect::crash:
      say(what);
      segfault();
    case Effect::abort:
      say(what);
      std::abort();
    case Effect::error:
      return Status::Error(what.substr(std::string("convguard ").size()));
    case Effect::slow: {
      const double extra_ms = (r.factor - 1) * base_ms;
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(extra_ms));
      return Status::Ok();
    }
    case Effect::wrong:
      return Status::Ok();
  }
  return Status::Ok();
}

Status SimEngineImpl::init() {
  check_wedge();
  const auto t0 = Clock::now();
  CG_RETURN_IF_ERROR(base_->init());
  const int rule = rule_for(Phase::init, nullptr, {});
  return rule < 0 ? Status::Ok() : apply(rule, Phase::init, ms_since(t0));
}

Result<std::unique_ptr<Prepared>> SimEngineImpl::prepare(const Problem& p,
                                                         const std::string& algo) {
  check_wedge();
  const auto t0 = Clock::now();
  auto prepared = base_->prepare(p, algo);
  if (!prepared.ok() || canary_) return prepared;
  const double base_ms = ms_since(t0);
  std::vector<std::string> algos{algo};
  if ((*prepared)->algo() != algo) algos.push_back((*prepared)->algo());
  if (int rule = rule_for(Phase::prepare, &p, algos); rule >= 0) {
    CG_RETURN_IF_ERROR(apply(rule, Phase::prepare, base_ms));
  }
  return std::unique_ptr<Prepared>(
      std::make_unique<SimPrepared>(*this, p, std::move(algos), std::move(*prepared)));
}

Result<double> SimPrepared::execute(ConvTensors& t, const ExecOptions& opt) {
  engine_.check_wedge();
  if (engine_.canary()) return base_->execute(t, opt);
  const int rule = engine_.rule_for(Phase::execute, &p_, algos_);
  engine_.count_execution();
  if (rule < 0) return base_->execute(t, opt);
  const QuirkRule& r = engine_.quirks().rules[static_cast<size_t>(rule)];
  if (r.effect != Effect::wrong && r.effect != Effect::slow) {
    Status s = engine_.apply(rule, Phase::execute, 0);
    return s.ok() ? Result<double>(Status::Error("sim: effect returned")) : Result<double>(s);
  }
  const auto t0 = Clock::now();
  auto ms = base_->execute(t, opt);
  if (!ms.ok()) return ms;
  if (r.effect == Effect::wrong) {
    perturb_outputs(p_, t);
    return ms;
  }
  CG_RETURN_IF_ERROR(engine_.apply(rule, Phase::execute, ms_since(t0)));
  return *ms * r.factor;
}

}  // namespace

Result<std::unique_ptr<Engine>> make_sim_engine(std::unique_ptr<Engine> base,
                                                const std::string& quirks_path, uint64_t seed) {
  if (!base) return Status::Invalid("sim: no base engine");
  auto quirks = load_quirks(quirks_path);
  if (!quirks.ok()) return quirks.status();
  return make_sim_engine(std::move(base), std::move(*quirks), seed);
}

std::unique_ptr<Engine> make_sim_engine(std::unique_ptr<Engine> base, Quirks quirks,
                                        uint64_t seed) {
  return std::make_unique<SimEngineImpl>(std::move(base), std::move(quirks), seed);
}

}  // namespace convguard
