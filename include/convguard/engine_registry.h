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

}  // namespace convguard
