#include "convguard/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "testing/temp_dir.h"

namespace convguard {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_test_dir("cg_store_test");
    path_ = (dir_ / "runs.db").string();
  }
  void TearDown() override {
    ::chmod(path_.c_str(), 0644);
    fs::remove_all(dir_);
  }

  std::unique_ptr<Store> open_ok() {
    auto s = Store::open(path_);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? std::move(*s) : nullptr;
  }

  static std::string bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // Runs SQL on the file directly, as another program (or an older convguard) would.
  void raw_exec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  fs::path dir_;
  std::string path_;
};

ProbeResult result(const std::string& problem, const std::string& algo, Outcome o,
                   const std::string& engine = "sim") {
  ProbeResult r;
  r.problem = problem;
  r.engine = engine;
  r.algo = algo;
  r.outcome = o;
  r.phase = o == Outcome::hang ? Phase::execute : Phase::verify;
  r.message = "m";
  return r;
}

RunInfo run_info() {
  RunInfo r;
  r.command = "convguard sweep --db x";
  r.engine = "sim";
  r.fingerprint_json = fingerprint_json({{"device", "fake"}});
  r.fingerprint_hash = fingerprint_hash({{"device", "fake"}});
  return r;
}

TEST_F(StoreTest, CreatesTheCurrentSchemaInANewFile) {
  auto store = open_ok();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->schema_version(), kStoreSchemaVersion);
  EXPECT_TRUE(store->integrity_check().ok());
  auto runs = store->list_runs();
  ASSERT_TRUE(runs.ok());
  EXPECT_TRUE(runs->empty());
}

TEST_F(StoreTest, KeepsRunsProbesAndPlansAcrossReopening) {
  int64_t run = 0, probe = 0;
  {
    auto store = open_ok();
    run = *store->begin_run(run_info());
    auto p = parse_problem("mb1ic16ih44oc32kh3ph1");
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(store->append_plan(run, {{*p, "default"}}).ok());
    auto ids = store->record(run, "fp", {{0, result(key(*p), "default", Outcome::hang)}});
    ASSERT_TRUE(ids.ok()) << ids.status().to_string();
    probe = ids->at(0);
    ASSERT_TRUE(store->end_run(run, RunStatus::done).ok());
  }
  auto store = open_ok();
  auto r = store->get_run(run);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, RunStatus::done);
  EXPECT_GT(r->ended_ms, 0);
  auto p = store->get_probe(probe);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->result.outcome, Outcome::hang);
  EXPECT_EQ(p->result.phase, Phase::execute);
  auto plan = store->load_plan(run);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->size(), 1u);
  EXPECT_EQ(plan->at(0).probe_id, probe);
  EXPECT_EQ(plan->at(0).request.problem.ih, 44);
}

TEST_F(StoreTest, MigratesAVersionOneStoreAndKeepsItsRows) {
  // Version 1 as released: no plan table, no boot id, marks keyed by request text only.
  raw_exec(R"(CREATE TABLE runs(id INTEGER PRIMARY KEY, command TEXT NOT NULL, engine TEXT NOT NULL,
         fingerprint TEXT NOT NULL, fingerprint_hash TEXT NOT NULL, started INTEGER NOT NULL,
         ended INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL);
       CREATE TABLE probes(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),
         problem TEXT NOT NULL, name TEXT NOT NULL DEFAULT '', dir TEXT NOT NULL, dt TEXT NOT NULL,
         engine TEXT NOT NULL, algo TEXT NOT NULL, fingerprint_hash TEXT NOT NULL,
         outcome TEXT NOT NULL, phase TEXT NOT NULL, time_ms REAL NOT NULL DEFAULT 0,
         max_rel_err REAL NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',
         reference TEXT NOT NULL DEFAULT '', worker INTEGER NOT NULL DEFAULT -1,
         worker_pid INTEGER NOT NULL DEFAULT 0, signal INTEGER NOT NULL DEFAULT 0,
         exit_status INTEGER NOT NULL DEFAULT -1, stderr_tail TEXT NOT NULL DEFAULT '',
         wall_ms REAL NOT NULL DEFAULT 0, attempt INTEGER NOT NULL DEFAULT 1,
         created INTEGER NOT NULL);
       CREATE INDEX probes_by_key ON probes(problem, engine, algo, fingerprint_hash, id);
       CREATE INDEX probes_by_run ON probes(run_id, id);
       CREATE TABLE inflight(run_id INTEGER NOT NULL, group_id INTEGER NOT NULL,
         request_key TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY(run_id, request_key));
       INSERT INTO runs VALUES(1, 'old', 'sim', '{}', 'fp', 5, 6, 'done');
       INSERT INTO probes(run_id, problem, dir, dt, engine, algo, fingerprint_hash, outcome, phase,
         created) VALUES(1, 'P', 'FWD_D', 'f32', 'sim', 'default', 'fp', 'wrong', 'verify', 7);
       INSERT INTO inflight VALUES(1, 1, 'P default', 'queued');
       PRAGMA application_id=1128747860; PRAGMA user_version=1;)");
  auto store = open_ok();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->schema_version(), kStoreSchemaVersion);
  auto run = store->get_run(1);
  ASSERT_TRUE(run.ok()) << run.status().to_string();
  EXPECT_EQ(run->command, "old");
  EXPECT_EQ(run->boot_id, "");
  auto hit = store->lookup("P", "sim", "default", "fp");
  ASSERT_TRUE(hit.ok());
  ASSERT_TRUE(hit->has_value());
  EXPECT_EQ((*hit)->result.outcome, Outcome::wrong);
  auto marks = store->inflight(1);
  ASSERT_TRUE(marks.ok());
  ASSERT_EQ(marks->size(), 1u);
  EXPECT_LT(marks->at(0).plan_index, 0);  // a version 1 mark names no plan entry
  EXPECT_TRUE(store->append_plan(1, {}).ok());  // the plan table exists now
  EXPECT_TRUE(store->integrity_check().ok());
}

StoredConclusion boundary_conclusion(const std::string& problem, const std::string& over,
                                     bool confirmed) {
  StoredConclusion c;
  c.problem = problem;
  c.engine = "sim";
  c.algo = "default";
  c.fingerprint_hash = "fp";
  c.axis = "ih";
  c.tie = "iw";
  c.over = over;
  c.outcome = Outcome::hang;
  c.confirmed = confirmed;
  c.summary_json = R"({"axis":"ih","largest_ok":42,"first_failing":44,"confirmed":true})";
  return c;
}

TEST_F(StoreTest, ARecordedConclusionReadsBackAfterReopening) {
  int64_t run = 0, id = 0;
  {
    auto store = open_ok();
    run = *store->begin_run(run_info());
    auto ids = store->record_conclusions(run, {boundary_conclusion("P", "", true)});
    ASSERT_TRUE(ids.ok()) << ids.status().to_string();
    id = ids->at(0);
  }
  auto store = open_ok();
  auto cs = store->list_conclusions();
  ASSERT_TRUE(cs.ok()) << cs.status().to_string();
  ASSERT_EQ(cs->size(), 1u);
  const StoredConclusion& c = cs->at(0);
  EXPECT_EQ(c.id, id);
  EXPECT_EQ(c.run_id, run);
  EXPECT_EQ(c.kind, "boundary");
  EXPECT_EQ(c.problem, "P");
  EXPECT_EQ(c.engine, "sim");
  EXPECT_EQ(c.algo, "default");
  EXPECT_EQ(c.fingerprint_hash, "fp");
  EXPECT_EQ(c.axis, "ih");
  EXPECT_EQ(c.tie, "iw");
  EXPECT_EQ(c.outcome, Outcome::hang);
  EXPECT_TRUE(c.confirmed);
  EXPECT_EQ(c.summary_json, boundary_conclusion("P", "", true).summary_json);
  EXPECT_GT(c.created_ms, 0);
}

TEST_F(StoreTest, ListsTheNewestConclusionPerLineWithFilters) {
  auto store = open_ok();
  int64_t r1 = *store->begin_run(run_info());
  int64_t r2 = *store->begin_run(run_info());
  ASSERT_TRUE(store->record_conclusions(r1, {boundary_conclusion("P", "ic=16", false),
                                             boundary_conclusion("P", "ic=32", false)})
                  .ok());
  ASSERT_TRUE(store->record_conclusions(r2, {boundary_conclusion("P", "ic=16", true)}).ok());
  auto all = store->list_conclusions();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(all->at(0).over, "ic=32");  // oldest first
  EXPECT_EQ(all->at(1).over, "ic=16");
  EXPECT_TRUE(all->at(1).confirmed);  // the later run's
  ConclusionFilter first;
  first.run_id = r1;
  auto of_r1 = store->list_conclusions(first);
  ASSERT_TRUE(of_r1.ok());
  ASSERT_EQ(of_r1->size(), 2u);
  EXPECT_FALSE(of_r1->at(0).confirmed);
  ConclusionFilter other;
  other.engine = "onednn";
  EXPECT_TRUE(store->list_conclusions(other)->empty());
  other = {};
  other.kind = "shrink";
  EXPECT_TRUE(store->list_conclusions(other)->empty());
}

TEST_F(StoreTest, MigratesAVersionThreeStoreAndThenKeepsConclusions) {
  int64_t run = 0;
  {
    auto store = open_ok();
    run = *store->begin_run(run_info());
    ASSERT_TRUE(store->record(run, "fp", {{-1, result("P", "default", Outcome::hang)}}).ok());
  }
  // Version 3 as released is version 5 without the conclusions table and its indices
  // (version 4) and without the verdict columns (version 5).
  raw_exec(
      "DROP TABLE conclusions; ALTER TABLE probes DROP COLUMN err_class; "
      "ALTER TABLE probes DROP COLUMN err_ratio; ALTER TABLE probes DROP COLUMN inexact; "
      "PRAGMA user_version=3;");
  auto ro = Store::open(path_, Store::Mode::read_only);
  ASSERT_FALSE(ro.ok()) << "a read-only open does not migrate";
  {
    auto store = open_ok();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->schema_version(), kStoreSchemaVersion);
    auto hit = store->lookup("P", "sim", "default", "fp");
    ASSERT_TRUE(hit.ok() && hit->has_value());
    EXPECT_EQ((*hit)->result.outcome, Outcome::hang);
    EXPECT_TRUE(store->list_conclusions()->empty());
    ASSERT_TRUE(store->record_conclusions(run, {boundary_conclusion("P", "", true)}).ok());
    EXPECT_TRUE(store->integrity_check().ok());
  }
  auto store = Store::open(path_, Store::Mode::read_only);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  auto cs = (*store)->list_conclusions();
  ASSERT_TRUE(cs.ok()) << cs.status().to_string();
  ASSERT_EQ(cs->size(), 1u);
  EXPECT_EQ(cs->at(0).run_id, run);
  EXPECT_TRUE(cs->at(0).confirmed);
}

TEST_F(StoreTest, RefusesANewerSchemaAndLeavesTheFileUntouched) {
  { open_ok(); }
  raw_exec("PRAGMA user_version=99");
  const std::string before = bytes(path_);
  auto s = Store::open(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kInvalid);
  EXPECT_NE(s.status().message().find("99"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find(std::to_string(kStoreSchemaVersion)), std::string::npos);
  EXPECT_EQ(bytes(path_), before);
}

TEST_F(StoreTest, RefusesToWriteAReadOnlyFileButReadsIt) {
  {
    auto store = open_ok();
    ASSERT_TRUE(store->begin_run(run_info()).ok());
  }
  ASSERT_EQ(::chmod(path_.c_str(), 0444), 0);
  const std::string before = bytes(path_);
  auto s = Store::open(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kIo);
  EXPECT_NE(s.status().message().find("read-only"), std::string::npos) << s.status().message();
  EXPECT_EQ(bytes(path_), before);
  auto ro = Store::open(path_, Store::Mode::read_only);
  ASSERT_TRUE(ro.ok()) << ro.status().to_string();
  auto runs = (*ro)->list_runs();
  ASSERT_TRUE(runs.ok()) << runs.status().to_string();
  EXPECT_EQ(runs->size(), 1u);
}

TEST_F(StoreTest, RefusesAGarbageFileAndDoesNotOverwriteIt) {
  std::mt19937 rng(7);
  std::string garbage(8192, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  std::ofstream(path_, std::ios::binary) << garbage;
  auto s = Store::open(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kCorrupt);
  EXPECT_NE(s.status().message().find(path_), std::string::npos) << s.status().message();
  EXPECT_EQ(bytes(path_), garbage);
  EXPECT_FALSE(fs::exists(path_ + "-wal"));
}

TEST_F(StoreTest, RefusesADamagedStoreBeforeWritingAnything) {
  {
    auto store = open_ok();
    const int64_t run = *store->begin_run(run_info());
    std::vector<ResultRecord> batch;
    for (int i = 0; i < 3000; ++i)
      batch.push_back({-1, result("P" + std::to_string(i), "default", Outcome::ok)});
    ASSERT_TRUE(store->record(run, "fp", batch).ok());
    ASSERT_TRUE(store->checkpoint().ok());
  }
  // Zeroes a page in the middle of the file: the header still reads, the tree does not.
  std::string data = bytes(path_);
  const size_t page = 4096, pages = data.size() / page;
  ASSERT_GT(pages, 8u);
  std::fill_n(data.begin() + static_cast<ptrdiff_t>(page * (pages / 2)), page, '\0');
  std::ofstream(path_, std::ios::binary | std::ios::trunc) << data;
  auto s = Store::open(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kCorrupt) << s.status().to_string();
  EXPECT_NE(s.status().message().find(path_), std::string::npos) << s.status().message();
  EXPECT_EQ(bytes(path_), data);
}

TEST_F(StoreTest, StoresCreatedAtOnceByManyProcessesAllOpenAndOneMigrates) {
  constexpr int kProcs = 6;
  std::vector<pid_t> pids;
  for (int i = 0; i < kProcs; ++i) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Writers create the file; readers (a report at that moment) find it, maybe empty,
      // and wait for its schema.
      const bool reader = i % 3 == 2;
      for (int wait = 0; reader && !fs::exists(path_) && wait < 2000; ++wait) usleep(1000);
      auto store = Store::open(path_, reader ? Store::Mode::read_only : Store::Mode::read_write);
      if (!store.ok())
        std::fprintf(stderr, "child %d: %s\n", i, store.status().to_string().c_str());
      _exit(store.ok() && (*store)->schema_version() == kStoreSchemaVersion ? 0 : 1);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st;
  }
  auto store = open_ok();
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->integrity_check().ok());
}

// As root, a child that has become `nobody` finds the directory read-only; as anyone else,
// the directory's mode does it.
TEST_F(StoreTest, InADirectoryItMayNotWriteAReaderOpensAndAWriterIsToldWhy) {
  {
    auto store = open_ok();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->begin_run(run_info()).ok());
  }
  ASSERT_FALSE(fs::exists(path_ + "-wal")) << "a clean close folds the log into the file";
  ASSERT_EQ(::chmod(dir_.c_str(), 0555), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
    if (::access(dir_.c_str(), W_OK) == 0) _exit(4);
    auto writer = Store::open(path_);
    if (writer.ok() || writer.status().message().find(dir_.string()) == std::string::npos) _exit(5);
    auto store = Store::open(path_, Store::Mode::read_only);
    if (!store.ok()) std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
    _exit(!store.ok() ? 1 : (*store)->list_runs()->size() == 1 ? 0 : 2);
  }
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ::chmod(dir_.c_str(), 0755);
  ASSERT_TRUE(WIFEXITED(st)) << st;
  EXPECT_EQ(WEXITSTATUS(st), 0)
      << "1: not opened, 2: runs not read, 3: setuid, 4: dir writable, 5: a writer was not "
         "told about the directory";
  EXPECT_FALSE(fs::exists(path_ + "-shm")) << "nothing was written beside it";
}

TEST_F(StoreTest, AStoreWhosePathHoldsUriCharactersOpens) {
  path_ = (dir_ / "a?b#c%41.db").string();
  {
    auto store = open_ok();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->begin_run(run_info()).ok());
  }
  auto store = Store::open(path_, Store::Mode::read_only);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  EXPECT_EQ((*store)->list_runs()->size(), 1u);
  EXPECT_TRUE(fs::exists(path_));
}

TEST_F(StoreTest, APathThatCannotBeAStoreIsInvalidInputNamingIt) {
  const std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  const std::string missing = (dir_ / "missing.db").string();
  for (const auto& [path, mode] :
       std::vector<std::pair<std::string, Store::Mode>>{{dir_.string(), Store::Mode::read_write},
                                                        {dir_.string(), Store::Mode::read_only},
                                                        {fifo, Store::Mode::read_write},
                                                        {missing, Store::Mode::read_only}}) {
    auto s = Store::open(path, mode);
    ASSERT_FALSE(s.ok()) << path;
    EXPECT_EQ(s.status().code(), Code::kInvalid) << s.status().to_string();
    EXPECT_NE(s.status().message().find(path), std::string::npos) << s.status().message();
  }
  EXPECT_FALSE(fs::exists(missing));
}

TEST_F(StoreTest, RefusesAnotherApplicationsDatabase) {
  raw_exec("CREATE TABLE photos(id INTEGER PRIMARY KEY, blob BLOB)");
  const std::string before = bytes(path_);
  auto s = Store::open(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kCorrupt);
  EXPECT_NE(s.status().message().find("not a convguard store"), std::string::npos);
  EXPECT_EQ(bytes(path_), before);
}

TEST_F(StoreTest, ReusesTheLatestResultForTheSameFingerprintOnly) {
  auto store = open_ok();
  int64_t run = *store->begin_run(run_info());
  ASSERT_TRUE(store->record(run, "fpA", {{-1, result("P", "default", Outcome::hang)}}).ok());
  ASSERT_TRUE(store->record(run, "fpA", {{-1, result("P", "default", Outcome::ok)}}).ok());
  auto hit = store->lookup("P", "sim", "default", "fpA");
  ASSERT_TRUE(hit.ok() && hit->has_value());
  EXPECT_EQ((*hit)->result.outcome, Outcome::ok);
  auto other_fp = store->lookup("P", "sim", "default", "fpB");
  ASSERT_TRUE(other_fp.ok());
  EXPECT_FALSE(other_fp->has_value());
  auto other_algo = store->lookup("P", "sim", "winograd", "fpA");
  ASSERT_TRUE(other_algo.ok());
  EXPECT_FALSE(other_algo->has_value());
}

TEST_F(StoreTest, KeepsAVerdictsClassErrorOverBoundAndInexactness) {
  auto store = open_ok();
  int64_t run = *store->begin_run(run_info());
  ProbeResult r = result("P", "fwd.FFT.fma", Outcome::ok, "cudnn");
  r.err_class = "fft", r.err_ratio = 0.004, r.inexact = true;
  ASSERT_TRUE(store->record(run, "fp", {{-1, r}}).ok());
  auto hit = store->lookup("P", "cudnn", "fwd.FFT.fma", "fp");
  ASSERT_TRUE(hit.ok() && hit->has_value());
  EXPECT_EQ((*hit)->result.err_class, "fft");
  EXPECT_EQ((*hit)->result.err_ratio, 0.004);
  EXPECT_TRUE((*hit)->result.inexact);
}

TEST_F(StoreTest, ListsTheLatestResultPerKeyWithFilters) {
  auto store = open_ok();
  int64_t r1 = *store->begin_run(run_info());
  int64_t r2 = *store->begin_run(run_info());
  ASSERT_TRUE(store->record(r1, "fp", {{-1, result("A", "default", Outcome::hang)},
                                       {-1, result("B", "default", Outcome::ok)},
                                       {-1, result("B", "default", Outcome::ok, "onednn")}})
                  .ok());
  ASSERT_TRUE(store->record(r2, "fp", {{-1, result("A", "default", Outcome::ok)}}).ok());
  auto all = store->list_probes();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ(all->at(0).result.problem, "A");
  EXPECT_EQ(all->at(0).result.outcome, Outcome::ok);  // the later run's
  EXPECT_EQ(all->at(0).run_id, r2);
  ProbeFilter by_run;
  by_run.run_id = r1;
  auto first = store->list_probes(by_run);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 3u);
  EXPECT_EQ(first->at(0).result.outcome, Outcome::hang);
  ProbeFilter hangs;
  hangs.outcome = Outcome::hang;
  EXPECT_EQ(store->list_probes(hangs)->size(), 0u);  // A's latest is ok
  ProbeFilter onednn;
  onednn.engine = "onednn";
  EXPECT_EQ(store->list_probes(onednn)->size(), 1u);
}

TEST_F(StoreTest, RemovesAMarkInTheTransactionThatRecordsItsResult) {
  auto store = open_ok();
  int64_t run = *store->begin_run(run_info());
  std::vector<ProbeRequest> plan;
  for (int i = 0; i < 3; ++i) plan.push_back({*parse_problem("mb1ic4ih8oc4kh3"), "a" + std::to_string(i)});
  ASSERT_TRUE(store->append_plan(run, plan).ok());
  EXPECT_EQ(*store->append_plan(run, plan), 3);  // appends after the first three
  std::vector<InflightMark> marks;
  for (int64_t i = 0; i < 3; ++i) {
    InflightMark m;
    m.run_id = run;
    m.group_id = 1;
    m.plan_index = i;
    m.request_key = "k" + std::to_string(i);
    marks.push_back(m);
  }
  marks[2].state = MarkState::queued;
  ASSERT_TRUE(store->mark_inflight(marks).ok());
  ASSERT_TRUE(store->mark_running(run, 2, Phase::prepare).ok());
  ASSERT_TRUE(store->record(run, "fp", {{1, result("P", "a1", Outcome::ok)}}).ok());
  auto left = store->inflight(run);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ(left->at(0).plan_index, 0);
  EXPECT_EQ(left->at(0).state, MarkState::group);
  EXPECT_EQ(left->at(1).state, MarkState::running);
  EXPECT_EQ(left->at(1).phase, Phase::prepare);
  auto loaded = store->load_plan(run);
  EXPECT_EQ(loaded->at(0).probe_id, 0);
  EXPECT_GT(loaded->at(1).probe_id, 0);
  ASSERT_TRUE(store->clear_inflight(run).ok());
  EXPECT_TRUE(store->inflight(run)->empty());
}

TEST_F(StoreTest, FingerprintHashIsStableAndOrderFree) {
  std::map<std::string, std::string> a{{"device", "x"}, {"driver", "1"}};
  EXPECT_EQ(fingerprint_hash(a), fingerprint_hash({{"driver", "1"}, {"device", "x"}}));
  EXPECT_NE(fingerprint_hash(a), fingerprint_hash({{"device", "x"}, {"driver", "2"}}));
  EXPECT_EQ(fingerprint_hash(a).size(), 16u);
}

}  // namespace
}  // namespace convguard
