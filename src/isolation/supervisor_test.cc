// The supervisor against real worker processes: this binary re-executes itself as the
// worker (argv[1] == "--as-worker") with the fault engine of test_fault_engine.h.
#include "convguard/supervisor.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "convguard/worker.h"
#include "isolation/process.h"
#include "testing/process_probes.h"
#include "testing/test_fault_engine.h"

namespace convguard {
namespace {

using testing::count_open_fds;
using testing::process_group_exists;

using std::chrono::milliseconds;

std::string self_exe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

SupervisorOptions options(const std::string& mode = "", int jobs = 1) {
  SupervisorOptions o;
  o.jobs = jobs;
  o.worker_argv = {self_exe(), "--as-worker"};
  o.engine = {"fault", "", mode, 0};
  o.timeouts.init_s = 10;
  o.timeouts.prepare_s = 0.5;
  o.timeouts.execute_floor_s = 0.3;
  o.timeouts.verify_floor_s = 0.5;
  o.canary_tries = 2;
  o.canary_budget_s = 20;
  o.kill_wait_s = 5;
  return o;
}

Problem prob(const std::string& desc) {
  Problem base;
  base.dir = Dir::FWD_D;
  auto p = parse_problem(desc, base);
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return p.ok() ? *p : Problem{};
}

// A temporary marker path, removed at the end of the test.
struct TempPath {
  std::string path = std::filesystem::temp_directory_path() /
                     ("convguard-sup-" + std::to_string(::getpid()) + "-" +
                      std::to_string(counter++));
  ~TempPath() { std::filesystem::remove(path); }
  static inline int counter = 0;
};

// Every test: no process of ours and no descriptor outlives the supervisor.
class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override { fds_ = count_open_fds(); }
  void TearDown() override {
    EXPECT_EQ(count_open_fds(), fds_) << "descriptor leak";
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "an unreaped child remains";
    EXPECT_EQ(errno, ECHILD);
    for (pid_t pid : pids_) EXPECT_FALSE(process_group_exists(pid)) << "worker " << pid;
  }

  // Runs the descriptors and returns results by request index (outcome suspect: none).
  std::vector<ProbeResult> run(const std::vector<std::string>& descs, SupervisorOptions o,
                               Status* st = nullptr) {
    o.on_event = [this](const SupervisorEvent& e) {
      if (e.kind == SupervisorEvent::spawned) pids_.insert(e.pid);
      if (e.kind == SupervisorEvent::dispatched) dispatched_.push_back(e.index);
      events_.push_back(e.kind);
      log_.push_back(e);
    };
    std::vector<ProbeRequest> reqs;
    for (const auto& d : descs) reqs.push_back({prob(d), kDefaultAlgo});
    std::vector<ProbeResult> out(reqs.size());
    for (auto& r : out) r.outcome = Outcome::suspect;
    reported_.assign(reqs.size(), 0);
    {
      Supervisor sup(std::move(o));
      // Ready workers get requests queued ahead at the first dispatch.
      if (start_first_) {
        EXPECT_TRUE(sup.start().ok());
      }
      Status s = sup.run(reqs, [&](size_t i, const ProbeResult& r) {
        ASSERT_LT(i, out.size());
        out[i] = r;
        ++reported_[i];
      });
      if (st) *st = s;
      else EXPECT_TRUE(s.ok()) << s.to_string();
    }
    return out;
  }

  int count(SupervisorEvent::Kind k) const { return std::count(events_.begin(), events_.end(), k); }

  // Every request of the last run() got exactly one result callback.
  void expect_each_reported_once() const {
    for (size_t i = 0; i < reported_.size(); ++i)
      EXPECT_EQ(reported_[i], 1) << "request " << i << " reported " << reported_[i] << " times";
  }

  // Requests sent more than once (queued on a worker that was lost, then sent again).
  int resent() const {
    std::map<size_t, int> n;
    for (size_t i : dispatched_) ++n[i];
    return static_cast<int>(std::count_if(n.begin(), n.end(), [](auto& kv) { return kv.second > 1; }));
  }

  bool start_first_ = false;  ///< run() calls Supervisor::start before the run
  int fds_ = 0;
  std::vector<int> reported_;  ///< result callbacks per request index
  std::set<pid_t> pids_;
  std::vector<size_t> dispatched_;
  std::vector<SupervisorEvent::Kind> events_;
  std::vector<SupervisorEvent> log_;
};

// The deadline a hang verdict names ("... within its deadline of 0.2 s ..."); -1 if none.
double stated_deadline(const ProbeResult& r) {
  const size_t at = r.message.find("deadline of ");
  return at == std::string::npos ? -1 : std::stod(r.message.substr(at + 12));
}

constexpr const char* kOk1 = "mb1ic2ih6oc3kh3ph1";
constexpr const char* kOk2 = "mb2ic3ih5oc4kh3";

TEST_F(SupervisorTest, RunsProbesInAWorkerAndReportsItsFacts) {
  auto r = run({kOk1, kOk2, kOk1}, options());
  for (const auto& x : r) {
    EXPECT_EQ(x.outcome, Outcome::ok) << x.message;
    EXPECT_EQ(x.phase, Phase::verify);
    EXPECT_EQ(x.worker, 0);
    EXPECT_GT(x.worker_pid, 0);
    EXPECT_GT(x.wall_ms, 0);
    EXPECT_EQ(x.reference, "ref");
  }
  EXPECT_EQ(r[0].worker_pid, r[2].worker_pid) << "the worker persists";
  EXPECT_EQ(count(SupervisorEvent::spawned), 1);
}

TEST_F(SupervisorTest, KillsAWorkerThatHangsInPrepare) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = run({"mb1ic2ih6oc7kh3", kOk1}, options());
  EXPECT_EQ(r[0].outcome, Outcome::hang);
  EXPECT_EQ(r[0].phase, Phase::prepare);
  EXPECT_NE(r[0].message.find("no progress in prepare"), std::string::npos) << r[0].message;
  EXPECT_NE(r[0].stderr_tail.find("fault: hang in prepare"), std::string::npos);
  EXPECT_EQ(r[1].outcome, Outcome::ok) << r[1].message;
  EXPECT_NE(r[0].worker_pid, r[1].worker_pid) << "a fresh worker after the hang";
  EXPECT_EQ(count(SupervisorEvent::canary_passed), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(5000));
}

TEST_F(SupervisorTest, CatchesASmallHangInExecuteAtTheFloor) {
  auto r = run({"mb1ic2ih6oc9kh3", kOk1}, options());
  EXPECT_EQ(r[0].outcome, Outcome::hang);
  EXPECT_EQ(r[0].phase, Phase::execute);
  EXPECT_GE(r[0].wall_ms, 300);
  EXPECT_LT(r[0].wall_ms, 2000);
  EXPECT_EQ(r[1].outcome, Outcome::ok);
}

TEST_F(SupervisorTest, ACalibratedDeadlineCatchesAHangLongBeforeTheUnmeasuredFloor) {
  auto o = options();
  o.calibrate = true;
  o.timeouts.execute_floor_s = 5;  // what the hang would cost without measured jitter
  auto r = run({"mb1ic2ih6oc9kh3", kOk1}, o);
  EXPECT_EQ(count(SupervisorEvent::calibrated), 1);
  EXPECT_EQ(r[0].outcome, Outcome::hang);
  EXPECT_EQ(r[0].phase, Phase::execute);
  EXPECT_GE(stated_deadline(r[0]), o.timeouts.execute_floor_min_s) << r[0].message;
  EXPECT_LT(stated_deadline(r[0]), 1.0) << r[0].message;
  EXPECT_LT(r[0].wall_ms, 1000 * o.timeouts.execute_floor_s);
  EXPECT_EQ(r[1].outcome, Outcome::ok) << r[1].message;
}

TEST_F(SupervisorTest, ALegitimatelySlowProblemUnderACalibratedModelIsNotAHang) {
  auto o = options();
  o.calibrate = true;
  o.timeouts.prepare_s = 30;
  o.timeouts.verify_floor_s = 30;
  // 1.2 GFLOP: 250 times the largest rung the reference engine calibrated on, and long
  // enough that the cost model, not the floor, sets its deadline.
  auto r = run({kOk1, "mb4ic32ih64oc64kh3ph1", kOk2}, o);
  EXPECT_EQ(count(SupervisorEvent::calibrated), 1);
  for (const auto& x : r) EXPECT_EQ(x.outcome, Outcome::ok) << x.problem << ": " << x.message;
  EXPECT_EQ(count(SupervisorEvent::canary_started), 0);
  for (const SupervisorEvent& e : log_) {
    if (e.kind == SupervisorEvent::phase_change && e.index == 1 && e.phase == Phase::execute) {
      EXPECT_NEAR(e.deadline_s, o.timeouts.execute_factor * e.expected_s, 2e-3)
          << "expected " << e.expected_s << " s";
    }
  }
}

TEST_F(SupervisorTest, ASpareTakesOverAfterAKill) {
  auto o = options();
  o.spares = 1;
  auto r = run({"mb1ic2ih6oc9kh3", kOk1}, o);
  EXPECT_EQ(r[0].outcome, Outcome::hang);
  EXPECT_EQ(r[1].outcome, Outcome::ok) << r[1].message;
  pid_t spare = 0, canary = 0;
  for (const SupervisorEvent& e : log_) {
    if (e.kind == SupervisorEvent::spawned && e.worker == -1 && !spare) spare = e.pid;
    if (e.kind == SupervisorEvent::canary_started) canary = e.pid;
  }
  ASSERT_GT(spare, 0) << "a spare was started with the run";
  EXPECT_EQ(canary, spare) << "the canary ran on the spare, not on a new process";
  EXPECT_EQ(r[1].worker_pid, spare) << "and the spare went on probing";
  EXPECT_EQ(count(SupervisorEvent::spawned), 3) << "the first worker, the spare, its successor";
}

TEST_F(SupervisorTest, AWarmWorkerTakesTheProbesWhileASpareTheOtherSlotTookIsStillStarting) {
  // Slot 0's worker starts first (the fingerprint is asked of it) and alone is quick: every
  // later init takes 3 s. A first run of one probe starts a spare; in the second, slot 1
  // takes that spare while slot 0's worker is warm.
  TempPath first;
  auto o = options("init-slow-after-first:" + first.path, 2);
  o.spares = 1;
  Supervisor sup(o);
  ASSERT_TRUE(sup.fingerprint().ok());
  std::vector<ProbeResult> out(3);
  auto keep = [&](size_t i, const ProbeResult& r) { out[i] = r; };
  ASSERT_TRUE(sup.run({{prob(kOk1), kDefaultAlgo}}, keep).ok());
  ASSERT_TRUE(sup.run({{prob(kOk1), kDefaultAlgo}, {prob(kOk2), kDefaultAlgo}, {prob(kOk1), kDefaultAlgo}},
                      keep).ok());
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].outcome, Outcome::ok) << i << ": " << out[i].message;
    EXPECT_EQ(out[i].worker, 0) << "request " << i << " waited for the starting spare";
  }
}

// Waits up to 10 s for `pid` (our child) to end; its wait status, or -1.
int wait_for_child(pid_t pid) {
  for (int i = 0; i < 1000; ++i) {
    int ws = 0;
    if (::waitpid(pid, &ws, WNOHANG) == pid) return ws;
    ::usleep(10000);
  }
  return -1;
}

TEST_F(SupervisorTest, NotWaitingForWorkersItStopsTheIdleOneAndKillsTheSparesThatEndOnTheirOwn) {
  auto o = options();
  o.spares = 1;
  o.wait_for_workers = false;
  auto r = run({kOk1}, o);
  EXPECT_EQ(r[0].outcome, Outcome::ok);
  // The supervisor is gone and reaped nothing: each worker ends by itself, the idle one
  // by its stop (exit 0), the spare by SIGKILL.
  for (const SupervisorEvent& e : log_) {
    if (e.kind != SupervisorEvent::spawned) continue;
    const int ws = wait_for_child(e.pid);
    ASSERT_NE(ws, -1) << "worker " << e.pid << " is still running";
    if (e.worker == -1) {
      EXPECT_TRUE(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL) << "spare " << e.pid << ": " << ws;
    } else {
      EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << "worker " << e.pid << ": " << ws;
    }
  }
}

TEST_F(SupervisorTest, KillsAWorkerThatHangsInVerify) {
  auto r = run({"mb1ic2ih6oc11kh3", kOk1}, options());
  EXPECT_EQ(r[0].outcome, Outcome::hang);
  EXPECT_EQ(r[0].phase, Phase::verify);
  EXPECT_EQ(r[1].outcome, Outcome::ok);
}

TEST_F(SupervisorTest, KillsAWorkerThatHangsInInit) {
  TempPath marker;
  auto o = options("init-hang-once:" + marker.path);
  o.timeouts.init_s = 1;
  auto r = run({kOk1, kOk2}, o);
  EXPECT_EQ(r[0].outcome, Outcome::hang);
  EXPECT_EQ(r[0].phase, Phase::init);
  EXPECT_EQ(r[1].outcome, Outcome::ok) << "the canary's fresh worker started";
}

TEST_F(SupervisorTest, ReportsASegfaultAsACrashWithSignalAndStderr) {
  auto r = run({"mb1ic5ih6oc3kh3", kOk1}, options());
  EXPECT_EQ(r[0].outcome, Outcome::crash);
  EXPECT_EQ(r[0].phase, Phase::execute);
  EXPECT_EQ(r[0].signal, SIGSEGV);
  EXPECT_NE(r[0].message.find("SIGSEGV"), std::string::npos) << r[0].message;
  EXPECT_NE(r[0].stderr_tail.find("fault: segfault in execute"), std::string::npos);
  EXPECT_EQ(r[1].outcome, Outcome::ok);
}

TEST_F(SupervisorTest, ReportsAnAbortAsACrashThatSaysAbort) {
  auto r = run({"mb1ic6ih6oc3kh3"}, options());
  EXPECT_EQ(r[0].outcome, Outcome::crash);
  EXPECT_EQ(r[0].signal, SIGABRT);
  EXPECT_NE(r[0].message.find("abort"), std::string::npos) << r[0].message;
}

TEST_F(SupervisorTest, AnErrorStatusIsAnErrorAndKeepsTheWorker) {
  auto r = run({"mb1ic2ih6oc13kh3", kOk1}, options());
  EXPECT_EQ(r[0].outcome, Outcome::error);
  EXPECT_NE(r[0].message.find("injected error"), std::string::npos);
  EXPECT_EQ(r[1].outcome, Outcome::ok);
  EXPECT_EQ(r[0].worker_pid, r[1].worker_pid);
  EXPECT_EQ(count(SupervisorEvent::canary_started), 0);
}

TEST_F(SupervisorTest, AWrongResultIsWrong) {
  auto r = run({"mb1ic2ih6oc15kh3"}, options());
  EXPECT_EQ(r[0].outcome, Outcome::wrong);
  EXPECT_EQ(r[0].phase, Phase::verify);
}

TEST_F(SupervisorTest, AWorkerThatExitsEarlyIsACrash) {
  auto r = run({"mb1ic7ih6oc3kh3", kOk1}, options());
  EXPECT_EQ(r[0].outcome, Outcome::crash);
  EXPECT_EQ(r[0].phase, Phase::prepare);
  EXPECT_EQ(r[0].exit_status, 0);
  EXPECT_NE(r[0].message.find("exit status 0"), std::string::npos) << r[0].message;
  EXPECT_EQ(r[1].outcome, Outcome::ok);
}

TEST_F(SupervisorTest, GarbageOnThePipeIsAProtocolErrorCrash) {
  auto r = run({"mb1ic9ih6oc3kh3", kOk1}, options());
  EXPECT_EQ(r[0].outcome, Outcome::crash);
  EXPECT_EQ(r[0].message.rfind("worker protocol error: ", 0), 0u) << r[0].message;
  EXPECT_EQ(r[1].outcome, Outcome::ok);
}

TEST_F(SupervisorTest, AHangAfterSomeCallsIsCaughtAndAFreshWorkerStartsClean) {
  const char* p = "mb1ic2ih6oc17kh3";
  auto r = run({p, p, p, p, p}, options());
  std::vector<Outcome> got;
  for (const auto& x : r) got.push_back(x.outcome);
  EXPECT_EQ(got, (std::vector<Outcome>{Outcome::ok, Outcome::ok, Outcome::ok, Outcome::hang,
                                       Outcome::ok}));
}

TEST_F(SupervisorTest, ADeviceLostResultIsACrashFollowedByACanary) {
  auto r = run({"mb1ic2ih6oc21kh3", kOk1}, options());
  EXPECT_EQ(r[0].outcome, Outcome::crash);
  EXPECT_NE(r[0].message.find("device lost"), std::string::npos) << r[0].message;
  EXPECT_EQ(r[1].outcome, Outcome::ok);
  EXPECT_EQ(count(SupervisorEvent::canary_passed), 1);
}

TEST_F(SupervisorTest, ACanaryThatKeepsFailingStopsTheRunAsWedged) {
  TempPath wedge;
  auto o = options("wedge:" + wedge.path);
  o.timeouts.init_s = 0.5;
  Status st;
  auto t0 = std::chrono::steady_clock::now();
  auto r = run({kOk1, "mb1ic2ih6oc19kh3", kOk1, kOk2}, o, &st);
  EXPECT_EQ(st.code(), Code::kDeviceLost);
  EXPECT_NE(st.message().find("reset"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("resume"), std::string::npos);
  EXPECT_EQ(r[0].outcome, Outcome::ok);
  EXPECT_EQ(r[1].outcome, Outcome::hang) << "the trigger keeps its own outcome";
  EXPECT_EQ(r[2].outcome, Outcome::suspect) << "nothing after it is run or blamed";
  EXPECT_EQ(r[3].outcome, Outcome::suspect);
  EXPECT_EQ(count(SupervisorEvent::canary_failed), 2);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(8000));
}

TEST_F(SupervisorTest, AfterTheFirstFailedCanaryTheNextOnesGetDeadlinesFromMeasuredStarts) {
  TempPath wedge;
  auto o = options("wedge:" + wedge.path);
  o.timeouts.init_s = 4;
  o.canary_tries = 3;
  o.canary_retry_min_s = 0.5;
  Status st;
  auto r = run({kOk1, "mb1ic2ih6oc19kh3", kOk1}, o, &st);
  EXPECT_EQ(st.code(), Code::kDeviceLost) << st.to_string();
  EXPECT_EQ(r[1].outcome, Outcome::hang);
  std::vector<double> canary_deadlines;
  for (const SupervisorEvent& e : log_)
    if (e.kind == SupervisorEvent::canary_started) canary_deadlines.push_back(e.deadline_s);
  ASSERT_EQ(canary_deadlines.size(), 3u);
  EXPECT_DOUBLE_EQ(canary_deadlines[0], 4) << "the first canary has the whole init deadline";
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_LT(canary_deadlines[i], 4) << "canary " << i;
    EXPECT_GE(canary_deadlines[i], 0.5) << "canary " << i;
  }
}

TEST(CanaryRetryDeadline, IsAMultipleOfTheSlowestStartBetweenTheFloorAndThePhasesOwn) {
  EXPECT_DOUBLE_EQ(canary_retry_deadline_s(60, 0.6, 5, 2), 3);
  EXPECT_DOUBLE_EQ(canary_retry_deadline_s(60, 0.1, 5, 2), 2);
  EXPECT_DOUBLE_EQ(canary_retry_deadline_s(60, 20, 5, 2), 60);
  EXPECT_DOUBLE_EQ(canary_retry_deadline_s(60, -1, 5, 2), 60) << "nothing measured yet";
}

TEST_F(SupervisorTest, TwoWorkersRunInRequestOrderAndEveryOutcomeIsRight) {
  std::vector<std::string> descs;
  for (int i = 0; i < 12; ++i) descs.push_back(i % 4 == 1 ? "mb1ic2ih6oc9kh3" : kOk1);
  auto r = run(descs, options("", 2));
  std::set<int> workers;
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(r[i].outcome, i % 4 == 1 ? Outcome::hang : Outcome::ok) << i << r[i].message;
    workers.insert(r[i].worker);
  }
  EXPECT_EQ(workers.size(), 2u);
  std::vector<size_t> firsts;  // first dispatch of each index: in request order
  for (size_t i : dispatched_)
    if (std::find(firsts.begin(), firsts.end(), i) == firsts.end()) firsts.push_back(i);
  EXPECT_TRUE(std::is_sorted(firsts.begin(), firsts.end()));
}

// A probe that hangs in execute (caught at the 0.3 s floor of options()).
constexpr const char* kHang = "mb1ic2ih6oc9kh3";

// r[i] is a hang where descs[i] is kHang and ok elsewhere.
void expect_hang_exactly_where_marked(const std::vector<std::string>& descs,
                                      const std::vector<ProbeResult>& r) {
  ASSERT_EQ(r.size(), descs.size());
  for (size_t i = 0; i < r.size(); ++i) {
    Outcome want = descs[i] == kHang ? Outcome::hang : Outcome::ok;
    EXPECT_EQ(r[i].outcome, want) << "request " << i << ": " << r[i].message;
  }
}

TEST_F(SupervisorTest, LastProbesHangingTogetherOnTwoWorkersAreEachReported) {
  // The reported loss: the last probes hang at once, each queued behind an ok one, so
  // nothing is pending when the first verdict starts a recovery and the other is held.
  std::vector<std::string> descs = {kOk1, kOk2, kHang, kHang};
  start_first_ = true;
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(descs, options("", 2));
  expect_each_reported_once();
  expect_hang_exactly_where_marked(descs, r);
  // The first verdict's probe shared the device with the other, so both run again alone,
  // each after a canary.
  EXPECT_GE(count(SupervisorEvent::canary_passed), 1) << "the held probe waits for the canary";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(15000));
}

TEST_F(SupervisorTest, LastProbesHangingTogetherOnThreeWorkersAreEachReported) {
  std::vector<std::string> descs = {kOk1, kOk2, kOk1, kHang, kHang, kHang};
  start_first_ = true;
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(descs, options("", 3));
  expect_each_reported_once();
  expect_hang_exactly_where_marked(descs, r);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(15000));
}

TEST_F(SupervisorTest, AfterAHangProbesRunOneAtATimeUntilOneEndsOk) {
  // A run of hangs, as a sweep's neighbours above a boundary give: after the first
  // verdict's canary each of the others runs alone, so none is held beside a recovery
  // and re-run; the ok one after them ends it, and the last two run side by side again.
  std::vector<std::string> descs = {kOk1, kOk2, kHang, kHang, kHang, kHang, kOk1, kOk2, kOk1};
  auto r = run(descs, options("", 2));
  expect_each_reported_once();
  expect_hang_exactly_where_marked(descs, r);
  int second_attempts = 0;
  for (const ProbeResult& x : r) second_attempts += x.attempt > 1;
  EXPECT_LE(second_attempts, 2)
      << "only the first hang (beside a neighbour) and the one in flight at its verdict";
}

TEST_F(SupervisorTest, HangsOnBothOfTwoWorkersWithQueuedProbesLoseNothing) {
  // Both workers hang at once with probes queued behind each: the queued ones go back
  // to the queue, the second hang is held for the canary and re-run; two more hangs
  // follow near the end.
  std::vector<std::string> descs = {kHang, kHang, kOk1, kOk2, kOk1, kOk2, kHang, kHang};
  auto o = options("", 2);
  start_first_ = true;
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(descs, o);
  expect_each_reported_once();
  expect_hang_exactly_where_marked(descs, r);
  // Two queued behind each (a worker's queue starts at 2 until its pace is known).
  EXPECT_GE(resent(), 4) << "requests 2-5 were queued on the two workers that hung";
  for (size_t i : {size_t{0}, size_t{1}, size_t{6}, size_t{7}})
    EXPECT_NE(r[i].message.find("no progress in execute"), std::string::npos) << r[i].message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(15000));
}

TEST_F(SupervisorTest, ThreeSimultaneousHangsWithQueuedWorkGetThreeVerdicts) {
  std::vector<std::string> descs = {kHang, kHang, kHang};
  for (int i = 0; i < 9; ++i) descs.push_back(i % 2 ? kOk1 : kOk2);
  start_first_ = true;
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(descs, options("", 3));
  expect_each_reported_once();
  expect_hang_exactly_where_marked(descs, r);
  // The first beside its neighbours, the others beside a recovery: each re-run after the
  // canary, and then judged on its own.
  int rerun = 0;
  for (size_t i = 0; i < 3; ++i) rerun += r[i].attempt == 2;
  EXPECT_EQ(rerun, 3);
  EXPECT_GE(count(SupervisorEvent::canary_passed), 2);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(20000));
}

TEST_F(SupervisorTest, AProbeHeldBesideARecoveryIsReRunAndReportedOnceWithItsOwnVerdict) {
  // Request 1 hangs in prepare (0.5 s) the first time only; request 0's execute hang
  // (0.3 s) is judged first, so request 1 is caught beside a recovery: held, re-run
  // after the canary, and then reported once, as ok.
  TempPath once;
  auto o = options("hang-once:" + once.path, 2);
  std::vector<std::string> descs = {kHang, "mb1ic2ih6oc23kh3", kOk1, kOk2};
  start_first_ = true;
  auto r = run(descs, o);
  expect_each_reported_once();
  EXPECT_EQ(r[0].outcome, Outcome::hang);
  EXPECT_EQ(r[0].attempt, 2) << "its first hang was beside request 1, so it ran again alone";
  EXPECT_EQ(r[1].outcome, Outcome::ok) << r[1].message;
  EXPECT_EQ(r[1].attempt, 2);
  EXPECT_EQ(r[2].outcome, Outcome::ok);
  EXPECT_EQ(r[3].outcome, Outcome::ok);
}

TEST_F(SupervisorTest, AHangBesideABusyNeighbourRunsAgainAloneBeforeItStands) {
  // Request 0 hangs in execute the first time only, while request 1 (0.4 s in prepare)
  // still holds the other worker: its neighbour may be what held it, so it runs again
  // alone after the canary, and its verdict is that run's.
  TempPath once;
  std::vector<std::string> descs = {"mb1ic2ih6oc25kh3", "mb1ic2ih6oc27kh3"};
  start_first_ = true;
  auto r = run(descs, options("hang-once:" + once.path, 2));
  expect_each_reported_once();
  EXPECT_EQ(r[0].outcome, Outcome::ok) << r[0].message;
  EXPECT_EQ(r[0].attempt, 2);
  EXPECT_EQ(r[1].outcome, Outcome::ok) << r[1].message;
  EXPECT_EQ(count(SupervisorEvent::canary_passed), 1);
}

TEST_F(SupervisorTest, AHangThatHadTheDeviceToItselfStandsAtOnce) {
  TempPath once;
  auto r = run({"mb1ic2ih6oc25kh3", kOk1}, options("hang-once:" + once.path, 1));
  expect_each_reported_once();
  EXPECT_EQ(r[0].outcome, Outcome::hang) << r[0].message;
  EXPECT_EQ(r[0].attempt, 1);
  EXPECT_EQ(r[1].outcome, Outcome::ok);
}

TEST_F(SupervisorTest, SmallProbesAreQueuedDeeperOnceTheWorkersPaceIsKnown) {
  // Outstanding requests of the one worker: dispatched (running or queued) minus judged.
  int outstanding = 0, most = 0;
  auto o = options();
  o.on_event = [&](const SupervisorEvent& e) {
    if (e.kind == SupervisorEvent::spawned) pids_.insert(e.pid);
    if (e.kind == SupervisorEvent::dispatched) most = std::max(most, ++outstanding);
    if (e.kind == SupervisorEvent::verdict) --outstanding;
  };
  std::vector<ProbeRequest> reqs(400, ProbeRequest{prob(kOk1), kDefaultAlgo});
  int ok = 0;
  {
    Supervisor sup(o);
    ASSERT_TRUE(sup.run(reqs, [&](size_t, const ProbeResult& r) { ok += r.outcome == Outcome::ok; }).ok());
  }
  EXPECT_EQ(ok, 400);
  EXPECT_GT(most, 3) << "deeper than the 1 + 2 of a worker whose pace is unknown";
  EXPECT_LE(most, 1 + o.queue_depth);
}

TEST_F(SupervisorTest, AnnouncesAQueuedRequestOnlyWhenItsWorkerMovesOnToIt) {
  // What a store journals: announced minus reported is what may be running, at most one
  // request per worker, however deep the queues.
  for (int jobs : {1, 2}) {
    int in_flight = 0, most = 0, queued_most = 0, outstanding = 0;
    auto o = options("", jobs);
    o.on_event = [&](const SupervisorEvent& e) {
      if (e.kind == SupervisorEvent::spawned) pids_.insert(e.pid);
      if (e.kind == SupervisorEvent::dispatched) queued_most = std::max(queued_most, ++outstanding);
      if (e.kind == SupervisorEvent::verdict) --outstanding;
    };
    std::vector<ProbeRequest> reqs(300, ProbeRequest{prob(kOk1), kDefaultAlgo});
    {
      Supervisor sup(o);
      ASSERT_TRUE(sup.run(
                         reqs, [&](size_t, const ProbeResult&) { --in_flight; },
                         [&](size_t) { most = std::max(most, ++in_flight); })
                      .ok());
    }
    EXPECT_EQ(in_flight, 0);
    EXPECT_LE(most, jobs);
    EXPECT_GT(queued_most, jobs) << "the workers' queues were used";
  }
}

TEST_F(SupervisorTest, ListsAlgorithmsAndTheFingerprintThroughAWorker) {
  auto o = options();
  o.devices = {"3"};
  o.on_event = [this](const SupervisorEvent& e) {
    if (e.kind == SupervisorEvent::spawned) pids_.insert(e.pid);
  };
  Supervisor sup(o);
  auto algos = sup.algorithms(prob(kOk1));
  ASSERT_TRUE(algos.ok()) << algos.status().to_string();
  EXPECT_FALSE(algos->empty());
  auto fp = sup.fingerprint();
  ASSERT_TRUE(fp.ok()) << fp.status().to_string();
  EXPECT_EQ(fp->at("CUDA_VISIBLE_DEVICES"), "3");
  EXPECT_EQ(sup.engine_name(), "fault");
}

TEST_F(SupervisorTest, AQuestionToAWorkerThatCannotStartNamesTheDeviceAtTheInitDeadline) {
  TempPath marker;
  std::fclose(std::fopen(marker.path.c_str(), "w"));  // the device is wedged from the start
  auto o = options("wedge:" + marker.path);
  o.timeouts.init_s = 1;
  o.timeouts.prepare_s = 100;  // not waited for: init never ends
  Supervisor sup(o);
  auto fp = sup.fingerprint();
  ASSERT_FALSE(fp.ok());
  EXPECT_EQ(fp.status().code(), Code::kDeviceLost) << fp.status().to_string();
  EXPECT_NE(fp.status().message().find("wedged"), std::string::npos) << fp.status().message();
  EXPECT_NE(fp.status().message().find("init deadline of 1 s"), std::string::npos)
      << fp.status().message();
}

TEST_F(SupervisorTest, AnEngineThatCannotStartStopsTheRunWithoutBlamingAProbe) {
  Status st;
  auto r = run({kOk1, kOk2}, options("init-fail"), &st);
  EXPECT_EQ(st.code(), Code::kUnsupported);
  EXPECT_NE(st.message().find("no device here"), std::string::npos) << st.message();
  EXPECT_EQ(r[0].outcome, Outcome::suspect);
}

TEST_F(SupervisorTest, AWorkerProgramThatCannotLoadStopsTheRunNamingItsErrorNotAWedgedDevice) {
  // What a worker linked against a library the loader cannot find does: a message, exit 127.
  auto o = options();
  o.worker_argv = {"/bin/sh", "-c",
                   "echo 'convguard-torch-worker: error while loading shared libraries: "
                   "libtorch.so: cannot open shared object file' >&2; exit 127"};
  Status st;
  auto r = run({kOk1, kOk2}, o, &st);
  EXPECT_EQ(st.code(), Code::kError) << st.to_string();
  EXPECT_NE(st.message().find("could not start"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("libtorch.so: cannot open shared object file"), std::string::npos)
      << st.message();
  EXPECT_EQ(st.message().find("wedged"), std::string::npos) << st.message();
  EXPECT_EQ(count(SupervisorEvent::canary_started), 0);
  EXPECT_EQ(r[0].outcome, Outcome::suspect) << "no probe is blamed";
}

TEST_F(SupervisorTest, RecoveryCarriesOverToTheNextRun) {
  auto o = options();
  o.on_event = [this](const SupervisorEvent& e) {
    if (e.kind == SupervisorEvent::spawned) pids_.insert(e.pid);
    events_.push_back(e.kind);
  };
  Supervisor sup(o);
  std::vector<ProbeResult> got;
  auto keep = [&](size_t, const ProbeResult& r) { got.push_back(r); };
  ASSERT_TRUE(sup.run({{prob("mb1ic2ih6oc9kh3"), kDefaultAlgo}}, keep).ok());
  EXPECT_EQ(count(SupervisorEvent::canary_started), 0) << "no probe left to protect";
  ASSERT_TRUE(sup.run({{prob(kOk1), kDefaultAlgo}}, keep).ok());
  EXPECT_EQ(count(SupervisorEvent::canary_passed), 1);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].outcome, Outcome::hang);
  EXPECT_EQ(got[1].outcome, Outcome::ok);
}

TEST(ExecCostModel, ShortPhasesCanOnlyRaiseTheSpeedEstimate) {
  ExecCostModel m(1.0);
  m.observe(1e6, 1, 0.01);  // 10 ms for 0.1 GFLOP/s: mostly overhead, ignored
  EXPECT_DOUBLE_EQ(m.gflops(), 1.0);
  m.observe(1e8, 1, 0.001);  // 1 ms for 100 GFLOP/s: at least that fast
  EXPECT_NEAR(m.gflops(), 0.8 * 1 + 0.2 * 100, 1e-9);
}

TEST(ExecCostModel, LearnsSpeedFromTimedPhases) {
  ExecCostModel m(1.0);
  m.observe(1e9, 1, 0.1);  // 10 GFLOP/s: rises slowly
  EXPECT_NEAR(m.gflops(), 0.8 * 1 + 0.2 * 10, 1e-9);
  double before = m.gflops();
  m.observe(1e8, 1, 0.5);  // 0.2 GFLOP/s: falls fast
  EXPECT_NEAR(m.gflops(), 0.5 * before + 0.5 * 0.2, 1e-9);
}

TEST(ExecCostModel, DeadlinesHaveAFloorAndScaleWithWork) {
  PhaseTimeouts t;
  ExecCostModel m(1.0);
  EXPECT_DOUBLE_EQ(phase_deadline_s(t, m, Phase::execute, 1e6, 1), 1.0);
  EXPECT_DOUBLE_EQ(phase_deadline_s(t, m, Phase::execute, 1e10, 2), 200.0);
  EXPECT_DOUBLE_EQ(phase_deadline_s(t, m, Phase::init, 1e10, 1), 60.0);
  EXPECT_DOUBLE_EQ(phase_deadline_s(t, m, Phase::prepare, 1e10, 1), 300.0);
  EXPECT_DOUBLE_EQ(phase_deadline_s(t, m, Phase::verify, 1e9, 1), 20.0);
  t.execute_s = 5;
  EXPECT_DOUBLE_EQ(phase_deadline_s(t, m, Phase::execute, 1e12, 1), 5.0);
}

TEST(ExecCostModel, TheFloorFollowsTheMeasuredJitterOnceThereAreThreeSamples) {
  PhaseTimeouts t;
  ExecCostModel m;
  m.observe_overhead(0.001);
  m.observe_overhead(0.002);
  EXPECT_DOUBLE_EQ(m.floor_s(t), t.execute_floor_s);
  m.observe_overhead(0.004);
  EXPECT_DOUBLE_EQ(m.floor_s(t), t.execute_floor_min_s) << "5 x 4 ms is below the minimum";
  m.observe_overhead(0.1);
  EXPECT_DOUBLE_EQ(m.floor_s(t), 0.5);
  EXPECT_DOUBLE_EQ(phase_deadline_s(t, m, Phase::execute, 1e3, 1), 0.5);
  t.jitter_factor = 0;
  EXPECT_DOUBLE_EQ(m.floor_s(t), t.execute_floor_s);
}

TEST(ExecCostModel, SettingASpeedKeepsTheJitter) {
  PhaseTimeouts t;
  ExecCostModel m;
  for (double s : {0.01, 0.02, 0.06}) m.observe_overhead(s);
  m.set_speed(50);
  EXPECT_DOUBLE_EQ(m.gflops(), 50);
  EXPECT_DOUBLE_EQ(m.floor_s(t), 5 * 0.06);
  m.set_speed(0);
  EXPECT_DOUBLE_EQ(m.gflops(), 50);
}

TEST(Calibration, TheLadderStartsAtTheCanaryAndClimbsByAboutSixteenTimes) {
  const auto ladder = calibration_ladder();
  ASSERT_GE(ladder.size(), 4u);
  EXPECT_EQ(key(ladder[0]), key(default_canary()));
  for (size_t i = 1; i < ladder.size(); ++i) {
    EXPECT_TRUE(validate(ladder[i]).ok()) << key(ladder[i]);
    EXPECT_NEAR(ladder[i].flops() / ladder[i - 1].flops(), 16, 4) << key(ladder[i]);
  }
  EXPECT_LT(ladder.back().flops(), 2e9);
}

TEST(SpeedPrior, IsTheMedianRateOfEarlierProbesSoFirstCallsDoNotDragItDown) {
  // 1 GFLOP in 10 ms is 100 GFLOP/s; a first call that built a plan took 500 ms.
  std::vector<SpeedSample> s = {{1e9, 10}, {1e9, 12}, {2e9, 20}, {1e9, 500}, {1e9, 8}};
  EXPECT_NEAR(speed_prior_gflops(s), 100.0, 1e-9);
}

TEST(SpeedPrior, NeedsThreeTimedSamplesOrGivesNothing) {
  EXPECT_EQ(speed_prior_gflops({}), 0.0);
  EXPECT_EQ(speed_prior_gflops({{1e9, 10}, {1e9, 0}, {0, 10}, {1e9, 10}}), 0.0);
}

TEST(SpeedPrior, ASeededSupervisorGivesALargeProblemAShortDeadline) {
  PhaseTimeouts t;
  ExecCostModel cold(t.prior_gflops), seeded(100.0);
  const double flops = 2.4e9;  // the seed's 512x512 boundary probe
  EXPECT_GT(phase_deadline_s(t, cold, Phase::execute, flops, 1), 20.0);
  EXPECT_DOUBLE_EQ(phase_deadline_s(t, seeded, Phase::execute, flops, 1), t.execute_floor_s);
}

}  // namespace
}  // namespace convguard

int main(int argc, char** argv) { return convguard::testing::test_or_worker_main(argc, argv); }
