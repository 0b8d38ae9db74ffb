// `convguard run --guard PROFILE`: problems through the guard in this process, the route
// printed beside each result.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "cli/cli.h"

namespace convguard::cli {

/// The guard's options of `run` (--guard, --learn, --force-profile, --cpu-engine).
struct GuardRunArgs {
  std::string profile;  ///< --guard PROFILE; empty: run is not guarded
  bool learn = false;   ///< probe unknown problems in isolated workers first, save the result
  bool force = false;   ///< use a profile of another fingerprint
  std::string cpu_engine = "onednn";  ///< "" : refuse instead of the CPU route
  void add_to(CLI::App& app);
};

/// Runs every problem of `problems` (algorithms are the guard's choice, --algo is ignored)
/// through a Guard over `engine` (the device engine) and, with `verify`, judges each result
/// against the CPU reference. Prints a table, or JSON lines with the probe fields plus
/// "route" (the route's text) and "route_kind". Returns the exit code: 0 all ok, 1 some not
/// ok or refused, 2 invalid input, 3 the guard could not start (profile refused, no engine).
int run_guarded(const ProblemArgs& problems, const EngineArgs& engine, const GuardRunArgs& guard,
                bool json, bool verify);

}  // namespace convguard::cli
