// The isolated prober: probes run in persistent worker processes, watched from outside
// with a deadline per phase on the supervisor's own clock. A worker that hangs or dies
// is killed with its process group and reaped; a fresh worker must pass a canary probe
// before the next one runs; a device that does not come back stops the run (wedged).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "convguard/engine.h"
#include "convguard/probe.h"
#include "convguard/prober.h"

namespace convguard {

/// Deadlines per phase, in seconds. Zero for execute or verify means `auto`. An execute
/// deadline moves by the time the worker waited for a CPU while it had run less than a
/// quarter of it (at most 5 times over), so a loaded machine delays verdicts rather than
/// faking hangs.
struct PhaseTimeouts {
  double init_s = 60;      ///< spawn, library load, context and handle creation
  double prepare_s = 300;  ///< descriptors, find/plan, kernel compilation
  double execute_s = 0;    ///< 0: auto = max(floor, execute_factor x expected)
  double verify_s = 0;     ///< 0: auto = verify_floor_s + flops / (verify_gflops x 1e9)
  /// The execute floor until the overhead around execute phases has been measured (see
  /// ExecCostModel::floor_s), and always when jitter_factor is 0.
  double execute_floor_s = 1.0;
  /// Once measured, the floor is jitter_factor x the largest recent overhead, but never
  /// below execute_floor_min_s: a hang of a millisecond convolution is then called in
  /// about execute_floor_min_s, while a worker delayed by the scheduler is not.
  double execute_floor_min_s = 0.2;
  double jitter_factor = 5;
  double execute_factor = 10;
  /// Starting speed of the execute cost model, until probes of this engine measure it;
  /// low is conservative (longer deadlines).
  double prior_gflops = 1.0;
  double verify_floor_s = 10;
  double verify_gflops = 0.1;  ///< a slow CPU reference's speed, conservatively
};

/// Expected duration of the execute phase: FLOPs / speed, the speed calibrated by an
/// exponential moving average of what completed probes measured; and the floor of its
/// deadline, from the measured overhead around execute phases (the jitter).
class ExecCostModel {
 public:
  explicit ExecCostModel(double prior_gflops = 1.0) : gflops_(prior_gflops) {}
  /// Seconds an execute phase of `calls` executions of `flops` should take.
  double expected_s(double flops, int calls) const;
  /// Replaces the speed (a stored or calibrated one); ignored unless positive.
  void set_speed(double gflops) {
    if (gflops > 0) gflops_ = gflops;
  }
  /// Learns from `calls` executions of `flops` that took `seconds` by the engine's clock.
  /// A time under 20 ms may be mostly fixed costs, so its rate is a lower bound: it may
  /// raise the estimate but never lowers it. The estimate falls faster than it rises, so
  /// a slowdown lengthens deadlines at once.
  void observe(double flops, int calls, double seconds);
  double gflops() const { return gflops_; }
  /// Learns the overhead of one execute phase: its seconds on the supervisor's clock less
  /// the engine's own time for its calls (pipes, wake-ups, scheduling, first-call work).
  void observe_overhead(double seconds);
  /// The execute floor: t.execute_floor_s until 3 overheads are known (or with
  /// t.jitter_factor 0), then max(t.execute_floor_min_s, t.jitter_factor x the largest of
  /// the last 256).
  double floor_s(const PhaseTimeouts& t) const;
  size_t overhead_samples() const { return overhead_.size(); }

 private:
  double gflops_;
  std::deque<double> overhead_;
};

/// One earlier measurement of an engine: a problem of `flops` whose execution took
/// `time_ms` (the worker's own median per call).
struct SpeedSample {
  double flops = 0;
  double time_ms = 0;
};

/// A starting speed (GFLOP/s) for the execute cost model from earlier measurements of the
/// same engine and fingerprint: their median. Not a low quantile: the slowest samples are
/// first calls (JIT, plan building) and tiny problems, whose rate says little about a large
/// problem, and execute_factor already leaves a margin of 10. 0 when fewer than 3 samples
/// have a time (nothing to start from).
double speed_prior_gflops(const std::vector<SpeedSample>& samples);

/// The deadline of `phase` for a problem of `flops` run `calls` times.
double phase_deadline_s(const PhaseTimeouts& t, const ExecCostModel& model, Phase phase,
                        double flops, int calls);

/// A canary's init or prepare deadline once a canary has failed in this recovery:
/// `factor` x the slowest healthy one seen (`slowest_seen_s`, negative: none), at least
/// `min_s`, never more than the phase's own `own_s`.
double canary_retry_deadline_s(double own_s, double slowest_seen_s, double factor, double min_s);

/// Something the supervisor did, for logs and measurements.
struct SupervisorEvent {
  enum Kind {
    spawned,
    dispatched,
    phase_change,
    verdict,
    canary_started,
    canary_passed,
    canary_failed,
    wedged,
    calibrated
  };
  Kind kind;
  int worker = -1;       ///< slot
  int pid = 0;
  size_t index = 0;      ///< request index (dispatched, phase, verdict)
  Phase phase = Phase::init;
  Outcome outcome = Outcome::ok;  ///< verdict, canary_failed
  std::chrono::steady_clock::time_point at;
  /// calibrated: the speed and floor found; spawned: "spare" for a spare (worker -1).
  std::string message;
  double deadline_s = 0;  ///< phase_change, dispatched: the phase's deadline
  double expected_s = 0;  ///< phase_change to execute: what the cost model expects
};
const char* to_string(SupervisorEvent::Kind k);

struct SupervisorOptions {
  int jobs = 1;  ///< concurrent workers
  /// Device per worker: worker i gets devices[i % size] as CUDA_VISIBLE_DEVICES and
  /// HIP_VISIBLE_DEVICES. Empty: the environment is inherited unchanged.
  std::vector<std::string> devices;
  /// The worker's command: executable path and arguments. The worker talks the protocol
  /// on descriptors 3 (requests) and 4 (results), e.g. {"/usr/bin/convguard", "worker"}.
  std::vector<std::string> worker_argv;
  /// Extra environment for every worker, e.g. OMP_NUM_THREADS so that `jobs` CPU workers
  /// share the cores instead of each spinning threads on all of them.
  std::map<std::string, std::string> worker_env;
  EngineSpec engine;
  PhaseTimeouts timeouts;
  ProbeOptions probe;  ///< verify, warmup/repeats, fill seed
  /// Known-good problem run by a fresh worker after a hang or crash. Empty (ic == 0):
  /// --dir=FWD_D mb1ic4ih8oc4kh3ph1.
  Problem canary;
  int canary_tries = 3;       ///< failed canaries (fresh worker each) before `wedged`
  /// After a failed canary, the next ones' init and prepare deadlines are this factor times
  /// the slowest healthy worker start and canary prepare seen, at least canary_retry_min_s
  /// (canary_retry_deadline_s): a wedged device is named within seconds of its first
  /// failed canary, not after canary_tries x init_s; a device slow to come back still gets
  /// several times its usual start.
  double canary_retry_factor = 5;
  double canary_retry_min_s = 2;
  /// Before its first probe, the supervisor measures the engine on a ladder of small
  /// known-good problems in canary mode (calibration_ladder): the largest rung's speed
  /// starts the cost model (or seed_speed's, if higher) and every rung's overhead the
  /// jitter floor, so a command without stored speeds starts with realistic deadlines.
  bool calibrate = false;
  /// Workers started ahead and kept idle with their engine up, so that the canary after
  /// a kill and any worker replacement need not wait for a new process and context.
  /// Only with at most one device (a spare belongs to no slot).
  int spares = 0;
  /// Whether the destructor waits for every worker to exit and reaps it (true), or stops
  /// the idle ones, kills the rest and returns (false): the last moments of a killed GPU
  /// worker (its context's teardown, about 0.1 s) are then left to the process's own exit.
  /// False suits a command that exits right after; a long-lived process keeps true, or
  /// its finished workers would stay unreaped.
  bool wait_for_workers = true;
  double canary_budget_s = 180;  ///< total time for recovery before `wedged`
  double kill_wait_s = 10;    ///< how long a killed worker may take to be reaped
  /// At most this many requests are sent to a worker ahead of the one it is running
  /// (0: one at a time). They hide the round trip between probes, and the supervisor's
  /// late wake-ups on a loaded machine; one that never started is sent again elsewhere.
  int queue_depth = 64;
  /// Within queue_depth, a worker gets about this many seconds of work queued ahead,
  /// judged by how long its recent probes took (2 requests until it has finished one).
  /// Large probes are not queued deep: those queued on healthy workers still run
  /// while a recovery waits for them.
  double queue_ahead_s = 0.05;
  std::function<void(const SupervisorEvent&)> on_event;
};

/// The expected seconds of a whole probe of `flops` under `opt`, by the prior of the
/// cost model: a fixed cost per probe (dispatch, fills, verdict), the execute phase's
/// calls at PhaseTimeouts::prior_gflops and, when verifying, the reference at
/// verify_gflops. What sweep shards are balanced by (only ratios matter there).
double expected_probe_s(const SupervisorOptions& opt, double flops);

class Supervisor : public Prober {
 public:
  explicit Supervisor(SupervisorOptions opt);
  /// Stops the workers (stop message, then SIGKILL to the group) and reaps them.
  ~Supervisor() override;

  bool reports_dispatch() const override { return true; }
  /// Optional: starts every worker and waits (up to the init deadline) until each has
  /// its engine ready, so an engine that cannot start is reported before any probe and
  /// a later run() measures probes only. Workers that are already up are kept.
  Status start();
  Result<std::vector<std::string>> algorithms(const Problem& p) override;
  Result<std::map<std::string, std::string>> fingerprint() override;
  std::string engine_name() const override;
  /// Starts the execute cost model at `gflops` (from speed_prior_gflops) instead of
  /// PhaseTimeouts::prior_gflops (or a lower calibrated speed); ignored unless positive.
  /// Call before run().
  void seed_speed(double gflops);

 private:
  /// run(): runs requests over `jobs` workers, dispatched in request order; results arrive in
  /// completion order. A hang or crash keeps its own outcome and triggers recovery:
  /// no new dispatch until a fresh worker passes the canary; probes that also hung or
  /// crashed while in flight beside it are re-run (attempt 2) rather than blamed. If the
  /// canary fails canary_tries times or recovery outlasts canary_budget_s, every worker is
  /// killed and run() returns Code::kDeviceLost saying what happened and what to do.
  /// Code::kError when the engine cannot start at all (e.g. no device). Workers persist
  /// across calls; call run() from one long-lived thread (workers die with it).
  Status do_run(const std::vector<ProbeRequest>& requests, const ResultCallback& on_result,
                const DispatchCallback& on_dispatch) override;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The default canary: --dir=FWD_D mb1ic4ih8oc4kh3ph1.
Problem default_canary();

/// The calibration ladder: FWD_D problems from the canary's size up by about 16x in FLOPs
/// per rung (to about 1.2 GFLOP). Calibration climbs it until a rung's execution takes
/// 5 ms by the engine's clock (at least 3 rungs), so a slow engine stops early.
std::vector<Problem> calibration_ladder();

}  // namespace convguard
