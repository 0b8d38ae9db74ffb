// The command line: a table of subcommands (see main.cc) and the options they share.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "convguard/engine.h"
#include "convguard/outcome.h"
#include "convguard/prober.h"
#include "convguard/problem.h"

namespace convguard::cli {

/// Exit codes (docs/DESIGN.md).
inline constexpr int kExitOk = 0, kExitNotOk = 1, kExitUsage = 2, kExitHarness = 3;

/// One subcommand: `setup` adds its options to `sub` and returns the action to run
/// after parsing; the action returns the process exit code.
struct Command {
  const char* name;
  const char* summary;
  std::function<std::function<int()>(CLI::App& sub)> setup;
};

/// Where problems come from and which knobs apply (shared by run, probe, sweep...).
struct ProblemArgs {
  std::vector<std::string> descriptors;  ///< positional benchdnn descriptors
  std::vector<std::string> batches;      ///< --batch FILE
  std::vector<std::string> driver_cmds;  ///< --driver-cmd 'conv -n ...'
  std::vector<std::string> grids;        ///< --grid 'ic=16,32 ih=8:64:8 ...' (grid.h)
  std::vector<std::string> dirs{"FWD_B"}, dts{"f32"}, layouts{"nchw"};
  int64_t mb = 0;
  std::vector<std::string> algos{kDefaultAlgo};  ///< names, or "all"
  void add_to(CLI::App& app);
  /// Every problem named (descriptors, batches, driver commands, grids), each for every
  /// --dir/--dt/--layout, with --mb applied, in that order. Invalid names the bad input.
  Result<std::vector<Problem>> problems() const;
  /// problems() x algorithms; "all" is expanded through `prober`.
  Result<std::vector<ProbeRequest>> requests(Prober& prober) const;
};

/// Which engine, and how to build it (--engine, --base, --quirks, --seed).
struct EngineArgs {
  EngineSpec spec{"onednn", "", "", 0};
  void add_to(CLI::App& app);
  Status check() const;
};

/// Prints results as they come: an aligned table (with a header) or JSON lines.
class ResultPrinter {
 public:
  ResultPrinter(bool json, bool show_worker);
  void print(const ProbeResult& r);
  /// A summary line of counts per outcome (table mode only).
  void finish();
  const std::vector<Outcome>& outcomes() const { return outcomes_; }

 private:
  bool json_, show_worker_, header_done_ = false;
  std::vector<Outcome> outcomes_;
};

/// A Prober that prints every result as it arrives (so a long search shows its
/// evidence), then passes it on; everything else goes to `inner`.
class PrintingProber : public Prober {
 public:
  PrintingProber(Prober& inner, ResultPrinter& printer) : inner_(inner), printer_(printer) {}
  bool reports_dispatch() const override { return inner_.reports_dispatch(); }
  Result<std::vector<std::string>> algorithms(const Problem& p) override;
  Result<std::map<std::string, std::string>> fingerprint() override;
  std::string engine_name() const override;

 private:
  Status do_run(const std::vector<ProbeRequest>& requests, const ResultCallback& on_result,
                const DispatchCallback& on_dispatch) override;
  Prober& inner_;
  ResultPrinter& printer_;
};

/// Prints `s` as "convguard: <message>" on stderr and returns the exit code for it
/// (2 for invalid input, 3 otherwise).
int report_error(const Status& s);

/// This executable's path (/proc/self/exe): workers and helpers start from beside it.
Result<std::string> self_path();

// The table (main.cc). Each lives in cli_<name>.cc.
Command run_command();
Command probe_command();
Command worker_command();  ///< hidden: the isolated worker's entry point
Command sweep_command();   ///< cli_sweep.cc (library convguard_cli_sweep)
Command merge_command();   ///< cli_merge.cc
Command slurm_command();   ///< cli_slurm.cc
Command boundary_command();  ///< cli_boundary.cc (library convguard_cli_search)
Command shrink_command();    ///< cli_shrink.cc (library convguard_cli_search)
Command repro_command();     ///< cli_repro.cc (library convguard_cli_search)
Command report_command();    ///< cli_report.cc (library convguard_cli_search)
Command profile_command();   ///< cli_profile.cc (library convguard_cli_guard)
Command env_command();       ///< cli_env.cc (library convguard_cli_env)
Command scan_command();      ///< cli_scan.cc: runs python/convguard/scan.py

}  // namespace convguard::cli
