// The one place that knows every engine this build has.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "convguard/engine.h"
#include "convguard/status.h"

namespace convguard {

/// Builds any engine by spec: ref, onednn, cudnn (when built), sim over any of them.
/// Invalid naming --engine or --base when this build has no such engine.
Result<std::unique_ptr<Engine>> make_engine(const EngineSpec& spec);
/// Engine names this build offers.
std::vector<std::string> engine_names();

/// The command that serves isolated workers for `spec`, given `self`, the path of the
/// running convguard: `self worker`, except for engines whose libraries are slow to load
/// (torch: about 0.5 s a process), which have a worker program of their own beside it, so
/// that neither the supervisor nor the workers of other engines load them.
std::vector<std::string> worker_argv_for(const EngineSpec& spec, const std::string& self);

}  // namespace convguard
