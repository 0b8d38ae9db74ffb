#include "convguard/probe.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <set>

#include "convguard/bounds.h"
#include "convguard/fill.h"
#include "engines/second_opinion.h"

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
  Engine* cached_engine = nullptr;
  bool mag_ready = false;
  ConvTensors mag;

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

  // Runs e's default algorithm on p's fills into `out`; with `absolute`, on their
  // absolute values as an f32 problem (the magnitudes M of bounds.h).
  Status compute(Engine* e, const Problem& p, uint64_t seed, ConvTensors& out,
                 bool absolute = false) {
    const std::string who = "reference " + e->name() + ": ";
    if (Status s = ready(e); !s.ok()) return Status(s.code(), who + s.message());
    Problem q = p;
    if (absolute) q.dt = DataType::f32;
    auto prepared = e->prepare(q, kDefaultAlgo);
    if (!prepared.ok()) return Status(prepared.status().code(), who + prepared.status().message());
    resize_for(p, out);
    fill_inputs(p, out, seed);
    if (absolute)
      for (Arg a : inputs_of(p.dir))
        for (float& v : tensor(out, a)) v = std::fabs(v);
    poison_outputs(p, out);
    auto t = (*prepared)->execute(out, ExecOptions{});
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
    s = m.compute(e, p, seed, m.cached);
    if (s.code() == Code::kUnsupported) continue;
    if (!s.ok()) return s;
    m.cached_engine = e;
    m.mag_ready = false;
    m.cached_key = k;
    m.cached_seed = seed;
    m.cached_judge = e->name();
    if (judge) *judge = m.cached_judge;
    return &m.cached;
  }
  return s;
}

Result<const ConvTensors*> Reference::magnitudes(const Problem& p, uint64_t seed) {
  Impl& m = *impl_;
  if (m.cached_key != key(p) || m.cached_seed != seed || !m.cached_engine)
    return Status::Error("magnitudes asked before the reference outputs of " + key(p));
  if (!m.mag_ready) {
    CG_RETURN_IF_ERROR(m.compute(m.cached_engine, p, seed, m.mag, true));
    m.mag_ready = true;
  }
  return &m.mag;
}

namespace {

// For a wrong result: the first looser class whose bound the error meets, which tells a
// finding of undeclared reduced-precision arithmetic from one of no arithmetic at all.
std::string looser_class_note(const Problem& p, const ConvTensors& got, const ConvTensors& ref,
                              AlgoClass cls, const ConvTensors& mag) {
  const AlgoClass transform =
      p.dt == DataType::f32 ? AlgoClass::winograd_tf32 : AlgoClass::winograd;
  for (AlgoClass c : {AlgoClass::reduced, transform, AlgoClass::fft}) {
    if (c == cls) continue;
    const Comparison k = compare_outputs(p, got, ref, c, &mag);
    if (k.pass)
      return fmt::format(
          "; within the {} bound ({:.3g} of it): {} arithmetic the {} class does "
          "not declare",
          to_string(c), k.err_ratio,
          c == AlgoClass::reduced ? "reduced-precision" : "transform-like", to_string(cls));
  }
  return "; beyond every class's bound";
}

}  // namespace

void judge(const Problem& p, const ConvTensors& got, AlgoClass cls, Reference& reference,
           uint64_t seed, ProbeResult& r) {
  r.phase = Phase::verify;
  auto fail = [&](const Status& s) { r.outcome = Outcome::error, r.message = s.message(); };
  auto ref = reference.outputs(p, seed, &r.reference);
  if (!ref.ok()) return fail(ref.status());
  const ConvTensors* mag = nullptr;
  if (needs_magnitudes(p, cls)) {
    auto m = reference.magnitudes(p, seed);
    if (!m.ok()) return fail(m.status());
    mag = *m;
  }
  const Comparison c = compare_outputs(p, got, **ref, cls, mag);
  r.max_rel_err = c.max_rel_err, r.err_ratio = c.err_ratio, r.inexact = c.inexact;
  r.err_class = to_string(cls);
  if (c.pass) {
    r.outcome = Outcome::ok;
    r.message = c.inexact ? fmt::format("inexact ({}): max rel err {:.3g}, {:.3g} of its bound",
                                        r.err_class, c.max_rel_err, c.err_ratio)
                          : "";
    return;
  }
  const SecondOpinion second = second_opinion(p, seed, **ref, mag, c);
  r.outcome = second.reference_agrees ? Outcome::wrong : Outcome::error;
  r.message = second.reference_agrees ? c.message : second.message + "; judged: " + c.message;
  if (second.reference_agrees && !c.all_zero && c.nonfinite == 0) {
    auto m = reference.magnitudes(p, seed);
    if (m.ok()) r.message += looser_class_note(p, got, **ref, cls, **m);
  }
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
  judge(p, got, cls, *reference, seed, run.r);
  return run.r;
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
