#include "guard/torch/torch_guard.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>

#include <torch/library.h>
#include <ATen/ops/convolution_backward_native.h>
#include <ATen/ops/convolution_native.h>

#include "convguard/supervisor.h"
#include "engines/torch/torch_engine.h"
#include "isolation/thread_prober.h"

namespace convguard::torch_guard {
namespace {

template <class T>
Status read(const nlohmann::json& j, const char* field, T* out) {
  if (!j.contains(field) || j[field].is_null()) return Status::Ok();
  try {
    *out = j[field].get<T>();
  } catch (const nlohmann::json::exception&) {
    return Status::Invalid(std::string("torch guard: invalid ") + field + "=" + j[field].dump());
  }
  return Status::Ok();
}

Result<std::unique_ptr<Engine>> make_device_engine(const EngineSpec& spec) {
  auto base = make_torch_engine();
  if (!base.ok() || spec.name == "torch") return base;
  return make_sim_engine(std::move(*base), spec.quirks_path, spec.seed);
}

EngineSpec device_spec(const TorchGuardOptions& o) {
  return o.quirks.empty() ? EngineSpec{"torch", "", "", 0} : EngineSpec{"sim", "torch", o.quirks, o.seed};
}

/// The learner: isolated torch workers behind one long-lived thread.
std::shared_ptr<Prober> make_learner(const TorchGuardOptions& o) {
  SupervisorOptions s;
  s.worker_argv = {o.worker};
  s.engine = device_spec(o);
  s.timeouts.execute_s = o.timeout_exec;
  // Realistic deadlines from the first probe: without calibration the cost model starts at
  // 1 GFLOP/s, and a hanging 7 GFLOP problem (ResNet's 56x56 layers at mb 32) waited 74 s
  // on the H200 before it was called a hang.
  s.calibrate = true;
  return std::make_shared<ThreadProber>(
      [s] { return std::unique_ptr<Prober>(std::make_unique<Supervisor>(s)); }, s.engine.name);
}

/// The profile at o.profile, or (learning) a new one for this device when there is none.
Result<Profile> open_profile(const TorchGuardOptions& o, const EngineSpec& spec) {
  std::error_code ec;
  if (std::filesystem::exists(o.profile, ec) || !o.learn) return Profile::load(o.profile);
  auto engine = make_device_engine(spec);
  if (!engine.ok()) return engine.status();
  CG_RETURN_IF_ERROR((*engine)->init());
  return Profile::build((*engine)->fingerprint(), {});
}

std::vector<int64_t> ints(c10::SymIntArrayRef v) {
  std::vector<int64_t> out;
  out.reserve(v.size());
  for (const auto& s : v) out.push_back(s.expect_int());
  return out;
}

ConvParams params(c10::SymIntArrayRef stride, c10::SymIntArrayRef padding,
                  c10::SymIntArrayRef dilation, bool transposed, c10::SymIntArrayRef output_padding,
                  const c10::SymInt& groups) {
  return {ints(stride), ints(padding), ints(dilation), ints(output_padding), transposed,
          groups.expect_int()};
}

}  // namespace

Result<TorchGuardOptions> TorchGuardOptions::from_json(const nlohmann::json& j) {
  if (!j.is_object()) return Status::Invalid("torch guard: options must be a JSON object");
  TorchGuardOptions o;
  for (auto it = j.begin(); it != j.end(); ++it) {
    static const std::set<std::string> known{"profile", "learn", "force", "cpu_route", "quirks",
                                             "seed", "device", "worker", "timeout_exec"};
    if (!known.count(it.key()))
      return Status::Invalid("torch guard: unknown option " + it.key());
  }
  CG_RETURN_IF_ERROR(read(j, "profile", &o.profile));
  CG_RETURN_IF_ERROR(read(j, "learn", &o.learn));
  CG_RETURN_IF_ERROR(read(j, "force", &o.force));
  CG_RETURN_IF_ERROR(read(j, "cpu_route", &o.cpu_route));
  CG_RETURN_IF_ERROR(read(j, "quirks", &o.quirks));
  CG_RETURN_IF_ERROR(read(j, "seed", &o.seed));
  CG_RETURN_IF_ERROR(read(j, "device", &o.device));
  CG_RETURN_IF_ERROR(read(j, "worker", &o.worker));
  CG_RETURN_IF_ERROR(read(j, "timeout_exec", &o.timeout_exec));
  if (o.profile.empty()) return Status::Invalid("torch guard: profile is required");
  if (o.device != "cuda" && o.device != "cpu")
    return Status::Invalid("torch guard: invalid device=" + o.device + ": cuda or cpu");
  if (o.learn && o.worker.empty())
    return Status::Invalid("torch guard: learning needs worker (convguard-torch-worker's path)");
  if (!(o.timeout_exec >= 0 && o.timeout_exec < 1e6))
    return Status::Invalid("torch guard: invalid timeout_exec=" + std::to_string(o.timeout_exec));
  return o;
}

size_t TorchGuard::KeyHash::operator()(const CallKey& k) const {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the fields
  for (int64_t v : k) h = (h ^ static_cast<uint64_t>(v)) * 1099511628211ull;
  return h;
}

Result<std::unique_ptr<TorchGuard>> TorchGuard::open(const TorchGuardOptions& opt) {
  std::optional<Quirks> quirks;
  if (!opt.quirks.empty()) {
    auto q = load_quirks(opt.quirks);
    if (!q.ok()) return q.status();
    quirks = std::move(*q);
  }
  GuardOptions g;
  g.device_spec = device_spec(opt);
  g.device_engine = g.device_spec.name;
  g.cpu_engine = opt.cpu_route ? "cpu" : "";
  g.learn = opt.learn;
  g.force = opt.force;
  g.make_engine = make_device_engine;
  g.save_path = opt.profile;
  if (opt.learn) g.prober = make_learner(opt);
  auto profile = open_profile(opt, g.device_spec);
  if (!profile.ok()) return profile.status();
  auto guard = Guard::open(std::move(*profile), std::move(g));
  if (!guard.ok()) return guard.status();
  return std::unique_ptr<TorchGuard>(new TorchGuard(opt, std::move(*guard), std::move(quirks)));
}

TorchGuard::TorchGuard(TorchGuardOptions opt, Guard guard, std::optional<Quirks> quirks)
    : opt_(std::move(opt)), guard_(std::move(guard)), quirks_(std::move(quirks)) {
  if (quirks_)
    injector_ = [this](const Problem& p, const std::string& knob, double* factor) {
      return inject(p, knob, factor);
    };
}

TorchGuard::~TorchGuard() = default;

TorchGuard::Entry& TorchGuard::entry(const Problem& p) {
  const CallKey k{int64_t(p.dir), int64_t(p.dt), int64_t(p.layout), p.g, p.mb, p.ic, p.ih, p.iw,
                  p.oc, p.kh, p.kw, p.sh, p.sw, p.ph, p.pw, p.dh, p.dw};
  {
    std::shared_lock lock(mu_);
    auto it = cache_.find(k);
    if (it != cache_.end()) return *it->second;
  }
  // Planning may learn: isolated probes of p (and of its tiles) before it ever runs here.
  auto route = guard_.plan(p);
  TORCH_CHECK(route.ok(), "convguard: cannot plan ", key(p), ": ", route.status().message());
  std::unique_lock lock(mu_);
  auto [it, fresh] = cache_.try_emplace(k, nullptr);
  if (fresh) {
    it->second = std::make_unique<Entry>();
    it->second->problem = p;
    it->second->route = *route;
    order_.push_back(it->second.get());
  }
  return *it->second;
}

Status TorchGuard::learn(const std::vector<Problem>& problems) {
  for (const Problem& p : problems) {
    try {
      const Route& r = entry(p).route;
      if (r.kind == RouteKind::refuse) return Status::Error(key(p) + ": refused: " + r.text());
    } catch (const c10::Error& e) {
      return Status::Error(e.what_without_backtrace());
    }
  }
  return Status::Ok();
}

void TorchGuard::unguarded(const std::string& why) {
  std::unique_lock lock(mu_);
  ++unguarded_[why];
}

at::Tensor TorchGuard::forward(const ForwardCall& c) {
  auto p = problem_of(c.input, c.weight, c.params, c.bias ? Dir::FWD_B : Dir::FWD_D);
  if (!p.ok()) {
    unguarded(p.status().message());
    return run_forward_unguarded(c);
  }
  Entry& e = entry(*p);
  e.calls.fetch_add(1, std::memory_order_relaxed);
  return run_forward(e.route, *p, c, injector_);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> TorchGuard::backward(const BackwardCall& c) {
  const auto dirs = backward_dirs(c.mask);
  std::vector<std::pair<Entry*, Problem>> parts;
  for (Dir d : dirs) {
    auto p = problem_of(c.input, c.weight, c.params, d);
    if (!p.ok()) {
      unguarded(p.status().message());
      auto [gi, gw, gb] = run_backward_native("default", c, {});
      return {gi, gw, gb};
    }
    Entry& e = entry(*p);
    e.calls.fetch_add(1, std::memory_order_relaxed);
    parts.emplace_back(&e, *p);
  }
  // One original-kernel call when every direction may run natively with one knob.
  const bool one_call =
      !parts.empty() && std::all_of(parts.begin(), parts.end(), [&](const auto& x) {
        const Route& r = x.first->route;
        return (r.kind == RouteKind::native || r.kind == RouteKind::other_algo) &&
               r.algo == parts.front().first->route.algo;
      });
  if (one_call && (c.mask[1] || !c.mask[2])) {
    auto g = run_backward_native(parts.front().first->route.algo, c, injector_);
    return {g.input, g.weight, g.bias};
  }
  Grads out;
  for (const auto& [e, p] : parts) {
    Grads g = run_backward(e->route, p, c, injector_);
    if (p.dir == Dir::BWD_D) out.input = g.input;
    else out.weight = g.weight, out.bias = g.bias;
  }
  // The bias alone: the sum of the output gradient, no library call.
  if (c.mask[2] && !c.mask[1])
    out.bias = c.grad_output.sum({0, 2, 3}, false, at::kFloat).to(c.grad_output.scalar_type());
  return {out.input, out.weight, out.bias};
}

nlohmann::json TorchGuard::routes() const {
  std::shared_lock lock(mu_);
  nlohmann::json out = nlohmann::json::array();
  for (const Entry* e : order_)
    out.push_back({{"problem", key(e->problem)},
                   {"dir", to_string(e->problem.dir)},
                   {"route", to_string(e->route.kind)},
                   {"algo", e->route.algo},
                   {"text", e->route.text()},
                   {"learned", e->route.learned},
                   {"calls", e->calls.load()}});
  for (const auto& [why, n] : unguarded_)
    out.push_back({{"problem", ""}, {"route", "unguarded"}, {"text", why}, {"calls", n}});
  return out;
}

Fault TorchGuard::inject(const Problem& call, const std::string& knob, double* factor) {
  const int64_t n = executions_.fetch_add(1);
  const int i = choose_rule(*quirks_, Phase::execute, &call, {knob}, n);
  if (i < 0) return Fault::none;
  const QuirkRule& rule = quirks_->rules[size_t(i)];
  if (!rule_fires(rule, opt_.seed, Phase::execute, key(call), n)) return Fault::none;
  const std::string msg = rule.message.empty() ? to_string(rule.effect) : rule.message;
  switch (rule.effect) {
    case Effect::hang:
    case Effect::wedge: hang(rule);
    case Effect::crash:
      std::fprintf(stderr, "convguard: injected crash (%s) in %s\n", msg.c_str(), key(call).c_str());
      std::raise(SIGSEGV);
      std::abort();
    case Effect::abort: std::abort();
    case Effect::error:
      TORCH_CHECK(false, "convguard: injected error (", msg, ") in ", key(call));
      return Fault::none;
    case Effect::wrong: return Fault::wrong;
    case Effect::slow: *factor = rule.factor; return Fault::slow;
  }
  return Fault::none;
}

void TorchGuard::hang(const QuirkRule& rule) {
  std::fprintf(stderr, "convguard: injected hang (%s) on the native path\n", rule.message.c_str());
  std::fflush(stderr);
  // A real never-ending kernel on the GPU where the torch engine can launch one.
  if (auto engine = make_torch_engine(); engine.ok() && (*engine)->init().ok())
    (void)(*engine)->inject_hang();
  volatile int spin = 0;
  for (;;) spin = spin + 1;
}

// --- the dispatcher -----------------------------------------------------------------------------

namespace {

std::mutex install_mu;
std::shared_ptr<TorchGuard> installed;  // guarded by install_mu
std::unique_ptr<torch::Library> library;

std::shared_ptr<TorchGuard> current() {
  std::lock_guard lock(install_mu);
  return installed;
}

at::Tensor guarded_convolution(const at::Tensor& input, const at::Tensor& weight,
                               const std::optional<at::Tensor>& bias, c10::SymIntArrayRef stride,
                               c10::SymIntArrayRef padding, c10::SymIntArrayRef dilation,
                               bool transposed, c10::SymIntArrayRef output_padding,
                               c10::SymInt groups) {
  ForwardCall c{input, weight, bias, params(stride, padding, dilation, transposed, output_padding, groups)};
  // The dispatcher hands "no bias" over as an empty optional or as an undefined tensor.
  if (c.bias && !c.bias->defined()) c.bias.reset();
  if (auto g = current()) return g->forward(c);
  return run_forward_unguarded(c);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> guarded_convolution_backward(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    at::OptionalSymIntArrayRef bias_sizes, c10::SymIntArrayRef stride, c10::SymIntArrayRef padding,
    c10::SymIntArrayRef dilation, bool transposed, c10::SymIntArrayRef output_padding,
    c10::SymInt groups, std::array<bool, 3> output_mask) {
  BackwardCall c{grad_output, input, weight, std::nullopt,
                 params(stride, padding, dilation, transposed, output_padding, groups), output_mask};
  if (bias_sizes) c.bias_sizes = ints(*bias_sizes);
  if (auto g = current()) return g->backward(c);
  auto r = run_backward_native("default", c, {});
  return {r.input, r.weight, r.bias};
}

}  // namespace

Status install(const TorchGuardOptions& opt) {
  auto guard = TorchGuard::open(opt);
  if (!guard.ok()) return guard.status();
  std::lock_guard lock(install_mu);
  installed = std::move(*guard);
  library.reset();  // a guard installed before may have overridden another device's key
  const auto key = opt.device == "cpu" ? c10::DispatchKey::CPU : c10::DispatchKey::CUDA;
  library = std::make_unique<torch::Library>(torch::Library::IMPL, "aten", key, __FILE__, __LINE__);
  library->impl("convolution", TORCH_FN(guarded_convolution));
  library->impl("convolution_backward", TORCH_FN(guarded_convolution_backward));
  return Status::Ok();
}

void uninstall() {
  std::shared_ptr<TorchGuard> closing;
  {
    std::lock_guard lock(install_mu);
    library.reset();  // the original kernels are back
    closing = std::move(installed);
  }
}

nlohmann::json installed_routes() {
  auto g = current();
  return g ? g->routes() : nlohmann::json();
}

Status installed_learn(const std::vector<std::string>& keys) {
  std::vector<Problem> problems;
  for (const std::string& k : keys) {
    auto p = parse_problem(k);
    if (!p.ok()) return Status::Invalid("torch guard: invalid problem " + k + ": " + p.status().message());
    problems.push_back(*p);
  }
  auto g = current();
  if (!g) return Status::Error("torch guard: no guard is installed (learn inside a guard block)");
  return g->learn(problems);
}

}  // namespace convguard::torch_guard
