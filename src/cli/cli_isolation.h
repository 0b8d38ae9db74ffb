// The isolated workers' options, shared by every command that probes through the
// supervisor (probe, sweep, boundary, shrink), and the prober they build.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json_fwd.hpp>

#include "cli/cli.h"
#include "convguard/store.h"
#include "convguard/supervisor.h"
#include "convguard/sweep.h"

namespace convguard::cli {

/// Options of the isolated workers (--jobs, --devices, --timeout-*, verification).
struct IsolationArgs {
  int jobs = 1;
  std::vector<std::string> devices;
  double timeout_init = 60, timeout_prepare = 300;
  std::string timeout_exec = "auto", timeout_verify = "auto";
  /// The least automatic execute deadline once the jitter is measured (PhaseTimeouts::
  /// execute_floor_min_s): what a hang of a millisecond convolution costs.
  double exec_floor = PhaseTimeouts{}.execute_floor_min_s;
  bool no_verify = false;
  int warmup = 0, repeats = 1;
  int verbose = 0;  ///< 1: log worker starts, verdicts and canaries on stderr; 2: every event
  /// Where miopen workers keep MIOpen's user databases and kernel cache: "private" (a fresh
  /// folder each, under the temporary directory or $CONVGUARD_MIOPEN_STATE), "user" (the
  /// user's own; some bugs live there) or a folder for the private ones.
  std::string miopen_state = "private";

  void add_to(CLI::App& app);
  /// The options as JSON (for a sweep to store with its run, so --resume needs none).
  nlohmann::json to_json() const;
  /// Inverse of to_json; Invalid naming the field.
  static Result<IsolationArgs> from_json(const nlohmann::json& j);
};

/// The supervisor's options for `engine` with `iso`'s workers and deadlines; with several
/// jobs and no OMP_NUM_THREADS set, CPU workers share the cores. Invalid names a bad option.
Result<SupervisorOptions> supervisor_options(const EngineArgs& engine, const IsolationArgs& iso);

/// What every store-backed command (sweep, boundary, shrink) takes: the store, the
/// problems, the engine and its isolated workers.
struct StoreCommandArgs {
  std::string db;
  ProblemArgs problems;
  EngineArgs engine;
  IsolationArgs iso;
  bool rerun = false;  ///< --rerun: probe again where the store holds a result

  void add_to(CLI::App& app);
  /// {"engine": {...}, "isolation": {...}}, kept with a run so that its resume needs no
  /// options; a command adds its own keys.
  nlohmann::json engine_json() const;
  /// Inverse of engine_json for the engine and the isolation options; Corrupt naming
  /// what is missing.
  Status restore_engine(const nlohmann::json& j);
};

/// The Supervisor over `engine` with `iso`'s workers and deadlines. Invalid names a bad
/// option.
Result<std::unique_ptr<Supervisor>> make_isolated_prober(const EngineArgs& engine,
                                                         const IsolationArgs& iso);

/// Starts `sup`'s execute cost model from the speeds the store holds for `run`'s engine on
/// the same device and libraries (earlier ok probes of runs whose fingerprints differ at
/// most in environment variables), so a command's first large probe does not get the
/// deadline of the conservative prior. Without such probes the prior stands.
void seed_speed_from_store(Supervisor& sup, Store& store, const StoreProber& run);

}  // namespace convguard::cli
