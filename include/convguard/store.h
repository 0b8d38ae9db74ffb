// The durable store: runs, probe results, conclusions and the in-flight journal in one SQLite file.
//
// Durability model (WAL mode):
//  - Results, plans and run bookkeeping are committed with synchronous=NORMAL: a commit
//    reaches the OS before it returns, so it survives the death of the process (SIGKILL,
//    OOM, Ctrl-C) but may be lost if the host itself dies before the next checkpoint/sync.
//  - In-flight marks written by mark_inflight() are committed with synchronous=FULL: the
//    WAL is fsynced before the call returns, so a mark survives a frozen or rebooted host.
//    Because the WAL is a log replayed as a prefix, that fsync also makes every earlier
//    NORMAL commit durable (every result recorded before it).
//  - After a host crash the file holds a prefix of the commits, at least up to the last
//    FULL one; after a process crash it holds every commit. Either way it is consistent.
// Only one process writes a run at a time (the sweep takes a lock file per run); readers
// may run concurrently (WAL).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "convguard/outcome.h"
#include "convguard/prober.h"
#include "convguard/status.h"

namespace convguard {

/// Schema version this build writes (PRAGMA user_version). Older files are migrated
/// in place on open; newer files are refused and left untouched.
inline constexpr int kStoreSchemaVersion = 5;

enum class RunStatus { running, done, interrupted, failed };
const char* to_string(RunStatus s);
Result<RunStatus> parse_run_status(std::string_view s);

/// One invocation that wrote to the store (a sweep, a boundary search, ...).
struct RunInfo {
  int64_t id = 0;
  std::string command;           ///< the command line, for the record and for reports
  std::string engine;            ///< engine label ("sim", "onednn")
  std::string fingerprint_json;  ///< the prober's fingerprint as a JSON object
  std::string fingerprint_hash;  ///< fingerprint_hash(fingerprint)
  std::string boot_id;           ///< host boot id at start; tells a process death from a host death
  std::string options_json = "{}";  ///< what a resume needs to go on (the CLI's choice of keys)
  int64_t started_ms = 0;        ///< unix time in ms
  int64_t ended_ms = 0;          ///< 0 while running or after the process died
  RunStatus status = RunStatus::running;
};

/// A stored probe: the result plus where and when it was recorded.
struct StoredProbe {
  int64_t id = 0;
  int64_t run_id = 0;
  std::string fingerprint_hash;
  int64_t created_ms = 0;
  ProbeResult result;
};

/// One entry of a run's plan (the expanded request list of a sweep), in run order.
struct PlanEntry {
  int64_t index = 0;     ///< position in the plan, 0-based
  ProbeRequest request;  ///< problem (with its name) and algorithm
  int64_t probe_id = 0;  ///< the probe that settled it (recorded or reused); 0 while open
};

/// A durable in-flight mark: request `plan_index` of run `run_id` was handed to a prober
/// as part of group `group_id` and has no recorded result yet.
enum class MarkState {
  group,    ///< handed to a prober that does not report starts: it may be running
  queued,   ///< handed to a prober that reports starts, and not reported started
  running,  ///< the prober reported it dispatched to a worker (NORMAL commit)
  /// committed before its group was handed over (possibly while the previous group ran);
  /// the sweep's journal file says whether the group was handed over and what started
  journaled,
};
struct InflightMark {
  int64_t run_id = 0;
  int64_t group_id = 0;
  int64_t plan_index = 0;
  std::string request_key;  ///< "<problem key> <algo>", for messages (may repeat in a run)
  MarkState state = MarkState::group;
  std::optional<Phase> phase;  ///< last phase reported, if any
};

/// A result to record: which plan entry it settles (-1: none) and the result itself.
struct ResultRecord {
  int64_t plan_index = -1;
  ProbeResult result;
};

/// A concluding command's result, kept so that reports print what the command concluded
/// instead of deriving it again from probes. Today one boundary of `convguard boundary`.
struct StoredConclusion {
  int64_t id = 0;
  int64_t run_id = 0;
  std::string kind = "boundary";
  std::string problem;    ///< key of the searched line's base problem (its --over value set)
  std::string engine;     ///< the engine label of the run
  std::string algo;       ///< the algorithm searched
  std::string fingerprint_hash;
  std::string axis;       ///< the field searched ("ih")
  std::string tie;        ///< fields that followed the axis, comma-separated ("iw"), or ""
  std::string over;       ///< a frontier line's fixed values ("ic=16", comma-separated), or ""
  Outcome outcome = Outcome::ok;  ///< of the first failing probe (ok when none failed)
  bool confirmed = false;
  std::string summary_json;  ///< the summary object the command printed (boundary.h's to_json)
  int64_t created_ms = 0;
};

/// Filters for list_conclusions(); empty/unset fields do not filter.
struct ConclusionFilter {
  std::optional<int64_t> run_id;
  std::string engine;
  std::string kind;
};

/// Filters for list_probes(); empty/unset fields do not filter.
struct ProbeFilter {
  std::optional<int64_t> run_id;
  std::string engine;
  std::optional<Outcome> outcome;
  std::string fingerprint_hash;
};

/// A stable hash (hex, 16 chars) of a fingerprint map; the store's reuse key part.
std::string fingerprint_hash(const std::map<std::string, std::string>& fingerprint);
/// The fingerprint as a JSON object text, keys sorted.
std::string fingerprint_json(const std::map<std::string, std::string>& fingerprint);
/// The host's boot id (/proc/sys/kernel/random/boot_id), or "" where unknown.
std::string current_boot_id();

class Store {
 public:
  enum class Mode { read_write, read_only };

  /// Opens `path`, creating it (read_write) or migrating an older schema in place.
  /// Errors, with nothing written: a newer schema (kInvalid, naming both versions), a
  /// file that is not a convguard store or is damaged (kCorrupt), a file or directory
  /// that cannot be written in read_write mode or does not exist (kIo).
  static Result<std::unique_ptr<Store>> open(const std::string& path, Mode mode = Mode::read_write);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const;
  /// The file's schema version (after migration: kStoreSchemaVersion).
  int schema_version() const;

  // --- runs ---
  /// Inserts a run with status running and started_ms = now (unless set), with its plan
  /// in the same transaction, so that a run never exists without its plan; returns its id.
  Result<int64_t> begin_run(const RunInfo& info, const std::vector<ProbeRequest>& plan = {});
  /// Sets the end time and status of a run.
  Status end_run(int64_t run_id, RunStatus status);
  /// Marks a run as running again (resume), recording the current boot id.
  Status reopen_run(int64_t run_id, const std::string& boot_id);
  Result<RunInfo> get_run(int64_t run_id);
  /// Every run, oldest first.
  Result<std::vector<RunInfo>> list_runs();

  // --- plans (sweeps) ---
  /// Appends requests to the plan of a run (one transaction); returns the index of the
  /// first one (the plan's previous size).
  Result<int64_t> append_plan(int64_t run_id, const std::vector<ProbeRequest>& requests);
  /// The plan of a run in index order, with the probe that settled each entry.
  Result<std::vector<PlanEntry>> load_plan(int64_t run_id);
  /// Settles plan entries with already stored probes (reuse), one transaction.
  Status settle_plan(int64_t run_id, const std::vector<std::pair<int64_t, int64_t>>& index_probe);

  // --- results ---
  /// The latest stored result for (problem key, engine, algo, fingerprint hash), if any.
  Result<std::optional<StoredProbe>> lookup(const std::string& problem_key, const std::string& engine,
                                            const std::string& algo, const std::string& fp_hash);
  /// Records results of run `run_id` in one transaction (synchronous=NORMAL). Each record
  /// with a plan index settles that plan entry and removes its in-flight mark in the same
  /// transaction, so a mark without a result never coexists with its result.
  /// Returns the new probe ids in record order.
  Result<std::vector<int64_t>> record(int64_t run_id, const std::string& fp_hash,
                                      const std::vector<ResultRecord>& batch);
  Result<StoredProbe> get_probe(int64_t probe_id);
  /// The latest probe per (problem, engine, algo, fingerprint), filtered, ordered by problem
  /// key, engine, algo. With a run filter: the latest per key among that run's probes.
  Result<std::vector<StoredProbe>> list_probes(const ProbeFilter& filter = {});

  // --- conclusions ---
  /// Records conclusions of run `run_id` (each one's run_id and created_ms are set here) in
  /// one transaction; returns their ids in order.
  Result<std::vector<int64_t>> record_conclusions(int64_t run_id,
                                                  const std::vector<StoredConclusion>& cs);
  /// The newest conclusion per line (kind, problem, engine, algo, axis, tie, over), over
  /// every fingerprint, filtered, oldest first. With a run filter: the newest per line
  /// among that run's conclusions.
  Result<std::vector<StoredConclusion>> list_conclusions(const ConclusionFilter& filter = {});

  // --- in-flight journal ---
  /// Marks the requests of one group as queued, durably (synchronous=FULL, fsync) before
  /// returning; also records `pending` results in the same transaction (may be empty).
  Status mark_inflight(const std::vector<InflightMark>& marks,
                       const std::vector<ResultRecord>& pending = {}, int64_t run_id = 0,
                       const std::string& fp_hash = "");
  /// Sets one mark's state to running (and phase), synchronous=NORMAL, recording `pending`
  /// results in the same transaction.
  Status mark_running(int64_t run_id, int64_t plan_index, std::optional<Phase> phase = {},
                      const std::vector<ResultRecord>& pending = {},
                      const std::string& fp_hash = "");
  /// Marks left by run `run_id` (all runs if 0), by plan index.
  Result<std::vector<InflightMark>> inflight(int64_t run_id = 0);
  /// Removes marks of a run (those of `plan_indices`, or all when empty).
  Status clear_inflight(int64_t run_id, const std::vector<int64_t>& plan_indices = {});

  // --- maintenance ---
  /// PRAGMA integrity_check; kCorrupt with SQLite's report when it is not "ok".
  Status integrity_check();
  /// Forces a WAL checkpoint (TRUNCATE) so the main file holds everything.
  Status checkpoint();

  /// Pieces of the implementation (src/store.cc); public only so that helpers there can
  /// name them.
  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace convguard
