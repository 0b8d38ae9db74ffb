// The guard's words: a route (where one convolution runs, and why it is safe) and the
// options a guard plans with (guard.h runs routes; guard_plan.h chooses them).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "convguard/engine.h"
#include "convguard/prober.h"
#include "convguard/tiling.h"

namespace convguard {

enum class RouteKind { native, other_algo, tiles, split_batch, split_groups, cpu, refuse };
const char* to_string(RouteKind k);

struct Route {
  RouteKind kind = RouteKind::refuse;
  std::string engine;  ///< engine that runs it ("" for refuse)
  std::string algo;    ///< the proven algorithm (cpu: the CPU engine's default)
  /// The algorithm's class once prepared (run() reports it; plan() says exact until then).
  AlgoClass algo_class = AlgoClass::exact;
  TilePlan tiles;         ///< tiles only
  TileGeometry geometry;  ///< tiles only: the chosen tile shape
  SplitPlan split;        ///< split_batch / split_groups only
  std::string reason;     ///< why, naming the supporting probe ids
  bool learned = false;   ///< planning this problem added probes to the profile
  /// "tiles 32x32 on cudnn (native 64x64: hang, probe 17; tile problem ...: ok, probes 9-12)".
  std::string text() const;
};

struct GuardOptions {
  std::string device_engine = "cudnn";  ///< the engine whose probes the profile holds
  std::string cpu_engine = "onednn";    ///< "" : no CPU route (refuse instead)
  bool learn = false;                   ///< probe unknown problems through `prober` first
  bool force = false;                   ///< accept a profile of another fingerprint
  /// Full spec of the device engine (sim base, quirks); an empty name means {device_engine}.
  EngineSpec device_spec;
  EngineFactory make_engine;       ///< required
  std::shared_ptr<Prober> prober;  ///< required when learn; isolated in real use
  std::string save_path;           ///< where learning saves the profile ("": open's path)
  int64_t min_tile = 8;            ///< smallest useful output tile side (smaller maps: the map)
  int max_learn_probes = 4;        ///< tile problems probed per unknown problem at most
};

}  // namespace convguard
