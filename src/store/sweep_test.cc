#include "convguard/sweep.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "store/sweep_journal.h"
#include "testing/fake_probers.h"
#include "testing/temp_dir.h"

extern char** environ;

namespace convguard {
namespace {

namespace fs = std::filesystem;

// A prober whose probes take a few milliseconds, with outcomes fixed by the problem, and
// some of which hang (never return) while hanging is on. It appends "S <key>" when a
// probe starts, "E <key>" when it ends and "R <n>" per run() call to a side file, with
// unbuffered appends so that a SIGKILL loses nothing written.
class FakeProber : public testing::FakeProberBase {
 public:
  /// `reports`: whether it announces dispatches (as the Supervisor does).
  FakeProber(std::string side, bool hang, bool reports = false)
      : side_(std::move(side)), hang_(hang), reports_(reports) {}

  static bool hangs(const Problem& p) { return p.ic == 8 && p.ih % 13 == 0; }
  static Outcome outcome_of(const Problem& p) {
    if (hangs(p)) return Outcome::ok;  // when not hanging
    if (p.ih % 11 == 0) return Outcome::wrong;
    if (p.ih % 7 == 0 && p.ic == 4) return Outcome::crash;
    return Outcome::ok;
  }

  bool reports_dispatch() const override { return reports_; }
  Status do_run(const std::vector<ProbeRequest>& requests, const ResultCallback& on_result,
                const DispatchCallback& on_dispatch) override {
    note("R " + std::to_string(requests.size()));
    for (size_t i = 0; i < requests.size(); ++i) {
      const Problem& p = requests[i].problem;
      if (reports_ && on_dispatch) on_dispatch(i);
      note("S " + key(p));
      if (++executions == kill_at) raise(SIGKILL);
      while (hang_ && hangs(p)) std::this_thread::sleep_for(std::chrono::seconds(1));
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us_ + 500 * (p.ih % 4)));
      ProbeResult r;
      r.problem = key(p);
      r.dir = p.dir;
      r.dt = p.dt;
      r.engine = engine_name();
      r.algo = requests[i].algo;
      r.outcome = outcome_of(p);
      r.phase = r.outcome == Outcome::ok ? Phase::verify : Phase::execute;
      r.message = r.outcome == Outcome::ok ? "" : "fake " + std::string(to_string(r.outcome));
      note("E " + key(p));
      on_result(i, r);
    }
    return Status::Ok();
  }

  int executions = 0;
  int delay_us_ = 1000;
  int kill_at = 0;  ///< the process kills itself when this execution starts (0: never)

 private:
  void note(const std::string& line) {
    if (side_.empty()) return;
    FILE* f = std::fopen(side_.c_str(), "a");
    std::fprintf(f, "%s\n", line.c_str());
    std::fclose(f);
  }
  std::string side_;
  bool hang_;
  bool reports_;
};

std::string fmt_descriptor(int ic, int ih) {
  return "mb1ic" + std::to_string(ic) + "ih" + std::to_string(ih) + "oc" + std::to_string(ic) +
         "kh3ph1";
}

std::vector<ProbeRequest> requests() {
  std::vector<ProbeRequest> out;
  for (int ic : {4, 8, 12})
    for (int ih = 8; ih < 68; ++ih) {
      Problem base;
      base.dir = Dir::FWD_D;
      auto p = parse_descriptor(fmt_descriptor(ic, ih), base);
      out.push_back({*p, "default"});
    }
  return out;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The child's side of the kill tests: one sweep (new, resume or retry) of requests().
TEST(SweepChild, RunsOneSweepWhenAskedByTheParent) {
  const std::string db = env("CG_SWEEP_DB");
  if (db.empty()) GTEST_SKIP() << "run by the kill tests in a child process";
  auto store = Store::open(db);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  SweepOptions opt;
  opt.boot_id = env("CG_SWEEP_BOOT");
  opt.retry_suspects = env("CG_SWEEP_MODE") == "retry";
  if (!env("CG_SWEEP_GROUP").empty()) opt.group_size = std::stoul(env("CG_SWEEP_GROUP"));
  if (!env("CG_SWEEP_BATCH_MS").empty()) {
    opt.batch_ms = std::stod(env("CG_SWEEP_BATCH_MS"));
    opt.batch_max = 1000;
  }
  FakeProber fake(env("CG_SWEEP_SIDE"), env("CG_SWEEP_HANG") == "1",
                  env("CG_SWEEP_REPORTS") == "1");
  if (!env("CG_SWEEP_KILL_AT").empty()) fake.kill_at = std::stoi(env("CG_SWEEP_KILL_AT"));
  // As a script would: start the sweep unless one was started (it may have been killed
  // before its run was committed), else resume it unless it finished (the kill may have
  // landed after that).
  auto runs = (*store)->list_runs();
  ASSERT_TRUE(runs.ok());
  if (!runs->empty() && runs->back().status == RunStatus::done && !opt.retry_suspects) return;
  auto sp = runs->empty()
                ? StoreProber::create(**store, fake, "sweep", "{}", opt, plan_sweep(requests()))
                : StoreProber::resume(**store, fake, 0, opt);
  ASSERT_TRUE(sp.ok()) << sp.status().to_string();
  ASSERT_TRUE((*sp)->run_plan({}).ok());
  ASSERT_TRUE((*sp)->finish(RunStatus::done).ok());
}

class SweepKill : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_test_dir("cg_sweep_test");
    db_ = (dir_ / "sweep.db").string();
    side_ = (dir_ / "side.txt").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  pid_t spawn(const std::map<std::string, std::string>& vars) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
    for (const auto& [k, v] : vars) env_strings.push_back(k + "=" + v);
    env_strings.push_back("CG_SWEEP_DB=" + db_);
    env_strings.push_back("CG_SWEEP_SIDE=" + side_);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string self = fs::read_symlink("/proc/self/exe");
    std::string filter = "--gtest_filter=SweepChild.*";
    char* argv[] = {self.data(), filter.data(), nullptr};
    pid_t pid = 0;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string log = (dir_ / "child.log").string();
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_EQ(posix_spawn(&pid, self.c_str(), &fa, nullptr, argv, envp.data()), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
  }
  // Waits up to `ms`; true if the child exited by itself (with status 0).
  bool wait_or_kill(pid_t pid, int ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    int st = 0;
    while (std::chrono::steady_clock::now() < until) {
      if (waitpid(pid, &st, WNOHANG) == pid) {
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "child status " << st << ":\n"
                                                            << child_log();
        return true;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    std::ofstream(side_, std::ios::app) << "K\n";
    return false;
  }
  // Waits until the child starts one more probe (true) or exits (false: it had none left).
  bool wait_for_a_start(pid_t pid) {
    const size_t before = started();
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < until) {
      if (started() > before) return true;
      siginfo_t info{};
      if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid)
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }
  // Probe starts the children have noted so far.
  size_t started() {
    const auto lines = side_lines();
    return static_cast<size_t>(std::count_if(
        lines.begin(), lines.end(), [](const std::string& l) { return l.rfind("S ", 0) == 0; }));
  }
  std::string child_log() {
    std::ifstream in(dir_ / "child.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::vector<std::string> side_lines() {
    std::ifstream in(side_);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  // key -> outcome of the latest result per key of the latest run.
  std::map<std::string, StoredProbe> final_table(const std::string& db) {
    auto store = Store::open(db);
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    std::map<std::string, StoredProbe> out;
    auto probes = (*store)->list_probes();
    EXPECT_TRUE(probes.ok());
    for (auto& p : *probes) out[p.result.problem] = p;
    return out;
  }
  std::map<std::string, StoredProbe> reference_table() {
    const std::string ref = (dir_ / "ref.db").string();
    auto store = Store::open(ref);
    FakeProber fake("", false);
    fake.delay_us_ = 0;
    auto sp = StoreProber::create(**store, fake, "ref", "{}", {});
    EXPECT_TRUE((*sp)->add_plan(plan_sweep(requests())).ok());
    EXPECT_TRUE((*sp)->run_plan({}).ok());
    EXPECT_TRUE((*sp)->finish(RunStatus::done).ok());
    return final_table(ref);
  }

  void kill_and_resume(bool reports, int kills, uint32_t seed);

  fs::path dir_;
  std::string db_, side_;
};

void SweepKill::kill_and_resume(bool reports, int kills, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_ms(5, 60);
  const std::string r = reports ? "1" : "0";
  int killed = 0;
  bool finished = false;
  for (int i = 0; i < kills && !finished; ++i) {
    pid_t pid = spawn({{"CG_SWEEP_MODE", i == 0 ? "new" : "resume"},
                       {"CG_SWEEP_HANG", "1"},
                       {"CG_SWEEP_REPORTS", r},
                       {"CG_SWEEP_BOOT", "boot-1"}});
    // Most kills land while the sweep runs, a few milliseconds after a probe starts; every
    // fourth at a random moment from the spawn, which may be before the run is committed.
    // (Counting from the spawn alone, a child that starts slowly, on a loaded machine or
    // under a sanitizer, took every kill before its first probe.)
    if (rng() % 4 != 0 && !wait_for_a_start(pid)) {
      finished = wait_or_kill(pid, 30000);
      continue;
    }
    finished = wait_or_kill(pid, delay_ms(rng));
    if (!finished) ++killed;
  }
  const size_t starts_before_final = started();
  if (!finished) {
    pid_t pid =
        spawn({{"CG_SWEEP_MODE", "resume"}, {"CG_SWEEP_REPORTS", r}, {"CG_SWEEP_BOOT", "boot-1"}});
    ASSERT_TRUE(wait_or_kill(pid, 30000)) << "the final resume did not finish";
  }
  {
    auto store = Store::open(db_);
    ASSERT_TRUE(store.ok());
    EXPECT_TRUE((*store)->integrity_check().ok());
    EXPECT_TRUE((*store)->inflight()->empty());
  }

  // Nothing started twice; find what was in flight at each kill.
  std::map<std::string, int> starts, ends;
  std::set<std::string> last_started_before_kill;
  std::string last_start;
  for (const auto& l : side_lines()) {
    if (l == "K") last_started_before_kill.insert(last_start);
    if (l.rfind("S ", 0) == 0) starts[last_start = l.substr(2)]++;
    if (l.rfind("E ", 0) == 0) ends[l.substr(2)]++;
  }
  for (const auto& [k, n] : starts) {
    EXPECT_EQ(n, 1) << k << " started " << n << " times";
  }

  const auto ref = reference_table();
  auto got = final_table(db_);
  ASSERT_EQ(got.size(), ref.size());
  std::set<std::string> suspects;
  for (const auto& [k, p] : got) {
    if (p.result.outcome != Outcome::suspect) {
      EXPECT_EQ(p.result.outcome, ref.at(k).result.outcome) << k;
      EXPECT_EQ(p.result.message, ref.at(k).result.message) << k;
      continue;
    }
    suspects.insert(k);
    if (reports) {  // exact: the probe running at a kill, or the one about to start
      EXPECT_TRUE(last_started_before_kill.count(k) || starts.count(k) == 0) << k;
    }
  }
  for (const auto& [k, n] : starts)
    if (!ends.count(k)) {
      EXPECT_TRUE(suspects.count(k)) << k << " died running, not suspect";
    }
  EXPECT_LE(suspects.size(), reports ? static_cast<size_t>(killed) : killed * size_t{128});
  EXPECT_GT(killed, 0);
  std::printf("kills %d, probes started before the final resume %zu of %zu, suspects %zu\n",
              killed, starts_before_final, ref.size(), suspects.size());

  // --retry-suspects runs each suspect once more, alone, and the table is complete.
  fs::remove(side_);
  pid_t pid =
      spawn({{"CG_SWEEP_MODE", "retry"}, {"CG_SWEEP_REPORTS", r}, {"CG_SWEEP_BOOT", "boot-1"}});
  ASSERT_TRUE(wait_or_kill(pid, 30000));
  std::set<std::string> rerun;
  for (const auto& l : side_lines()) {
    if (l.rfind("R ", 0) == 0) {
      EXPECT_EQ(l, "R 1");
    }
    if (l.rfind("S ", 0) == 0) {
      EXPECT_TRUE(rerun.insert(l.substr(2)).second);
    }
  }
  EXPECT_EQ(rerun, suspects);
  got = final_table(db_);
  for (const auto& [k, p] : got) {
    EXPECT_EQ(p.result.outcome, ref.at(k).result.outcome) << k;
    if (suspects.count(k)) {
      EXPECT_EQ(p.result.attempt, 2) << k;
    }
  }
}

TEST_F(SweepKill, ResumesAfterTwentyRandomSigkillsWithExactSuspects) {
  kill_and_resume(/*reports=*/true, 20, 20261124);
}

TEST_F(SweepKill, ResumesAfterRandomSigkillsWithGroupMarksOnly) {
  kill_and_resume(/*reports=*/false, 12, 7);
}

// The process kills itself as execution `kill_at` starts, in groups of 8 whose results
// wait in memory (and the journal) until the group ends: at execution 9 the marks of
// group 3 are being committed by the other thread, at 12 three results of group 2 exist
// only in the journal, at 17 group 3 has just been handed over.
TEST_F(SweepKill, AKillWhileTheNextGroupIsMarkedLosesNoResultAndNamesTheRunningProbe) {
  for (bool reports : {true, false})
    for (int kill_at : {9, 12, 17}) {
      SCOPED_TRACE(::testing::Message()
                   << "reports dispatch " << reports << ", kill at " << kill_at);
      TearDown();
      SetUp();
      const std::map<std::string, std::string> vars = {{"CG_SWEEP_REPORTS", reports ? "1" : "0"},
                                                       {"CG_SWEEP_BOOT", "boot-1"},
                                                       {"CG_SWEEP_GROUP", "8"},
                                                       {"CG_SWEEP_BATCH_MS", "100000"}};
      auto with = [&](std::map<std::string, std::string> v) {
        v.insert(vars.begin(), vars.end());
        return v;
      };
      int st = 0;
      waitpid(spawn(with({{"CG_SWEEP_KILL_AT", std::to_string(kill_at)}})), &st, 0);
      ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << st << ": " << child_log();
      ASSERT_TRUE(wait_or_kill(spawn(with({{"CG_SWEEP_MODE", "resume"}})), 30000));
      auto store = Store::open(db_);
      ASSERT_TRUE(store.ok());
      EXPECT_TRUE((*store)->integrity_check().ok());
      EXPECT_TRUE((*store)->inflight()->empty());
      std::map<std::string, int> starts;
      for (const auto& l : side_lines())
        if (l.rfind("S ", 0) == 0) starts[l.substr(2)]++;
      for (const auto& [k, n] : starts) {
        EXPECT_EQ(n, 1) << k << " started " << n << " times";
      }
      // Suspects: the probe running at the kill, and without start reports the rest of
      // its group (handed over, so possibly started); never the group marked ahead.
      const auto plan = plan_sweep(requests());
      const size_t running = static_cast<size_t>(kill_at - 1);
      const size_t group_end = (running / 8 + 1) * 8;
      std::set<std::string> want;
      for (size_t i = running; i < (reports ? running + 1 : group_end); ++i)
        want.insert(key(plan[i].problem));
      std::set<std::string> suspects;
      for (const auto& [k, p] : final_table(db_))
        if (p.result.outcome == Outcome::suspect) suspects.insert(k);
      EXPECT_EQ(suspects, want);
      EXPECT_EQ(final_table(db_).size(), plan.size());
    }
}

// --- in-process tests of the journal's reading -------------------------------

class SweepStore : public SweepKill {
 protected:
  // A run of requests() whose process "died" with group g's marks on disk: plan entries
  // 0..4 marked (as `state`), entry 1 reported running in execute.
  int64_t died_with_marks(MarkState state) {
    auto store = Store::open(db_);
    FakeProber fake("", false);
    SweepOptions opt;
    opt.boot_id = "boot-1";
    auto sp = StoreProber::create(**store, fake, "sweep", "{}", opt);
    EXPECT_TRUE((*sp)->add_plan(plan_sweep(requests())).ok());
    const int64_t run = (*sp)->run_id();
    std::vector<InflightMark> marks;
    for (int64_t i = 0; i < 5; ++i) {
      InflightMark m;
      m.run_id = run;
      m.group_id = 9;
      m.plan_index = i;
      m.request_key = "k" + std::to_string(i);
      m.state = state;
      marks.push_back(m);
    }
    EXPECT_TRUE((*store)->mark_inflight(marks).ok());
    EXPECT_TRUE((*store)->mark_running(run, 1, Phase::execute).ok());
    return run;
  }
  std::vector<int64_t> suspects_after_resume(const std::string& boot) {
    auto store = Store::open(db_);
    FakeProber fake("", false);
    SweepOptions opt;
    opt.boot_id = boot;
    auto sp = StoreProber::resume(**store, fake, 0, opt);
    EXPECT_TRUE(sp.ok()) << sp.status().to_string();
    std::vector<int64_t> out;
    auto plan = (*store)->load_plan((*sp)->run_id());
    for (const auto& e : *plan)
      if (e.probe_id && (*store)->get_probe(e.probe_id)->result.outcome == Outcome::suspect)
        out.push_back(e.index);
    EXPECT_TRUE((*store)->inflight()->empty());
    return out;
  }
};

TEST_F(SweepStore, AfterAProcessDeathOnlyTheStartedProbeIsSuspect) {
  died_with_marks(MarkState::queued);
  EXPECT_EQ(suspects_after_resume("boot-1"), std::vector<int64_t>{1});
}

TEST_F(SweepStore, AfterAHostDeathTheWholeGroupIsSuspect) {
  died_with_marks(MarkState::queued);
  EXPECT_EQ(suspects_after_resume("boot-2"), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST_F(SweepStore, WithoutStartReportsTheWholeGroupIsSuspect) {
  died_with_marks(MarkState::group);
  EXPECT_EQ(suspects_after_resume("boot-1"), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST_F(SweepStore, JournaledMarksAreSuspectOnlyWhereTheJournalSaysTheyStarted) {
  const int64_t run = died_with_marks(MarkState::journaled);
  {
    // Group 9 handed over to a prober that reports starts; entry 3 reported, entry 4
    // finished (its batch never reached the store); group 10 was only marked ahead.
    auto j = SweepJournal::open_empty(SweepJournal::path_for(db_, run));
    ASSERT_TRUE(j.ok());
    ProbeResult r;
    r.problem = key(plan_sweep(requests())[4].problem);
    r.engine = "fake";
    r.algo = "default";
    r.max_rel_err = std::numeric_limits<double>::infinity();
    r.outcome = Outcome::wrong;
    ASSERT_TRUE(j->handed(9, true).ok());
    ASSERT_TRUE(j->started(9, 3).ok());
    ASSERT_TRUE(j->started(9, 4).ok());
    ASSERT_TRUE(j->result(9, 4, r).ok());
    ASSERT_TRUE(j->started(10, 0).ok());  // another group: not these marks
  }
  std::ofstream(SweepJournal::path_for(db_, run), std::ios::app) << "R 9 2 {\"r\":{\"pro";
  // Entry 1 was reported running in the store itself (an older sweep's way).
  EXPECT_EQ(suspects_after_resume("boot-1"), (std::vector<int64_t>{1, 3}));
  auto store = Store::open(db_);
  auto p = (*store)->get_probe((*store)->load_plan(run)->at(4).probe_id);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->result.outcome, Outcome::wrong);
  EXPECT_EQ(p->result.max_rel_err, std::numeric_limits<double>::infinity());
}

TEST_F(SweepStore, JournaledMarksAreAllSuspectWithoutAJournal) {
  const int64_t run = died_with_marks(MarkState::journaled);
  std::filesystem::remove(SweepJournal::path_for(db_, run));
  EXPECT_EQ(suspects_after_resume("boot-1"), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST_F(SweepStore, AFinishedRunLeavesNoJournal) {
  auto store = Store::open(db_);
  FakeProber fake("", false);
  fake.delay_us_ = 0;
  auto sp = StoreProber::create(**store, fake, "sweep", "{}", {});
  ASSERT_TRUE((*sp)->run(requests(), {}).ok());
  const std::string journal = SweepJournal::path_for(db_, (*sp)->run_id());
  EXPECT_TRUE(fs::exists(journal));
  ASSERT_TRUE((*sp)->finish(RunStatus::done).ok());
  EXPECT_FALSE(fs::exists(journal));
}

TEST_F(SweepStore, SuspectsKeepThePhaseFromTheJournal) {
  int64_t run = died_with_marks(MarkState::queued);
  suspects_after_resume("boot-1");
  auto store = Store::open(db_);
  auto plan = (*store)->load_plan(run);
  auto p = (*store)->get_probe(plan->at(1).probe_id);
  EXPECT_EQ(p->result.phase, Phase::execute);
  EXPECT_NE(p->result.message.find("running in execute"), std::string::npos) << p->result.message;
}

TEST_F(SweepStore, ReusesStoredResultsUnlessAskedToRerun) {
  auto store = Store::open(db_);
  FakeProber fake("", false);
  fake.delay_us_ = 0;
  for (bool rerun : {false, false, true}) {
    SweepOptions opt;
    opt.rerun = rerun;
    auto sp = StoreProber::create(**store, fake, "sweep", "{}", opt);
    std::vector<ProbeResult> got;
    ASSERT_TRUE((*sp)->run(requests(), [&](size_t, const ProbeResult& r) { got.push_back(r); }).ok());
    EXPECT_EQ(got.size(), requests().size());
    ASSERT_TRUE((*sp)->finish(RunStatus::done).ok());
  }
  EXPECT_EQ(fake.executions, 2 * static_cast<int>(requests().size()));
}

TEST_F(SweepStore, StopsBetweenGroupsAndResumeFinishesTheRest) {
  auto store = Store::open(db_);
  FakeProber fake("", false);
  fake.delay_us_ = 0;
  std::atomic<bool> stop{false};
  SweepOptions opt;
  opt.group_size = 10;
  opt.stop = &stop;
  opt.on_progress = [&](const SweepProgress& p) { if (p.done >= 25) stop = true; };
  {
    auto sp = StoreProber::create(**store, fake, "sweep", "{}", opt);
    ASSERT_TRUE((*sp)->add_plan(plan_sweep(requests())).ok());
    ASSERT_TRUE((*sp)->run_plan({}).ok());
    EXPECT_TRUE((*sp)->stopped());
    EXPECT_EQ((*sp)->progress().done, 30u);
    ASSERT_TRUE((*sp)->finish(RunStatus::interrupted).ok());
  }
  opt.stop = nullptr;
  opt.on_progress = {};
  auto sp = StoreProber::resume(**store, fake, 0, opt);
  ASSERT_TRUE(sp.ok()) << sp.status().to_string();
  ASSERT_TRUE((*sp)->run_plan({}).ok());
  EXPECT_EQ((*sp)->progress().done, requests().size());
  EXPECT_EQ((*sp)->progress().suspects, 0u);
  EXPECT_EQ(fake.executions, static_cast<int>(requests().size()));
}

TEST_F(SweepStore, RefusesToResumeARunHeldByAnotherProber) {
  auto store = Store::open(db_);
  FakeProber fake("", false);
  auto first = StoreProber::create(**store, fake, "sweep", "{}", {});
  ASSERT_TRUE((*first)->add_plan(requests()).ok());
  auto second = StoreProber::resume(**store, fake, (*first)->run_id(), {});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
}

TEST_F(SweepStore, ARunLockNeedsNoLockFileAndDiesWithItsHolder) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // the holder: a live sweep that does nothing
    auto store = Store::open(db_);
    FakeProber fake("", false);
    auto sp = StoreProber::create(**store, fake, "sweep", "{}", {}, requests());
    const int64_t id = sp.ok() ? (*sp)->run_id() : -1;
    (void)!write(ready[1], &id, sizeof id);
    pause();
    _exit(0);
  }
  close(ready[1]);
  int64_t run_id = 0;
  ASSERT_EQ(read(ready[0], &run_id, sizeof run_id), static_cast<ssize_t>(sizeof run_id));
  close(ready[0]);
  ASSERT_GT(run_id, 0);
  // A deleted lock file let a resume take over a live run: the lock is on the store itself.
  fs::remove(db_ + ".lock");
  auto store = Store::open(db_);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  FakeProber fake("", false);
  auto taken = StoreProber::resume(**store, fake, run_id, {});
  ASSERT_FALSE(taken.ok());
  EXPECT_NE(taken.status().message().find("in use"), std::string::npos) << taken.status().message();
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  auto resumed = StoreProber::resume(**store, fake, run_id, {});
  ASSERT_TRUE(resumed.ok()) << resumed.status().to_string();
  EXPECT_FALSE(fs::exists(db_ + ".lock"));
}

TEST_F(SweepStore, ARunIsFreeAgainOnceItsProberIsGone) {
  auto store = Store::open(db_);
  FakeProber fake("", false);
  int64_t id = 0;
  {
    auto first = StoreProber::create(**store, fake, "sweep", "{}", {}, requests());
    ASSERT_TRUE(first.ok());
    id = (*first)->run_id();
  }
  for (int i = 0; i < 3; ++i) {
    auto again = StoreProber::resume(**store, fake, id, {});
    ASSERT_TRUE(again.ok()) << again.status().to_string();
  }
}

TEST(PlanSweep, OrdersCheapProblemsFirstAndDropsRepeats) {
  auto reqs = requests();
  std::reverse(reqs.begin(), reqs.end());
  reqs.push_back(reqs.front());
  auto plan = plan_sweep(reqs);
  ASSERT_EQ(plan.size(), requests().size());
  for (size_t i = 1; i < plan.size(); ++i)
    EXPECT_LE(plan[i - 1].problem.flops(), plan[i].problem.flops());
}

}  // namespace
}  // namespace convguard
