// What the store-backed commands (sweep, boundary, shrink) share.
#pragma once

#include <memory>

#include "cli.h"
#include "cli_isolation.h"
#include "convguard/sweep.h"

namespace convguard::cli {

/// The isolated prober for a StoreProber built with `opt`: gives `opt` a DispatchRelay and
/// wires the supervisor's dispatches to it (before the supervisor exists, since it copies
/// the callback), so the store can journal each probe's start.
Result<std::unique_ptr<Prober>> make_journaled_prober(const EngineArgs& engine,
                                                      IsolationArgs& iso, SweepOptions& opt);

}  // namespace convguard::cli
