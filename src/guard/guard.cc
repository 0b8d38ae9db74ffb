#include "convguard/guard.h"

#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>

#include "guard/guard_plan.h"

namespace convguard {
namespace {

// Every field of a problem but its name, as the cache key: cheaper than key(p)'s text.
struct ProblemKey {
  std::array<int64_t, 19> v;
  bool operator==(const ProblemKey&) const = default;
};

ProblemKey key_of(const Problem& p) {
  return {{int64_t(p.dir), int64_t(p.dt), int64_t(p.layout), p.g, p.mb, p.ic, p.ih, p.iw, p.oc,
           p.oh, p.ow, p.kh, p.kw, p.sh, p.sw, p.ph, p.pw, p.dh, p.dw}};
}

struct KeyHash {
  size_t operator()(const ProblemKey& k) const {
    uint64_t h = 1469598103934665603ull;
    for (int64_t x : k.v) h = (h ^ uint64_t(x)) * 1099511628211ull;
    return size_t(h);
  }
};

// One planned problem: its route, and the route prepared on first run.
struct Entry {
  Route route;
  std::mutex mu;
  std::unique_ptr<Prepared> prepared;
};

}  // namespace

struct Guard::Impl {
  GuardOptions opt;
  std::string save_path;
  std::unique_ptr<Engine> device, cpu;
  std::string device_name;
  std::mutex device_mu, cpu_mu;  // one execution at a time per engine
  std::mutex plan_mu;            // planning, learning and the profile
  Profile profile;
  std::shared_mutex cache_mu;
  std::unordered_map<ProblemKey, std::shared_ptr<Entry>, KeyHash> cache;
  std::atomic<int64_t> hits{0}, misses{0}, learned{0};

  Result<std::shared_ptr<Entry>> entry(const Problem& p);
  Result<std::shared_ptr<Entry>> plan_new(const Problem& p, const ProblemKey& k);
  Result<ProbeResult> probe(const Problem& p, const std::string& algo);
  Status prepare(Entry& e, const Problem& p);
  Engine* cpu_engine();
};

Result<std::shared_ptr<Entry>> Guard::Impl::entry(const Problem& p) {
  const ProblemKey k = key_of(p);
  {
    std::shared_lock lock(cache_mu);
    if (auto it = cache.find(k); it != cache.end()) {
      hits.fetch_add(1, std::memory_order_relaxed);
      return it->second;
    }
  }
  return plan_new(p, k);
}

Result<std::shared_ptr<Entry>> Guard::Impl::plan_new(const Problem& p, const ProblemKey& k) {
  std::lock_guard plan_lock(plan_mu);
  {
    std::shared_lock lock(cache_mu);  // another thread may have planned it meanwhile
    if (auto it = cache.find(k); it != cache.end()) {
      hits.fetch_add(1, std::memory_order_relaxed);
      return it->second;
    }
  }
  CG_RETURN_IF_ERROR(validate(p));
  LearnFn learn;
  if (opt.learn) learn = [this](const Problem& q, const std::string& a) { return probe(q, a); };
  Planner planner(profile, opt, device_name, learn);
  auto route = planner.plan(p);
  if (!route.ok()) return route.status();
  if (planner.learned() > 0) {
    learned += planner.learned();
    if (!save_path.empty()) CG_RETURN_IF_ERROR(profile.save(save_path));
  }
  auto e = std::make_shared<Entry>();
  e->route = std::move(route.value());
  misses.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock lock(cache_mu);
  return cache.emplace(k, std::move(e)).first->second;
}

Result<ProbeResult> Guard::Impl::probe(const Problem& p, const std::string& algo) {
  if (!opt.prober) return Status::Invalid("learning needs a prober (GuardOptions::prober)");
  std::optional<ProbeResult> got;
  Status s = opt.prober->run({ProbeRequest{p, algo}}, [&](size_t, const ProbeResult& r) { got = r; });
  if (!got) return s.ok() ? Status::Error("the prober returned no result for " + key(p)) : s;
  return *got;
}

Engine* Guard::Impl::cpu_engine() {
  if (cpu || opt.cpu_engine.empty() || !opt.make_engine) return cpu.get();
  auto e = opt.make_engine(EngineSpec{opt.cpu_engine, "", "", 0});
  if (e.ok() && (*e)->init().ok()) cpu = std::move(e.value());
  return cpu.get();
}

Status Guard::Impl::prepare(Entry& e, const Problem& p) {
  const Route& r = e.route;
  Result<std::unique_ptr<Prepared>> prep = Status::Error("no route");
  if (r.kind == RouteKind::cpu) {
    std::lock_guard lock(cpu_mu);
    Engine* c = cpu_engine();
    if (!c) return Status::Error("cpu route: cannot build the CPU engine '" + opt.cpu_engine + "'");
    prep = c->prepare(p, r.algo);
  } else {
    std::lock_guard lock(device_mu);
    if (r.kind == RouteKind::tiles) prep = prepare_tiled(*device, p, r.algo, r.tiles);
    else if (r.kind == RouteKind::split_batch || r.kind == RouteKind::split_groups)
      prep = prepare_split(*device, p, r.algo, r.split);
    else prep = device->prepare(p, r.algo);
  }
  if (!prep.ok()) return Status(prep.status().code(), "guard: " + r.text() + ": " + prep.status().message());
  e.prepared = std::move(prep.value());
  return Status::Ok();
}

Result<Guard> Guard::open(const std::string& path, GuardOptions opt) {
  auto profile = Profile::load(path);
  if (!profile.ok()) return profile.status();
  if (opt.save_path.empty()) opt.save_path = path;
  return open(std::move(profile.value()), std::move(opt));
}

Result<Guard> Guard::open(Profile profile, GuardOptions opt) {
  if (!opt.make_engine) return Status::Invalid("guard: GuardOptions::make_engine is required");
  if (opt.learn && !opt.prober) return Status::Invalid("guard: learning needs GuardOptions::prober");
  EngineSpec spec = opt.device_spec.name.empty() ? EngineSpec{opt.device_engine, "", "", 0}
                                                 : opt.device_spec;
  auto device = opt.make_engine(spec);
  if (!device.ok()) return device.status();
  CG_RETURN_IF_ERROR((*device)->init());
  CG_RETURN_IF_ERROR(profile.check_fingerprint((*device)->fingerprint(), opt.force));
  auto impl = std::make_unique<Impl>();
  impl->device_name = (*device)->name();
  impl->device = std::move(device.value());
  impl->profile = std::move(profile);
  impl->save_path = opt.save_path;
  impl->opt = std::move(opt);
  return Guard(std::move(impl));
}

Guard::Guard(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Guard::Guard(Guard&&) noexcept = default;
Guard& Guard::operator=(Guard&&) noexcept = default;
Guard::~Guard() = default;

Result<Route> Guard::plan(const Problem& p) {
  auto e = impl_->entry(p);
  if (!e.ok()) return e.status();
  return (*e)->route;
}

Status Guard::run(const Problem& p, ConvTensors& t, Route* taken) {
  auto found = impl_->entry(p);
  if (!found.ok()) return found.status();
  Entry& e = **found;
  if (taken) *taken = e.route;
  if (e.route.kind == RouteKind::refuse)
    return Status::Unsupported("guard refuses " + key(p) + ": " + e.route.reason);
  std::lock_guard lock(e.mu);
  if (!e.prepared) CG_RETURN_IF_ERROR(impl_->prepare(e, p));
  if (taken) taken->algo_class = e.prepared->algo_class();
  std::lock_guard engine_lock(e.route.kind == RouteKind::cpu ? impl_->cpu_mu : impl_->device_mu);
  auto r = e.prepared->execute(t, ExecOptions{});
  return r.ok() ? Status::Ok() : r.status();
}

Profile Guard::profile() const {
  std::lock_guard lock(impl_->plan_mu);
  return impl_->profile;
}

std::string Guard::device_name() const { return impl_->device_name; }

Guard::Stats Guard::stats() const {
  return {impl_->hits.load(), impl_->misses.load(), impl_->learned.load()};
}

}  // namespace convguard
