// The run-time guard: routes each convolution to a path a safety profile proves safe,
// cheapest first, and runs it in the calling process:
//   native        the problem as is, with an algorithm proven ok for it
//   other_algo    as native, but some other algorithm is known to fail for it
//   tiles         spatial tiling (tiling.h) into staging problems proven ok
//   split_batch   fewer images per call, every chunk's problem proven ok
//   split_groups  fewer groups per call, every chunk's problem proven ok
//   cpu           the CPU engine (trusted: it is the reference side of every probe)
//   refuse        nothing safe is known and no CPU engine is configured
// Unknown is never safe. With learning on, a problem the profile does not know is probed
// once through the supplied Prober (an isolated Supervisor in the CLI, never this process)
// before its first real run, and the result joins the profile (saved when a path is set).
// When it fails, learning probes tiles of halving size, then batch chunks and group chunks of
// halving size, until one is proven or GuardOptions::max_learn_probes are spent (then the CPU).
// Decisions are cached per problem: after the first call, plan() and run() cost a lookup.
// Thread-safe: any thread may plan and run; executions on one engine are serialised.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "convguard/engine.h"
#include "convguard/profile.h"
#include "convguard/route.h"
#include "convguard/status.h"

namespace convguard {

class Guard {
 public:
  /// Loads the profile at `path`, builds and initialises the device engine, and refuses a
  /// profile whose fingerprint differs from the engine's (naming the keys) unless forced.
  static Result<Guard> open(const std::string& path, GuardOptions opt);
  /// As open, from a profile in memory (learning saves only if opt.save_path is set).
  static Result<Guard> open(Profile profile, GuardOptions opt);
  Guard(Guard&&) noexcept;
  Guard& operator=(Guard&&) noexcept;
  ~Guard();

  /// The route for p (cached after the first call). Invalid for a problem that fails
  /// validate(); a non-ok Status from learning only when the prober cannot go on.
  Result<Route> plan(const Problem& p);
  /// Plans (if needed), prepares (once per problem) and executes p's route on `t`, sized by
  /// resize_for(p). A refused problem returns Unsupported with the reason. `taken`, when
  /// given, receives the route.
  Status run(const Problem& p, ConvTensors& t, Route* taken = nullptr);

  /// A copy of the profile as it is now (learning may have grown it).
  Profile profile() const;
  /// The device engine's name as used in the profile ("cudnn", "sim").
  std::string device_name() const;
  struct Stats {
    int64_t hits = 0, misses = 0, learned_probes = 0;
  };
  Stats stats() const;

  struct Impl;

 private:
  explicit Guard(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace convguard
