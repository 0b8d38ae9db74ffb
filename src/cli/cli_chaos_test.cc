// Chaos: a sweep with hangs, crashes and wrong results, SIGKILLed at seeded random points
// and resumed each time. The store stays sound, nothing finished runs again, each kill
// leaves at most one suspect per worker, and after --retry-suspects the table is the one
// an uninterrupted sweep gives. CG_CHAOS_KILLS sets the number of kills (the soak test
// takes 100).
#include <fcntl.h>
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
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "convguard/store.h"

extern char** environ;

#include "testing/temp_dir.h"

namespace convguard {
namespace {

namespace fs = std::filesystem;

// ic 8 hangs at ih 13, 26, 39, 52, ic 4 crashes at ih 14, 28, 42, 56, every ih 11, 22, 33,
// 44, 55 is wrong.
constexpr const char* kQuirks = R"({"name": "chaos", "rules": [
  {"when": {"ic": 8, "ih": [[13, 13], [26, 26], [39, 39], [52, 52]]}, "effect": "hang"},
  {"when": {"ic": 4, "ih": [[14, 14], [28, 28], [42, 42], [56, 56]]}, "effect": "crash"},
  {"when": {"ih": [[11, 11], [22, 22], [33, 33], [44, 44], [55, 55]]}, "effect": "wrong"}]})";
constexpr int kJobs = 2;

class Chaos : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_test_dir("cg_chaos");
    std::ofstream(dir_ / "chaos.json") << kQuirks;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> new_sweep(const std::string& db) const {
    return {"sweep",
            "--db",
            db,
            "--engine",
            "sim",
            "--base",
            "ref",
            "--quirks",
            (dir_ / "chaos.json").string(),
            "--jobs",
            std::to_string(kJobs),
            "--timeout-exec",
            "1",
            "--grid",
            "ic=4,8,12 ih=8:72 oc=4 kh=3 ph=1",
            "--dir",
            "FWD_D,BWD_D"};
  }
  pid_t spawn(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {CONVGUARD_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    const std::string log = (dir_ / "sweep.log").string();
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t pid = 0;
    EXPECT_EQ(posix_spawn(&pid, raw[0], &fa, nullptr, raw.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
  }
  // The exit status, or -1 when it was killed after `ms`.
  int run_for(const std::vector<std::string>& args, int ms) const {
    const pid_t pid = spawn(args);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    int st = 0;
    while (std::chrono::steady_clock::now() < until) {
      if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
  }
  std::unique_ptr<Store> open(const std::string& db) const {
    auto s = Store::open(db, Store::Mode::read_only);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? std::move(*s) : nullptr;
  }
  // problem -> outcomes of all its probes, oldest first (list_probes gives the latest only).
  std::map<std::string, std::vector<std::string>> table(const std::string& db) const {
    std::map<std::string, std::vector<std::string>> out;
    sqlite3* h = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(h, "SELECT problem, outcome FROM probes ORDER BY id", -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW)
      out[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))].push_back(
          reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return out;
  }
  size_t suspects(const std::string& db) const {
    size_t n = 0;
    for (const auto& [problem, outcomes] : table(db)) n += std::count(outcomes.begin(), outcomes.end(), "suspect");
    return n;
  }
  std::string log() const {
    std::ifstream in(dir_ / "sweep.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  fs::path dir_;
};

TEST_F(Chaos, KilledAndResumedSweepsEndWithTheUninterruptedTable) {
  const char* env = std::getenv("CG_CHAOS_KILLS");
  const int kills = env ? std::atoi(env) : 10;
  const std::string ref = (dir_ / "ref.db").string(), db = (dir_ / "chaos.db").string();
  ASSERT_NE(run_for(new_sweep(ref), 300000), -1) << log();

  std::mt19937 rng(20261202);
  std::uniform_int_distribution<int> delay_ms(40, 900);
  int killed = 0;
  size_t suspects_before = 0;
  bool done = false;
  for (int i = 0; i < kills && !done; ++i) {
    const bool started = fs::exists(db) && !open(db)->list_runs()->empty();
    const int rc =
        run_for(started ? std::vector<std::string>{"sweep", "--db", db, "--resume"} : new_sweep(db),
                delay_ms(rng));
    if (rc >= 0) {
      // The sweep ended by itself: exit 1 (failures found) is its normal end here.
      ASSERT_LE(rc, 1) << log();
      done = true;
      break;
    }
    ++killed;
    ASSERT_TRUE(open(db)->integrity_check().ok());
    const size_t suspects = this->suspects(db);
    // The next resume turns this kill's marks into suspects; the one before, its own.
    EXPECT_LE(suspects, suspects_before + kJobs) << "kill " << killed;
    suspects_before = std::max(suspects_before, suspects);
  }
  if (!done) {
    ASSERT_LE(run_for({"sweep", "--db", db, "--resume"}, 300000), 1) << log();
  }
  ASSERT_LE(run_for({"sweep", "--db", db, "--resume", "--retry-suspects"}, 300000), 1) << log();
  ASSERT_TRUE(open(db)->integrity_check().ok());

  const auto want = table(ref), got = table(db);
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [problem, outcomes] : got) {
    ASSERT_EQ(want.at(problem).size(), 1u);
    EXPECT_EQ(outcomes.back(), want.at(problem).back()) << problem;
    // Nothing finished ran again: a second probe only follows a suspect.
    for (size_t i = 0; i + 1 < outcomes.size(); ++i)
      EXPECT_EQ(outcomes[i], "suspect") << problem << " ran again after a verdict";
  }
  const size_t suspects = this->suspects(db);
  EXPECT_LE(suspects, static_cast<size_t>(killed) * kJobs);
  std::printf("chaos: %d kills, %zu suspects, %zu problems\n", killed, suspects, got.size());
}

}  // namespace
}  // namespace convguard
