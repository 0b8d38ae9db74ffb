#include "guard/guard_plan.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace convguard {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

std::string size_text(int64_t h, int64_t w) { return std::to_string(h) + "x" + std::to_string(w); }

std::string ids_text(const std::vector<int64_t>& ids) {
  std::set<int64_t> distinct(ids.begin(), ids.end());
  return (distinct.size() == 1 ? "probe " : "probes ") + id_ranges(ids);
}

std::string finding_text(const Finding& f) {
  const std::string v = f.verdict == Verdict::fail ? to_string(f.outcome) : to_string(f.verdict);
  return v + ", " + ids_text(f.probes);
}

// Tiles of at most th x tw: the cheapest candidates look at most this many tiles per axis.
constexpr int64_t kMaxTilesPerAxis = 64;

}  // namespace

std::vector<TilePlan> tile_candidates(const Problem& p, int64_t min_tile) {
  std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>> cs;  // tiles, skew, th, tw
  std::set<std::pair<int64_t, int64_t>> seen;
  const Extent e = tiled_extent(p);
  const int64_t mh = std::min(min_tile, e.h), mw = std::min(min_tile, e.w);
  for (int64_t nh = 1; nh <= std::min(e.h, kMaxTilesPerAxis); ++nh)
    for (int64_t nw = 1; nw <= std::min(e.w, kMaxTilesPerAxis); ++nw) {
      auto g = tile_geometry(p, {ceil_div(e.h, nh), ceil_div(e.w, nw), 0});
      if (!g.ok() || g->th < mh || g->tw < mw || !seen.insert({g->th, g->tw}).second) continue;
      cs.emplace_back(g->tiles(), std::abs(g->th - g->tw), g->th, g->tw);
    }
  std::sort(cs.begin(), cs.end());
  std::vector<TilePlan> out;
  for (const auto& [tiles, skew, th, tw] : cs) out.push_back({th, tw, 0});
  return out;
}

Result<Route> Planner::plan(const Problem& p) {
  const int64_t before = learned_;
  auto r = choose(p);
  if (r.ok() && learned_ > before) r->learned = true;
  return r;
}

Result<Route> Planner::choose(const Problem& p) {
  if (learn_) CG_RETURN_IF_ERROR(learn_native(p));
  if (auto r = native_route(p)) return *r;
  const std::string why = native_text(p);
  if (auto r = tile_route(p, why)) {
    // Tiles the profile proves only in chunks (another problem's staging): while learning,
    // the same tiles in one library call are probed first, since every chunk is a call.
    if (learn_ && r->tiles.max_images > 0) {
      int probes = 0;
      CG_RETURN_IF_ERROR(learn_unknown(tile_problems(p, {r->tiles.th, r->tiles.tw, 0}), &probes));
      if (auto whole = tile_route(p, why)) return *whole;
    }
    return *r;
  }
  if (auto r = split_route(p, why, false)) return *r;
  if (p.g > 1)
    if (auto r = split_route(p, why, true)) return *r;
  if (learn_) {
    int probes = 0;
    auto r = tiles_learning(p, why, &probes);
    if (r.ok() && !*r && p.mb > 1) r = split_learning(p, why, false, &probes);
    if (r.ok() && !*r && p.g > 1) r = split_learning(p, why, true, &probes);
    if (!r.ok()) return r.status();
    if (*r) return **r;
  }
  Route r;
  r.reason = why + "; no tiling or split of it is proven ok";
  // What learning would probe first (the halves), so a user can prove it by hand.
  const Extent e = tiled_extent(p);
  const TilePlan half{std::max(ceil_div(e.h, 2), std::min(opt_.min_tile, e.h)),
                      std::max(ceil_div(e.w, 2), std::min(opt_.min_tile, e.w)), 0};
  if (const auto qs = tile_problems(p, half); !qs.empty() && !learn_)
    r.reason += "; probing " + key(qs.front()) + " may allow tiles";
  if (opt_.cpu_engine.empty()) return r;
  r.kind = RouteKind::cpu;
  r.engine = opt_.cpu_engine;
  r.algo = kDefaultAlgo;
  return r;
}

Status Planner::learn(const Problem& p) {
  auto r = learn_(p, kDefaultAlgo);
  if (!r.ok()) return r.status();
  profile_.add(std::move(r.value()));
  ++learned_;
  return Status::Ok();
}

Status Planner::learn_native(const Problem& p) {
  for (const Finding& f : profile_.find_all(p, dev_))
    if (f.verdict != Verdict::unknown) return Status::Ok();
  return learn(p);
}

std::optional<Route> Planner::native_route(const Problem& p) {
  const std::vector<Finding> fs = profile_.find_all(p, dev_);
  const bool any_fail =
      std::any_of(fs.begin(), fs.end(), [](const Finding& f) { return f.verdict == Verdict::fail; });
  for (const Finding& f : fs) {
    if (f.verdict != Verdict::ok) continue;
    Route r;
    r.kind = any_fail ? RouteKind::other_algo : RouteKind::native;
    r.engine = dev_, r.algo = f.algo;
    r.reason = "proven ok: " + ids_text(f.probes);
    if (any_fail) r.reason += "; " + native_text(p);
    return r;
  }
  return std::nullopt;
}

std::string Planner::native_text(const Problem& p) {
  std::string out;
  int shown = 0;
  for (const Finding& f : profile_.find_all(p, dev_)) {
    if (f.verdict == Verdict::ok || f.verdict == Verdict::unknown || shown == 3) continue;
    out += (shown++ ? "; algo " + f.algo + ": " : "") + finding_text(f);
  }
  const std::string head = "native " + size_text(p.ih, p.iw) + ": ";
  return head + (out.empty() ? "unknown to the profile" : out);
}

bool Planner::all_ok(const std::vector<Problem>& ps, const std::string& algo,
                     std::vector<int64_t>* ids) {
  if (ps.empty()) return false;
  for (const Problem& q : ps) {
    const Finding f = profile_.find(q, dev_, algo);
    if (f.verdict != Verdict::ok) return false;
    ids->insert(ids->end(), f.probes.begin(), f.probes.end());
  }
  return true;
}

std::optional<Route> Planner::tile_route(const Problem& p, const std::string& why) {
  for (const std::string& algo : profile_.algorithms(p, dev_))
    if (auto r = tile_route_for(p, algo, why)) return r;
  return std::nullopt;
}

std::optional<Route> Planner::tile_route_for(const Problem& p, const std::string& algo,
                                             const std::string& why) {
  for (const TilePlan& plan : tile_candidates(p, opt_.min_tile)) {
    std::vector<TilePlan> plans{plan};
    const Problem staging = tile_problems(p, plan).front();
    for (int64_t v : profile_.ok_values(staging, dev_, algo, "mb"))
      if (v < staging.mb) plans.push_back({plan.th, plan.tw, v});
    for (const TilePlan& tp : plans) {
      std::vector<int64_t> ids;
      const std::vector<Problem> ps = tile_problems(p, tp);
      if (!all_ok(ps, algo, &ids)) continue;
      Route r;
      r.kind = RouteKind::tiles;
      r.engine = dev_, r.algo = algo, r.tiles = tp;
      r.geometry = *tile_geometry(p, tp);
      r.reason = why + "; tile problem " + size_text(ps[0].ih, ps[0].iw) + " mb" +
                 std::to_string(ps[0].mb) + ": ok, " + ids_text(ids);
      return r;
    }
  }
  return std::nullopt;
}

std::optional<Route> Planner::split_route(const Problem& p, const std::string& why, bool groups) {
  const int64_t whole = groups ? p.g : p.mb;
  for (const std::string& algo : profile_.algorithms(p, dev_))
    for (int64_t v : profile_.ok_values(p, dev_, algo, groups ? "g" : "mb")) {
      if (v >= whole) continue;
      const SplitPlan sp = groups ? SplitPlan{0, v} : SplitPlan{v, 0};
      std::vector<int64_t> ids;
      if (!all_ok(split_problems(p, sp), algo, &ids)) continue;
      Route r;
      r.kind = groups ? RouteKind::split_groups : RouteKind::split_batch;
      r.engine = dev_, r.algo = algo, r.split = sp;
      r.reason = why + "; " + (groups ? "g" : "mb") + " <= " + std::to_string(v) + ": ok, " +
                 ids_text(ids);
      return r;
    }
  return std::nullopt;
}

Status Planner::learn_unknown(const std::vector<Problem>& qs, int* probes) {
  for (const Problem& q : qs) {
    bool known = false;
    for (const Finding& f : profile_.find_all(q, dev_)) known |= f.verdict != Verdict::unknown;
    if (known || *probes >= opt_.max_learn_probes) continue;
    CG_RETURN_IF_ERROR(learn(q));
    ++*probes;
  }
  return Status::Ok();
}

Result<std::optional<Route>> Planner::tiles_learning(const Problem& p, const std::string& why,
                                                     int* probes) {
  const Extent e = tiled_extent(p);
  const int64_t mh = std::min(opt_.min_tile, e.h), mw = std::min(opt_.min_tile, e.w);
  TilePlan last{0, 0, 0};
  for (int64_t k = 2; *probes < opt_.max_learn_probes; k *= 2) {
    const TilePlan plan{std::max(ceil_div(e.h, k), mh), std::max(ceil_div(e.w, k), mw), 0};
    if (plan == last) break;  // both axes are at the smallest useful tile
    last = plan;
    CG_RETURN_IF_ERROR(learn_unknown(tile_problems(p, plan), probes));
    if (auto r = tile_route(p, why)) return r;
  }
  return std::optional<Route>();
}

Result<std::optional<Route>> Planner::split_learning(const Problem& p, const std::string& why,
                                                     bool groups, int* probes) {
  const int64_t whole = groups ? p.g : p.mb;
  for (int64_t k = 2; *probes < opt_.max_learn_probes; k *= 2) {
    const int64_t chunk = ceil_div(whole, k);
    const SplitPlan sp = groups ? SplitPlan{0, chunk} : SplitPlan{chunk, 0};
    CG_RETURN_IF_ERROR(learn_unknown(split_problems(p, sp), probes));
    if (auto r = split_route(p, why, groups)) return r;
    if (chunk == 1) break;
  }
  return std::optional<Route>();
}

}  // namespace convguard
