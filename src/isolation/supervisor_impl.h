// Internals of the Supervisor (include/convguard/supervisor.h), shared by
// supervisor.cc (dispatch, the poll loop, messages) and recovery.cc (verdicts on hangs
// and deaths, the canary, wedged).
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "convguard/supervisor.h"
#include "isolation/worker_pool.h"

namespace convguard {

using Clock = std::chrono::steady_clock;

/// The worker command for slot `slot`, with its device from opt.devices.
SpawnOptions worker_spawn_options(const SupervisorOptions& opt, int slot);

/// What a worker slot is doing.
struct Job {
  bool canary = false;
  bool calibration = false;  ///< a rung of the calibration ladder (canary mode, not verified)
  size_t index = 0;  ///< request index (not for canaries)
  int attempt = 1;
  uint64_t id = 0;   ///< protocol request id
  Problem problem;
  std::string algo;
  double flops = 0;
  int calls = 1;  ///< executions in its execute phase (warmup + repeats)
  Phase phase = Phase::init;
  Clock::time_point dispatched, phase_start, deadline, exec_start;
  double exec_s = -1;  ///< the execute phase's seconds once it ended (before verify)
  /// The worker's threads' CPU times when the execute phase began and when its deadline
  /// last moved, and how far it has moved for time the worker waited for a CPU.
  std::map<int, SchedTimes> sched_start, sched_last;
  double waited_s = 0;
  double own_s = 0;  ///< the phase's deadline before any move
  /// A probe of this run rather than the supervisor's own (canary, calibration).
  bool real() const { return !canary && !calibration; }
};

struct Slot {
  int index = 0;
  std::unique_ptr<WorkerProc> worker;
  std::optional<Job> job;     ///< the request the worker is on
  /// Sent behind `job` so the worker never waits for a round trip; they have no deadline
  /// until they become `job`, and go back to the queue if the worker is lost first.
  std::deque<Job> queued;
  /// Recent seconds per probe while busy (moving average over at least 10 ms of busy
  /// time each, so results read in batches still average right); 0 until measured.
  /// Sizes the queue ahead.
  double probe_s = 0;
  Clock::time_point busy_since;  ///< start of the current job, or of the last result
  double pace_busy_s = 0;        ///< busy seconds not yet in probe_s
  int pace_done = 0;             ///< results not yet in probe_s
};

/// A probe that failed beside a recovery; judged once the canary says the device is fine.
struct Deferred {
  size_t index;
  int attempt;
  ProbeResult result;
};

struct Supervisor::Impl {
  explicit Impl(SupervisorOptions o);

  SupervisorOptions opt;
  ExecCostModel model;
  std::vector<Slot> slots;
  uint64_t next_id = 1;
  bool ever_ready = false;  ///< some worker has started the engine
  /// The slowest healthy worker start and canary prepare seen (negative: none yet); they
  /// bound the deadlines of canaries after the first failed one.
  double slowest_start_s = -1, slowest_canary_prepare_s = -1;
  std::vector<std::unique_ptr<WorkerProc>> graveyard;  ///< killed, not yet reaped
  std::deque<std::unique_ptr<WorkerProc>> spares;      ///< started, never given work

  // Calibration runs once, before the first probe (calibration.cc).
  bool calibrated = false;
  bool speed_seeded = false;  ///< seed_speed gave a speed: calibration keeps it
  size_t calibration_rung = 0;
  double calibrated_gflops = 0;

  // Recovery persists across run() calls: a hang at the end of one run is checked by
  // the canary before the next run's first probe.
  bool recovering = false;
  /// After a failure's canary passed: one probe at a time until one ends without failing.
  /// Failures come in runs (a sweep's neighbours, a boundary's far side); two in flight at
  /// once cost a re-run (the second is held for the canary) and a cold worker, while one
  /// alone is replaced by the warm spare.
  bool solo = false;
  int canary_failures = 0;
  int canary_slot = 0;
  Clock::time_point recovery_start, next_canary_at;
  std::string trigger, last_canary_failure;

  // The current run.
  const std::vector<ProbeRequest>* requests = nullptr;
  const ResultCallback* on_result = nullptr;
  const DispatchCallback* on_dispatch = nullptr;
  std::deque<std::pair<size_t, int>> pending;  ///< (index, attempt), in request order
  std::vector<Deferred> deferred;
  Status stop;  ///< non-ok ends the run

  // supervisor.cc
  Status run(const std::vector<ProbeRequest>& reqs, const ResultCallback& cb,
             const DispatchCallback& on_dispatch);
  Status start_all();
  /// Some request of this run has no verdict yet: pending, running, queued on a
  /// worker, or held beside a recovery.
  bool work_left() const;
  /// The canary during a recovery, else calibration until done, else probes; then spares.
  void dispatch();
  void dispatch_probes();
  bool ensure_worker(Slot& s);
  /// Reads what an idle worker sent (ready, phase); false if it died or said more.
  bool idle_healthy(WorkerProc& w);
  bool send_job(Slot& s, Job job, const Message& m);
  void start_probe(Slot& s, size_t index, int attempt);
  void queue_probe(Slot& s, size_t index, int attempt);
  Job make_job(size_t index, int attempt, Message* m);
  /// After a job ends: the first queued request (if any) becomes the worker's job.
  void promote_queued(Slot& s);
  /// How many requests s should have queued ahead (see queue_ahead_s).
  size_t queue_target(const Slot& s) const;
  /// A result came from s at `now`: updates its pace (probe_s).
  void observe_pace(Slot& s, Clock::time_point now);
  void requeue(size_t index, int attempt);
  void wait_and_handle();
  /// Whether every busy worker has requests queued, so the loop may pause to batch
  /// wake-ups without starving anyone.
  bool all_fed() const;
  void handle_readable(Slot& s);
  void on_message(Slot& s, const Message& m);
  void on_phase(Slot& s, const Message& m);
  void on_result_msg(Slot& s, const Message& m);
  void check_deadlines();
  /// At s's deadline in execute: whether its worker was kept from a CPU, having run less
  /// than a quarter of the deadline while it waited; if so the deadline moves by the wait
  /// (in all at most 5 times its own).
  bool moved_for_waits(Slot& s, Clock::time_point now);
  void set_phase(Job& job, Phase ph, Clock::time_point now);
  /// A ready message from `w`: the engine starts in workers. `timely`: read as it came
  /// (a polled worker), so its start time is measured; a spare's is read only when taken.
  void mark_ready(WorkerProc& w, bool timely);
  Result<Message> ask(Message req, MsgType want);
  void emit(SupervisorEvent::Kind k, const Slot* s, const Job* job, std::string msg = {},
            Outcome o = Outcome::ok) const;
  void reap_graveyard();
  void drop_worker(Slot& s);
  /// The execute phase of s's job ended at `now` (a verify phase or a result); with the
  /// result's engine time, its overhead feeds the jitter floor.
  void end_execute(Job& job, Clock::time_point now);
  void observe_execute(const Job& job, const ProbeResult& r);
  /// A job the supervisor runs for itself in canary mode (canary, calibration rung).
  Job own_job(const Problem& p, bool verify, Message* m);

  // spares.cc
  /// Starts spares until opt.spares are standing by.
  void top_up_spares();
  /// A live spare as slot s's worker (true), or nothing to take (false).
  bool take_spare(Slot& s);
  void stop_spares(std::chrono::milliseconds wait);

  // shutdown (supervisor.cc)
  /// Stops the idle, ready slot workers and kills the others, without waiting.
  void end_slot_workers();
  /// Waits for every worker (slots, spares, killed ones) to exit and reaps it.
  void reap_all();
  /// Leaves every worker to end on its own (spares killed first): wait_for_workers false.
  void release_all();

  // calibration.cc
  /// Dispatches the next calibration rung on slot 0 once every slot is idle.
  void calibrate_step();
  void calibration_result(const Job& job, const ProbeResult& r);
  void end_calibration();

  // recovery.cc
  ProbeResult base_result(const Slot& s, const Job& job) const;
  /// Reports a verdict to the run's callback (and the event hook).
  void deliver(const Slot* s, size_t index, const ProbeResult& r);
  /// A result message from the worker ends the slot's job.
  void finish_job(Slot& s, ProbeResult r);
  /// Ends the slot's job with outcome `o` from the supervisor's side; drops the worker.
  void fail_job(Slot& s, Outcome o, const std::string& what, std::optional<ExitInfo> exit);
  /// A hang or crash: reported and followed by recovery, or held while one is under way.
  void judge_failure(Slot& s, const Job& job, ProbeResult r);
  /// A first hang at an automatic execute deadline while other probes shared the device:
  /// their work may be what held it past the deadline, so it runs again alone before the
  /// verdict stands.
  bool crowded_hang(const Slot& s, const Job& job, const ProbeResult& r) const;
  void on_hang(Slot& s);
  void on_death(Slot& s);
  void on_protocol_error(Slot& s, const Status& st);
  void on_fatal(Slot& s, const Message& m);
  /// No worker has ever started the engine: no probe can run and none is blamed; the run
  /// stops with `why` and every worker is stopped.
  void stop_never_started(Code code, const std::string& why);
  void begin_recovery(const Slot& s, const std::string& what);
  void start_canary_if_due();
  void canary_done(Slot& s, bool passed, const std::string& what);
  void wedge();
  void kill_all();
};

}  // namespace convguard
