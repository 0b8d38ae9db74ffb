// Sweeps over the store: results are reused, recorded as they come, and every probe's
// in-flight mark is on disk before the probe can start, so that a sweep killed by SIGKILL,
// Ctrl-C or a frozen host resumes where it stopped and names the probe that was running.
//
// Groups. Requests go to the inner prober in groups. Before a group is handed over, its
// marks are committed with an fsync (Store::mark_inflight); that one fsync per group is
// the whole cost of host-crash durability. It is made off the critical path: while group
// k runs, a second thread commits the marks of group k+1 (MarkState::journaled), and
// group k+1 is handed over only once that commit returned. The prober waits on an fsync
// only where a group takes less time than one.
//
// The journal. What only has to survive the death of the process, not of the host, goes
// to a small append-only file beside the store ("<db>.run<id>.journal", one write() per
// line, no fsync, no SQLite transaction): "group k handed over", "request i dispatched"
// (the inner prober's dispatch reports, Prober::reports_dispatch) and every result before its batch
// reaches SQLite. A dead process's writes are in the page cache, so a resume on the same boot reads
// all of them; after a host death (boot id changed) the journal is not read at all, because the
// fsynced marks are then the only evidence and the whole group is suspect anyway. Results
// reach SQLite in batches (SweepOptions::batch_max / batch_ms, NORMAL commits that never
// wait on the mark thread's fsync: a batch that would is put off, it is in the journal).
//
// Which marks a resume turns into suspects (the size bound below keeps them few):
//  - same boot: a mark with a journaled result is recorded with that result (it finished;
//    it is neither re-run nor suspect); a mark whose request the journal shows dispatched,
//    or whose group was handed to a prober that does not report starts, is suspect; the
//    rest (a group marked ahead and never handed over, requests never dispatched) simply
//    run again. Without a journal file every journaled mark is suspect.
//  - new boot: every mark is suspect. With marks made ahead that is at most two groups
//    (the one running and the one marked ahead), all from one stretch of the cheap-first
//    plan, and --retry-suspects re-runs them one at a time, each in a group of one with
//    its own fsynced mark and no mark ahead, so a second freeze leaves exactly one
//    suspect: the culprit.
// The size is bounded (SweepOptions::max_group): without a bound, a freeze early in a
// long sweep would make thousands of suspects and retrying them one at a time would cost
// an fsync and a supervisor round trip each.
// Stores written by an older convguard hold marks in the states group (suspect after a
// death), queued (not started) and running (suspect); they are read as before.
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
  /// of the group's time (the fsync overlaps the previous group; this keeps it shorter).
  double fsync_share = 0.02;
  size_t batch_max = 64;   ///< most results in one transaction
  /// A result (already in the journal) waits about this long for its batch's commit.
  double batch_ms = 50;
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

/// One of `count` shards of a sweep; `index` is 0-based (0 .. count-1), as Slurm arrays
/// from 0 and Kubernetes' JOB_COMPLETION_INDEX count.
struct Shard {
  int64_t index = 0;
  int64_t count = 1;
};

/// The expected cost of a request in seconds (expected_probe_s through the CLI).
using RequestCost = std::function<double(const ProbeRequest&)>;

/// Which shard each request belongs to (same order as `requests`): requests are taken by
/// falling cost (ties by problem key, then algorithm) and each goes to the shard with the
/// least cost so far (ties: the lowest index). The result depends on the set of requests
/// and their costs only, not on their order, so every task of an array computes the same
/// partition; no shard's total exceeds another's by more than the costliest request.
std::vector<int64_t> assign_shards(const std::vector<ProbeRequest>& requests, int64_t count,
                                   const RequestCost& cost);

/// The requests of shard `s` in their order in `requests`.
std::vector<ProbeRequest> shard_requests(const std::vector<ProbeRequest>& requests, Shard s,
                                         const RequestCost& cost);

/// The run `--resume` means: the latest sweep (a run with a plan) not marked done, or with
/// unsettled entries, or (retry_suspects) with suspects. Invalid when there is none.
Result<int64_t> latest_open_run(Store& store, bool retry_suspects);

/// A Prober that runs through the store: reuse, durable marks, batched records. It also
/// runs stored plans (sweeps), including the rest of a plan after the process died.
/// One StoreProber owns its run: it holds a lock on it (an OFD lock on "<db>.lock"),
/// so a second process resuming the same run is refused.
/// While run() or run_plan() is in progress a second thread of the StoreProber writes to
/// the Store (the marks of the next group): callbacks must not use the same Store object.
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

  /// Reports dispatches when the inner prober does.
  bool reports_dispatch() const override;
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
  /// run(): appends `requests` to the run's plan as they are (call plan_sweep() first to
  /// order them) and runs them as run_plan() does, reporting with request indices. Reused
  /// results are reported too. Returns kIo if the store fails, the inner prober's error
  /// otherwise.
  Status do_run(const std::vector<ProbeRequest>& requests, const ResultCallback& on_result,
                const DispatchCallback& on_dispatch) override;
  explicit StoreProber(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace convguard
