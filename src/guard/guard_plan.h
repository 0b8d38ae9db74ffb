// The guard's route search (guard.cc caches and runs what this decides).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "convguard/profile.h"
#include "convguard/route.h"

namespace convguard {

/// Probes one (problem, algo) in isolation and returns the result; a non-ok Status only
/// when the prober cannot go on.
using LearnFn = std::function<Result<ProbeResult>(const Problem&, const std::string& algo)>;

class Planner {
 public:
  /// `learn` may be empty (no learning). `profile` grows with what learning finds.
  Planner(Profile& profile, const GuardOptions& opt, std::string device, LearnFn learn)
      : profile_(profile), opt_(opt), dev_(std::move(device)), learn_(std::move(learn)) {}

  /// The cheapest proven-safe route for a valid problem p (see guard.h for the order);
  /// `learned` when planning it probed anything.
  Result<Route> plan(const Problem& p);
  /// Probes added to the profile so far.
  int64_t learned() const { return learned_; }

 private:
  Result<Route> choose(const Problem& p);
  Status learn(const Problem& p);
  Status learn_native(const Problem& p);
  /// Learning's next steps when p itself fails: tiles of halving size, then batch chunks and
  /// group chunks of halving size, each proven by probing its problems; `*probes` counts
  /// against max_learn_probes, shared by all three.
  Result<std::optional<Route>> tiles_learning(const Problem& p, const std::string& why,
                                              int* probes);
  Result<std::optional<Route>> split_learning(const Problem& p, const std::string& why, bool groups,
                                              int* probes);
  /// Probes the problems of `qs` that the profile knows nothing of, within the budget.
  Status learn_unknown(const std::vector<Problem>& qs, int* probes);
  std::optional<Route> native_route(const Problem& p);
  std::optional<Route> tile_route(const Problem& p, const std::string& why);
  std::optional<Route> tile_route_for(const Problem& p, const std::string& algo,
                                      const std::string& why);
  std::optional<Route> split_route(const Problem& p, const std::string& why, bool groups);
  /// Whether every problem is proven ok with algo; appends their probe ids.
  bool all_ok(const std::vector<Problem>& ps, const std::string& algo, std::vector<int64_t>* ids);
  /// "native 64x64: hang, probe 17" or "native 64x64: unknown to the profile".
  std::string native_text(const Problem& p);

  Profile& profile_;
  const GuardOptions& opt_;
  std::string dev_;
  LearnFn learn_;
  int64_t learned_ = 0;
};

/// The tile plans worth trying for p, fewest tiles first, then squarest; tiles smaller
/// than min_tile (or the map, if smaller) are left out.
std::vector<TilePlan> tile_candidates(const Problem& p, int64_t min_tile);

}  // namespace convguard
