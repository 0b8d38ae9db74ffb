#include "convguard/probe.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <set>

#include "convguard/fill.h"

namespace convguard {
namespace {

// Problem::flops() lives with the problem model; this is the same count, kept local
// so the reference choice does not depend on it.
double direct_flops(const Problem& p) {
  return 2.0 * double(p.mb) * double(p.oc) * double(p.oh) * double(p.ow) * double(p.ic / p.g) *
         double(p.kh) * double(p.kw);
}

}  // namespace

struct Reference::Impl {
  std::unique_ptr<Engine> small, fast;
  double small_max_flops = 0;
  std::set<std::string> excluded;
  bool small_ready = false, fast_ready = false;
  // The last reference computed: "--algo all" asks for the same one per algorithm.
  std::string cached_key;
  uint64_t cached_seed = 0;
  std::string cached_judge;
  ConvTensors cached;

  bool allowed(const std::unique_ptr<Engine>& e) const {
    return e && !excluded.count(e->name());
  }

  // The engines that may judge p, preferred first: the small one up to the threshold,
  // else the fast one. The other follows, for when the first declines the problem
  // (oneDNN has no f16 convolution on most CPUs).
  std::vector<Engine*> candidates(const Problem& p) const {
    const bool want_small = direct_flops(p) <= small_max_flops;
    const auto& first = want_small ? small : fast;
    const auto& second = want_small ? fast : small;
    std::vector<Engine*> out;
    if (allowed(first)) out.push_back(first.get());
    if (allowed(second)) out.push_back(second.get());
    return out;
  }

  // Runs e's default algorithm on p's fills into `cached`.
  Status compute(Engine* e, const Problem& p, uint64_t seed) {
    const std::string who = "reference " + e->name() + ": ";
    if (Status s = ready(e); !s.ok()) return Status(s.code(), who + s.message());
    auto prepared = e->prepare(p, kDefaultAlgo);
    if (!prepared.ok()) return Status(prepared.status().code(), who + prepared.status().message());
    resize_for(p, cached);
    fill_inputs(p, cached, seed);
    poison_outputs(p, cached);
    auto t = (*prepared)->execute(cached, ExecOptions{});
    if (!t.ok()) return Status(t.status().code(), who + t.status().message());
    return Status::Ok();
  }

  Status ready(Engine* e) {
    bool& flag = e == small.get() ? small_ready : fast_ready;
    if (flag) return Status::Ok();
    Status s = e->init();
    flag = s.ok();
    return s;
  }
};

Reference::Reference(std::unique_ptr<Engine> small, std::unique_ptr<Engine> fast,
                     double small_max_flops)
    : impl_(std::make_unique<Impl>()) {
  impl_->small = std::move(small);
  impl_->fast = std::move(fast);
  impl_->small_max_flops = small_max_flops;
}

Reference::~Reference() = default;

void Reference::exclude(const std::string& engine_name) {
  impl_->excluded.insert(engine_name);
  impl_->cached_key.clear();
}

Result<const ConvTensors*> Reference::outputs(const Problem& p, uint64_t seed,
                                              std::string* judge) {
  Impl& m = *impl_;
  const std::string k = key(p);
  if (!m.cached_key.empty() && m.cached_key == k && m.cached_seed == seed) {
    if (judge) *judge = m.cached_judge;
    return &m.cached;
  }
  m.cached_key.clear();
  const auto engines = m.candidates(p);
  if (engines.empty())
    return Status::Error("no reference engine may judge this problem (engine under test is "
                         "the only one available)");
  Status s;
  for (Engine* e : engines) {
    s = m.compute(e, p, seed);
    if (s.code() == Code::kUnsupported) continue;
    if (!s.ok()) return s;
    m.cached_key = k;
    m.cached_seed = seed;
    m.cached_judge = e->name();
    if (judge) *judge = m.cached_judge;
    return &m.cached;
  }
  return s;
}

namespace {

struct ProbeRun {
  ProbeResult r;
  bool device_lost = false;

  ProbeResult& end(Outcome o, Phase ph, const std::string& msg) {
    r.outcome = o;
    r.phase = ph;
    r.message = msg;
    return r;
  }

  // Maps an engine's Status to the outcome docs/DESIGN.md gives it.
  ProbeResult& fail(const Status& s, Phase ph) {
    switch (s.code()) {
      case Code::kUnsupported: return end(Outcome::unsupported, ph, s.message());
      case Code::kInvalid: return end(Outcome::invalid, ph, s.message());
      case Code::kDeviceLost:
        device_lost = true;
        return end(Outcome::crash, ph, "device lost: " + s.message());
      default:
        // Guard-banded engines report writes outside the output buffer this way.
        if (s.message().starts_with("oob:")) return end(Outcome::oob, ph, s.message());
        return end(Outcome::error, ph, s.message());
    }
  }
};

// Output buffers are reused across probes in a thread: probing many small problems
// is dominated by per-probe costs, and resize keeps the capacity.
ConvTensors& scratch_tensors() {
  thread_local ConvTensors t;
  return t;
}

bool all_finite(const Problem& p, const ConvTensors& t, std::string* where) {
  for (Arg a : outputs_of(p.dir)) {
    const auto& v = tensor(t, a);
    const auto it = std::find_if(v.begin(), v.end(), [](float x) { return !std::isfinite(x); });
    if (it != v.end()) {
      *where = std::string(to_string(a)) + "[" + std::to_string(it - v.begin()) + "] is " +
               std::to_string(*it);
      return false;
    }
  }
  return true;
}

ProbeResult& verify(ProbeRun& run, const Problem& p, const ConvTensors& got, AlgoClass cls,
                    Reference* reference, uint64_t seed) {
  std::string where;
  if (!reference) {
    if (!all_finite(p, got, &where)) return run.end(Outcome::wrong, Phase::verify, where);
    return run.end(Outcome::ok, Phase::verify, "not compared: no reference");
  }
  auto ref = reference->outputs(p, seed, &run.r.reference);
  if (!ref.ok()) return run.end(Outcome::error, Phase::verify, ref.status().message());
  const Comparison c = compare_outputs(p, got, **ref, tolerance_for(p.dt, cls));
  run.r.max_rel_err = c.max_rel_err;
  if (c.pass) return run.end(Outcome::ok, Phase::verify, "");
  return run.end(Outcome::wrong, Phase::verify, c.message);
}

ProbeResult& probe_phases(ProbeRun& run, Phase& phase, Engine& engine, const Problem& p,
                          const std::string& algo, Reference* reference, const ProbeOptions& opt,
                          const PhaseCallback& on_phase) {
  auto enter = [&](Phase ph) {
    phase = ph;
    if (on_phase) on_phase(ph);
  };
  enter(Phase::init);
  if (Status s = engine.init(); !s.ok()) return run.fail(s, Phase::init);
  enter(Phase::prepare);
  auto prepared = engine.prepare(p, algo);
  if (!prepared.ok()) return run.fail(prepared.status(), Phase::prepare);
  // The requested name stays the key (so stored results are found again); the
  // resolved one says which implementation actually ran.
  if ((*prepared)->algo() != algo) run.r.impl = (*prepared)->algo();
  ConvTensors& t = scratch_tensors();
  resize_for(p, t);
  fill_inputs(p, t, opt.seed);
  poison_outputs(p, t);
  enter(Phase::execute);
  auto ms = (*prepared)->execute(t, opt.exec);
  if (!ms.ok()) return run.fail(ms.status(), Phase::execute);
  run.r.time_ms = *ms;
  if (!opt.verify) return run.end(Outcome::ok, Phase::execute, "not verified");
  enter(Phase::verify);
  return verify(run, p, t, (*prepared)->algo_class(), reference, opt.seed);
}

}  // namespace

ProbeResult run_probe(Engine& engine, const Problem& p, const std::string& algo,
                      Reference* reference, const ProbeOptions& opt, const PhaseCallback& on_phase,
                      bool* device_lost) {
  ProbeRun run;
  Phase phase = Phase::init;
  try {
    run.r.problem = key(p);
    run.r.name = p.name;
    run.r.dir = p.dir;
    run.r.dt = p.dt;
    run.r.engine = engine.name();
    run.r.algo = algo;
    if (opt.canary) engine.set_canary(true);
    probe_phases(run, phase, engine, p, algo, reference, opt, on_phase);
  } catch (const std::exception& e) {
    run.end(Outcome::error, phase, std::string("exception: ") + e.what());
  } catch (...) {
    run.end(Outcome::error, phase, "unknown exception");
  }
  if (opt.canary) engine.set_canary(false);
  if (device_lost) *device_lost = run.device_lost;
  return run.r;
}

}  // namespace convguard
