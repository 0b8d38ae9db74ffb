#include "convguard/merge.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "convguard/store.h"

namespace convguard {
namespace {

namespace fs = std::filesystem;

class Merge : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cg_merge_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // A store with one sweep of `plan` (problem keys, algorithm "a") on host `host`, each
  // entry settled with `outcome` (a boundary conclusion too, when asked).
  std::string make_store(const std::string& name, const std::vector<std::string>& plan,
                         Outcome outcome, const std::string& host, bool conclusion = false) {
    auto s = Store::open(path(name));
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    RunInfo info;
    info.command = "convguard sweep --db " + name;
    info.engine = "sim";
    info.fingerprint_json = R"({"device":"card"})";
    info.fingerprint_hash = "fp1";
    info.boot_id = host;
    std::vector<ProbeRequest> requests;
    for (const auto& k : plan) requests.push_back({*parse_problem(k), "a"});
    auto run = (*s)->begin_run(info, requests);
    EXPECT_TRUE(run.ok());
    std::vector<ResultRecord> rs;
    for (size_t i = 0; i < plan.size(); ++i) {
      ProbeResult r;
      r.problem = key(requests[i].problem);
      r.engine = "sim";
      r.algo = "a";
      r.outcome = outcome;
      r.phase = Phase::verify;
      r.wall_ms = static_cast<double>(i);
      rs.push_back({static_cast<int64_t>(i), r});
    }
    EXPECT_TRUE((*s)->record(*run, "fp1", rs).ok());
    if (conclusion) {
      StoredConclusion c;
      c.problem = key(requests[0].problem), c.engine = "sim", c.algo = "a", c.axis = "ih";
      c.fingerprint_hash = "fp1", c.summary_json = "{}";
      EXPECT_TRUE((*s)->record_conclusions(*run, {c}).ok());
    }
    EXPECT_TRUE((*s)->end_run(*run, RunStatus::done).ok());
    return path(name);
  }

  static int64_t count(const std::string& db, const std::string& sql) {
    sqlite3* h = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
  }

  static std::string bytes(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  fs::path dir_;
};

const std::vector<std::string> kPlanA = {"mb1ic4ih8oc4kh3ph1", "mb1ic4ih9oc4kh3ph1"};
const std::vector<std::string> kPlanB = {"mb1ic8ih8oc4kh3ph1", "mb1ic8ih9oc4kh3ph1",
                                         "mb1ic8ih10oc4kh3ph1"};

TEST_F(Merge, KeepsEveryRunWithItsPlanProbesFingerprintAndConclusions) {
  auto a = make_store("a.db", kPlanA, Outcome::ok, "host1", true);
  auto b = make_store("b.db", kPlanB, Outcome::wrong, "host2");
  auto sum = merge_stores({a, b}, path("all.db"), false);
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  EXPECT_EQ(sum->runs, 2);
  EXPECT_EQ(sum->probes, 5);
  EXPECT_EQ(sum->conclusions, 1);
  EXPECT_EQ(sum->conflicts, 0);
  auto s = Store::open(path("all.db"), Store::Mode::read_only);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  auto runs = (*s)->list_runs();
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].command, "convguard sweep --db a.db");
  EXPECT_EQ((*runs)[1].boot_id, "host2");
  EXPECT_EQ((*runs)[1].fingerprint_json, R"({"device":"card"})");
  EXPECT_EQ((*runs)[1].status, RunStatus::done);
  // Each plan entry points at its own result, in the merged numbering.
  for (const RunInfo& r : *runs) {
    auto plan = (*s)->load_plan(r.id);
    ASSERT_TRUE(plan.ok());
    for (const PlanEntry& e : *plan) {
      ASSERT_NE(e.probe_id, 0);
      auto p = (*s)->get_probe(e.probe_id);
      ASSERT_TRUE(p.ok());
      EXPECT_EQ(p->result.problem, key(e.request.problem));
      EXPECT_EQ(p->run_id, r.id);
    }
  }
  EXPECT_EQ(count(path("all.db"), "SELECT count(*) FROM conclusions WHERE run_id=1"), 1);
  EXPECT_TRUE((*s)->integrity_check().ok());
}

TEST_F(Merge, ConflictingResultsOfOneKeyAreKeptAsAttempts) {
  auto a = make_store("a.db", kPlanA, Outcome::ok, "host1");
  auto b = make_store("b.db", {kPlanA[0]}, Outcome::hang, "host2");
  auto sum = merge_stores({a, b}, path("all.db"), false);
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  EXPECT_EQ(sum->probes, 3);
  EXPECT_EQ(sum->conflicts, 1);
  const std::string k = key(*parse_problem(kPlanA[0]));
  EXPECT_EQ(count(path("all.db"), "SELECT count(*) FROM probes WHERE problem='" + k + "'"), 2);
  auto s = Store::open(path("all.db"), Store::Mode::read_only);
  ASSERT_TRUE(s.ok());
  auto latest = (*s)->lookup(k, "sim", "a", "fp1");
  ASSERT_TRUE(latest.ok() && *latest);
  EXPECT_EQ((*latest)->result.outcome, Outcome::hang);
  EXPECT_EQ((*latest)->result.attempt, 2);
}

TEST_F(Merge, MergingAgainAddsNothing) {
  auto a = make_store("a.db", kPlanA, Outcome::ok, "host1", true);
  auto b = make_store("b.db", kPlanB, Outcome::crash, "host2");
  ASSERT_TRUE(merge_stores({a, b}, path("all.db"), false).ok());
  auto again = merge_stores({path("all.db"), a, b}, path("all.db"), true);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->runs, 2);  // into the empty output, from all.db
  EXPECT_EQ(again->probes, 5);
  EXPECT_EQ(again->duplicates, 5);
  EXPECT_EQ(again->conflicts, 0);
  EXPECT_EQ(count(path("all.db"), "SELECT count(*) FROM runs"), 2);
  EXPECT_EQ(count(path("all.db"), "SELECT count(*) FROM probes"), 5);
  EXPECT_EQ(count(path("all.db"), "SELECT count(*) FROM conclusions"), 1);
}

TEST_F(Merge, InputsAreLeftByteForByte) {
  auto a = make_store("a.db", kPlanA, Outcome::ok, "host1");
  auto b = make_store("b.db", kPlanB, Outcome::ok, "host2");
  const std::string before_a = bytes(a), before_b = bytes(b);
  ASSERT_TRUE(merge_stores({a, b}, path("all.db"), false).ok());
  EXPECT_EQ(bytes(a), before_a);
  EXPECT_EQ(bytes(b), before_b);
}

TEST_F(Merge, AnExistingOutputIsReplacedOnlyWhenAsked) {
  auto a = make_store("a.db", kPlanA, Outcome::ok, "host1");
  std::ofstream(path("all.db")) << "mine";
  auto s = merge_stores({a}, path("all.db"), false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kInvalid);
  EXPECT_NE(s.status().message().find("--force"), std::string::npos);
  EXPECT_EQ(bytes(path("all.db")), "mine");
  ASSERT_TRUE(merge_stores({a}, path("all.db"), true).ok());
  EXPECT_EQ(count(path("all.db"), "SELECT count(*) FROM probes"), 2);
}

TEST_F(Merge, AFailedMergeLeavesTheOutputAsItWasAndNoTemporaryFile) {
  auto a = make_store("a.db", kPlanA, Outcome::ok, "host1");
  std::ofstream(path("junk.db")) << "not a store, not even SQLite";
  ASSERT_TRUE(merge_stores({a}, path("all.db"), false).ok());
  const std::string before = bytes(path("all.db"));
  auto s = merge_stores({a, path("junk.db")}, path("all.db"), true);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("junk.db"), std::string::npos) << s.status().message();
  EXPECT_EQ(bytes(path("all.db")), before);
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace convguard
