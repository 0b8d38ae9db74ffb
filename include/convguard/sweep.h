// Sweeps over the store: results are reused, recorded as they come, and every probe's
// in-flight mark is on disk before the probe can start, so that a sweep killed by SIGKILL,
// Ctrl-C or a frozen host resumes where it stopped and names the probe that was running.
//
// Groups. Requests go to the inner prober in groups. Before a group is handed over, its
// marks are committed with an fsync (Store::mark_inflight); that one fsync per group is
// the whole cost of host-crash durability, so the group size is what buys throughput.
// The size is bounded (SweepOptions::max_group), which is what keeps suspects meaningful:
//  - a dead process or host leaves marks for at most one group, so resume turns at most
//    max_group probes into suspects, all from one stretch of the cheap-first plan;
//  - when the prober reports starts (a DispatchRelay) and the host is still the same
//    (same boot id), the page cache kept every NORMAL commit, so only the probes that had
//    started without a recorded result become suspects; the others simply run again;
//  - after a host death (boot id changed) the whole group is suspect, and
//    --retry-suspects re-runs them one at a time, each in a group of one with its own
//    fsynced mark, so a second freeze leaves exactly one suspect: the culprit.
// Without a bound, a freeze early in a long sweep would make thousands of suspects and
// retrying them one at a time would cost an fsync and a supervisor round trip each.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "convguard/prober.h"
#include "convguard/store.h"

namespace convguard {

/// Lets a prober that is built before its StoreProber (the Supervisor takes its
/// on_dispatch in its options) report dispatches to it: pass callback() to the prober,
/// and the relay to the StoreProber through SweepOptions.
class DispatchRelay {
 public:
  DispatchRelay() : target_(std::make_shared<DispatchCallback>()) {}
  /// Forwards to the current target; does nothing while none is set.
  DispatchCallback callback() const {
    auto t = target_;
    return [t](size_t i) {
      if (*t) (*t)(i);
    };
  }
  void set_target(DispatchCallback cb) { *target_ = std::move(cb); }

 private:
  std::shared_ptr<DispatchCallback> target_;
};

/// Where a sweep stands, for progress displays.
struct SweepProgress {
  size_t total = 0;       ///< plan entries of this run (or requests of this run() call)
  size_t done = 0;        ///< settled: recorded, reused or suspect
  size_t reused = 0;      ///< settled from earlier results
  size_t suspects = 0;    ///< suspects found on resume
  std::map<Outcome, size_t> counts;  ///< outcome of every settled entry
  double rate = 0;        ///< probes run per second in this process
  double eta_s = -1;      ///< seconds left at that rate; -1 unknown
};

struct SweepOptions {
  bool rerun = false;           ///< run even where a result for the fingerprint is stored
  bool retry_suspects = false;  ///< re-run suspects (stored or found), one per group
  size_t group_size = 0;        ///< fixed group size; 0: adaptive within [min_group, max_group]
  size_t min_group = 4;
  size_t max_group = 128;
  /// Adaptive size: the group is grown until the mark's fsync costs at most this share
  /// of the group's time.
  double fsync_share = 0.02;
  size_t batch_max = 64;   ///< most results in one transaction
  double batch_ms = 50;    ///< longest a result waits in memory (no dispatch reports)
  /// Set when the inner prober reports dispatches through it (queued/running marks).
  std::shared_ptr<DispatchRelay> relay;
  /// Identity of this boot; empty: current_boot_id(). Tests set it to act out a reboot.
  std::string boot_id;
  /// Polled between groups: when true the sweep stops after the group in flight.
  const std::atomic<bool>* stop = nullptr;
  /// Called after each settled entry and once at the start (throttle display yourself).
  std::function<void(const SweepProgress&)> on_progress;
};

/// Orders requests cheapest first (by FLOPs, stable) and drops repeated
/// (problem key, algorithm) pairs.
std::vector<ProbeRequest> plan_sweep(std::vector<ProbeRequest> requests);

/// The run `--resume` means: the latest sweep (a run with a plan) not marked done, or with
/// unsettled entries, or (retry_suspects) with suspects. Invalid when there is none.
Result<int64_t> latest_open_run(Store& store, bool retry_suspects);

/// A Prober that runs through the store: reuse, durable marks, batched records. It also
/// runs stored plans (sweeps), including the rest of a plan after the process died.
/// One StoreProber owns its run: it holds a lock on it (an OFD lock on "<db>.lock"),
/// so a second process resuming the same run is refused.
class StoreProber : public Prober {
 public:
  /// Begins a new run for `inner` (asks its fingerprint) with `plan` (a sweep's ordered
  /// requests, stored with the run in one transaction; may be empty). `options_json` is
  /// kept with the run for resume. `store` and `inner` must outlive the StoreProber.
  static Result<std::unique_ptr<StoreProber>> create(Store& store, Prober& inner,
                                                     const std::string& command,
                                                     const std::string& options_json,
                                                     SweepOptions opt,
                                                     const std::vector<ProbeRequest>& plan = {});
  /// Takes over run `run_id` (0: the latest sweep not done, or with unsettled plan entries,
  /// or with suspects when opt.retry_suspects), whose
  /// process died or stopped: refuses a run locked by a live process or a prober whose
  /// engine or fingerprint differs; turns the run's in-flight marks into `suspect`
  /// results (see the file comment for which ones).
  static Result<std::unique_ptr<StoreProber>> resume(Store& store, Prober& inner, int64_t run_id,
                                                     SweepOptions opt);
  ~StoreProber() override;

  /// Appends `requests` to the run's plan as they are (call plan_sweep() first to order
  /// them) and runs them as run_plan() does, reporting with request indices. Reused results
  /// are reported too. Returns kIo if the store fails, the inner prober's error otherwise.
  Status run(const std::vector<ProbeRequest>& requests, const ResultCallback& on_result) override;
  Result<std::vector<std::string>> algorithms(const Problem& p) override;
  Result<std::map<std::string, std::string>> fingerprint() override;
  std::string engine_name() const override;

  /// Adds requests to the plan without running them (a new sweep's expanded grid).
  Status add_plan(const std::vector<ProbeRequest>& requests);
  /// Runs every unsettled plan entry (and, with retry_suspects, every suspect one), in
  /// plan order; `on_result` gets plan indices. Stops early, with Ok, when `stop` is set.
  Status run_plan(const ResultCallback& on_result);
  /// Ends the run with `status` (the destructor ends it as interrupted if not called).
  Status finish(RunStatus status);

  int64_t run_id() const;
  const std::string& fingerprint_hash() const;
  /// Progress of the last run()/run_plan() (counts over the whole plan for run_plan).
  const SweepProgress& progress() const;
  /// True if the last run_plan() stopped because `stop` was set.
  bool stopped() const;

  struct Impl;

 private:
  explicit StoreProber(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace convguard
