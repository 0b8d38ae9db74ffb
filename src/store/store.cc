// The SQLite store. See store.h for the durability model.
#include "convguard/store.h"

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "store/store_sql.h"

namespace convguard {
namespace {

using sql::Db;
using sql::Stmt;
using sql::Txn;

// 'CGST': marks the file as a convguard store, so another application's database is
// refused rather than "migrated".
constexpr int kApplicationId = 0x43475354;

// Each step takes schema version N-1 to N. Never edit a released step; add one.
constexpr std::array<const char*, kStoreSchemaVersion> kMigrations = {
    // 1: runs, probes, the in-flight journal keyed by request text.
    R"(CREATE TABLE runs(id INTEGER PRIMARY KEY, command TEXT NOT NULL, engine TEXT NOT NULL,
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
         request_key TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY(run_id, request_key));)",
    // 2: sweeps store their plan (resume needs no arguments); marks name their plan entry
    // (a request may repeat) and phase; runs record the boot id (tells a dead process from a dead
    // host).
    R"(ALTER TABLE runs ADD COLUMN boot_id TEXT NOT NULL DEFAULT '';
       ALTER TABLE runs ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
       CREATE TABLE plan(run_id INTEGER NOT NULL REFERENCES runs(id), idx INTEGER NOT NULL,
         problem TEXT NOT NULL, algo TEXT NOT NULL, probe_id INTEGER NOT NULL DEFAULT 0,
         PRIMARY KEY(run_id, idx)) WITHOUT ROWID;
       CREATE TABLE inflight2(run_id INTEGER NOT NULL, group_id INTEGER NOT NULL,
         request_key TEXT NOT NULL, state TEXT NOT NULL, plan_index INTEGER NOT NULL,
         phase TEXT NOT NULL DEFAULT '', PRIMARY KEY(run_id, plan_index));
       INSERT INTO inflight2 SELECT run_id, group_id, request_key, state, -rowid, '' FROM inflight;
       DROP TABLE inflight;
       ALTER TABLE inflight2 RENAME TO inflight;)",
    // 3: probes keep the implementation an algorithm name resolved to ("default" -> ...).
    R"(ALTER TABLE probes ADD COLUMN impl TEXT NOT NULL DEFAULT '';)",
    // 4: concluding commands keep their conclusions (one row per boundary: key columns and
    // the summary object), so reports print them instead of deriving them from probes.
    R"(CREATE TABLE conclusions(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),
         kind TEXT NOT NULL, problem TEXT NOT NULL, engine TEXT NOT NULL, algo TEXT NOT NULL,
         fingerprint_hash TEXT NOT NULL, axis TEXT NOT NULL, tie TEXT NOT NULL DEFAULT '',
         over TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL, confirmed INTEGER NOT NULL,
         summary TEXT NOT NULL, created INTEGER NOT NULL);
       CREATE INDEX conclusions_by_line ON conclusions(kind, problem, engine, algo, axis, tie,
         over, id);
       CREATE INDEX conclusions_by_run ON conclusions(run_id, id);)",
    // 5: verdicts keep the algorithm class they were judged with, the error over its bound
    // and whether an ok result is inexact (docs/NUMERICS.md).
    R"(ALTER TABLE probes ADD COLUMN err_class TEXT NOT NULL DEFAULT '';
       ALTER TABLE probes ADD COLUMN err_ratio REAL NOT NULL DEFAULT 0;
       ALTER TABLE probes ADD COLUMN inexact INTEGER NOT NULL DEFAULT 0;)",
};

constexpr const char* kProbeColumns =
    "id, run_id, problem, name, dir, dt, engine, algo, fingerprint_hash, outcome, phase, "
    "time_ms, max_rel_err, message, reference, worker, worker_pid, signal, exit_status, "
    "stderr_tail, wall_ms, attempt, created, impl, err_class, err_ratio, inexact";
constexpr const char* kConclusionColumns =
    "id, run_id, kind, problem, engine, algo, fingerprint_hash, axis, tie, over, outcome, "
    "confirmed, summary, created";
constexpr const char* kRunColumns =
    "id, command, engine, fingerprint, fingerprint_hash, boot_id, started, ended, status, options";

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Unknown enum text in a row means the file was written by something else or damaged.
template <class T>
Result<T> column_enum(Result<T> parsed, const char* column) {
  if (parsed.ok()) return parsed;
  return Status::Corrupt(fmt::format("store column {}: {}", column, parsed.status().message()));
}

Result<StoredProbe> read_probe(Stmt& s) {
  StoredProbe p;
  ProbeResult& r = p.result;
  p.id = s.col_int(0);
  p.run_id = s.col_int(1);
  r.problem = s.col_text(2);
  r.name = s.col_text(3);
  auto dir = column_enum(parse_dir(s.col_text(4)), "dir");
  auto dt = column_enum(parse_dt(s.col_text(5)), "dt");
  auto outcome = column_enum(parse_outcome(s.col_text(9)), "outcome");
  auto phase = column_enum(parse_phase(s.col_text(10)), "phase");
  for (const Status* st : {&dir.status(), &dt.status(), &outcome.status(), &phase.status()})
    if (!st->ok()) return *st;
  r.dir = *dir;
  r.dt = *dt;
  r.engine = s.col_text(6);
  r.algo = s.col_text(7);
  p.fingerprint_hash = s.col_text(8);
  r.outcome = *outcome;
  r.phase = *phase;
  r.time_ms = s.col_double(11);
  r.max_rel_err = s.col_double(12);
  r.message = s.col_text(13);
  r.reference = s.col_text(14);
  r.worker = static_cast<int>(s.col_int(15));
  r.worker_pid = static_cast<int>(s.col_int(16));
  r.signal = static_cast<int>(s.col_int(17));
  r.exit_status = static_cast<int>(s.col_int(18));
  r.stderr_tail = s.col_text(19);
  r.wall_ms = s.col_double(20);
  r.attempt = static_cast<int>(s.col_int(21));
  p.created_ms = s.col_int(22);
  r.impl = s.col_text(23);
  r.err_class = s.col_text(24);
  r.err_ratio = s.col_double(25);
  r.inexact = s.col_int(26) != 0;
  return p;
}

Result<RunInfo> read_run(Stmt& s) {
  RunInfo r;
  r.id = s.col_int(0);
  r.command = s.col_text(1);
  r.engine = s.col_text(2);
  r.fingerprint_json = s.col_text(3);
  r.fingerprint_hash = s.col_text(4);
  r.boot_id = s.col_text(5);
  r.started_ms = s.col_int(6);
  r.ended_ms = s.col_int(7);
  auto st = column_enum(parse_run_status(s.col_text(8)), "status");
  if (!st.ok()) return st.status();
  r.status = *st;
  r.options_json = s.col_text(9);
  return r;
}

Result<StoredConclusion> read_conclusion(Stmt& s) {
  StoredConclusion c;
  c.id = s.col_int(0);
  c.run_id = s.col_int(1);
  c.kind = s.col_text(2);
  c.problem = s.col_text(3);
  c.engine = s.col_text(4);
  c.algo = s.col_text(5);
  c.fingerprint_hash = s.col_text(6);
  c.axis = s.col_text(7);
  c.tie = s.col_text(8);
  c.over = s.col_text(9);
  auto outcome = column_enum(parse_outcome(s.col_text(10)), "outcome");
  if (!outcome.ok()) return outcome.status();
  c.outcome = *outcome;
  c.confirmed = s.col_int(11) != 0;
  c.summary_json = s.col_text(12);
  c.created_ms = s.col_int(13);
  return c;
}

template <class T, class Read>
Result<std::vector<T>> read_all(Stmt& s, Read read) {
  std::vector<T> out;
  for (;;) {
    auto row = s.step();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    auto v = read(s);
    if (!v.ok()) return v.status();
    out.push_back(std::move(*v));
  }
}

constexpr std::array kMarkStateNames = {"group", "queued", "running", "journaled"};
const char* state_name(MarkState s) { return kMarkStateNames[static_cast<size_t>(s)]; }
MarkState parse_state(const std::string& s) {
  for (size_t i = 0; i < kMarkStateNames.size(); ++i)
    if (s == kMarkStateNames[i]) return static_cast<MarkState>(i);
  return MarkState::group;  // the most cautious reading of an unknown state
}

}  // namespace

struct Store::Impl {
  Db db;
  std::string path;
  int version = 0;

  Stmt& prep(const std::string& text) { return db.prepare_cached(text); }
  Status insert_probe(int64_t run_id, const std::string& fp_hash, const ResultRecord& rec,
                      int64_t created, int64_t* id);
  Status settle(int64_t run_id, int64_t plan_index, int64_t probe_id);
  Status insert_plan(int64_t run_id, int64_t first, const std::vector<ProbeRequest>& requests);
  Status record_locked(int64_t run_id, const std::string& fp_hash,
                       const std::vector<ResultRecord>& batch, std::vector<int64_t>* ids);
};

const char* to_string(RunStatus s) {
  static constexpr std::array kNames = {"running", "done", "interrupted", "failed"};
  return kNames[static_cast<size_t>(s)];
}

Result<RunStatus> parse_run_status(std::string_view s) {
  for (RunStatus r : {RunStatus::running, RunStatus::done, RunStatus::interrupted,
                      RunStatus::failed})
    if (s == to_string(r)) return r;
  return Status::Invalid(fmt::format("invalid run status={}", s));
}

std::string fingerprint_json(const std::map<std::string, std::string>& fingerprint) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : fingerprint) j[k] = v;
  return j.dump();
}

std::string fingerprint_hash(const std::map<std::string, std::string>& fingerprint) {
  // FNV-1a 64 over "key=value\n" in key order: stable across builds and platforms.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  };
  for (const auto& [k, v] : fingerprint) {
    mix(k);
    mix("=");
    mix(v);
    mix("\n");
  }
  return fmt::format("{:016x}", h);
}

std::string current_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

// Checks what the file is before anything is written to it: a newer schema or a file
// that is not ours is refused while the file is still byte-for-byte as found.
static Status check_header(Db& db, const std::string& path, int* version) {
  // One statement, so one snapshot: read apart, a creator's migration could commit
  // between them and show tables without the id that comes with them.
  Stmt& s = db.prepare_cached(
      "SELECT (SELECT application_id FROM pragma_application_id), "
      "(SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_schema)");
  auto row = s.step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::Io(fmt::format("store {}: its header could not be read", path));
  const int64_t app = s.col_int(0), ver = s.col_int(1), tables = s.col_int(2);
  (void)s.step();  // runs to its end, which releases the snapshot
  if (app != kApplicationId && (ver != 0 || tables != 0))
    return Status::Corrupt(fmt::format("{} is an SQLite database but not a convguard store", path));
  if (ver > kStoreSchemaVersion)
    return Status::Invalid(fmt::format(
        "{} has store schema version {}, newer than version {} that this convguard knows; "
        "use a newer convguard (the file was not modified)",
        path, ver, kStoreSchemaVersion));
  *version = static_cast<int>(ver);
  return Status::Ok();
}

// A reader that finds an empty file may have come between a creator's open and its
// first migration: it waits (up to the busy timeout) for the schema to appear.
static Status wait_for_creator(Db& db, const std::string& path, int* version) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (*version == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CG_RETURN_IF_ERROR(check_header(db, path, version));
  }
  return Status::Ok();
}

// PRAGMA integrity_check; Corrupt with SQLite's report, its lines joined by "; ".
static Status check_integrity(Db& db, const std::string& path) {
  Stmt& s = db.prepare_cached("PRAGMA integrity_check");
  std::string report;
  for (;;) {
    auto row = s.step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (!report.empty()) report += "; ";
    report += s.col_text(0);
  }
  if (report == "ok") return Status::Ok();
  return Status::Corrupt(fmt::format("store {} failed the integrity check: {}", path, report));
}

// The path the user named is bad input, not a harness failure, when it cannot be a store
// file: a directory, a FIFO or device (SQLite would block or fail on it), or a missing
// file that only a reader opens.
static Status check_store_path(const std::string& path, bool read_only) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT && !read_only) return Status::Ok();
    return Status::Invalid(fmt::format("store {}: {}", path, std::strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) return Status::Invalid(fmt::format("store {}: is a directory", path));
  if (!S_ISREG(st.st_mode))
    return Status::Invalid(fmt::format("store {}: not a regular file", path));
  return Status::Ok();
}

static Status migrate(Db& db, const std::string& path, int* version) {
  if (*version == kStoreSchemaVersion) return Status::Ok();
  Txn txn(db);
  CG_RETURN_IF_ERROR(txn.begin());
  // Several processes may create one store at once: the write lock orders them, and each
  // reads the version again under it, so only the first migrates.
  CG_RETURN_IF_ERROR(check_header(db, path, version));
  if (*version == kStoreSchemaVersion) return txn.commit();
  for (int v = *version; v < kStoreSchemaVersion; ++v)
    if (auto s = db.exec(kMigrations[v]); !s.ok())
      return Status(s.code(), fmt::format("migrating the store to version {}: {}", v + 1,
                                          s.message()));
  CG_RETURN_IF_ERROR(db.exec(fmt::format("PRAGMA application_id={}; PRAGMA user_version={}",
                                         kApplicationId, kStoreSchemaVersion)));
  CG_RETURN_IF_ERROR(txn.commit());
  *version = kStoreSchemaVersion;
  return Status::Ok();
}

// WAL: readers never block the sweep, and a commit appends to the log instead of
// rewriting pages, which is what makes NORMAL cheap and a killed writer harmless.
// Checkpoints fsync the database file; at SQLite's default (every 1000 WAL pages) a
// fast sweep spends more time in them than in its own commits.
static Status set_journal(Db& db) {
  return db.exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
      "PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=8192");
}

// Journal mode and migration, retried while another process holds the lock. Processes
// that create one store at once meet SQLite's lock where its busy handler is not called
// (switching to WAL, or upgrading a read lock, is told BUSY at once to avoid a deadlock),
// so the busy timeout alone does not order them.
static Status prepare_for_writing(Db& db, const std::string& path, int* version) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int attempt = 1;; ++attempt) {
    Status s = set_journal(db);
    if (s.ok()) s = migrate(db, path, version);
    if (s.ok() || !db.busy() || std::chrono::steady_clock::now() >= until) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(5 * std::min(attempt, 20)));
  }
}

// A writer keeps SQLite's log (-wal, -shm) and the run's journal beside the store.
static Status check_directory_writable(const std::string& path) {
  const auto dir = sql::unwritable_folder(path);
  if (!dir) return Status::Ok();
  return Status::Io(
      fmt::format("store {} is in a directory this user cannot write ({}): a sweep "
                  "keeps its log and journal beside the store; nothing was written "
                  "(reports and exports only read it)",
                  path, *dir));
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path, Mode mode) {
  const bool ro = mode == Mode::read_only;
  CG_RETURN_IF_ERROR(check_store_path(path, ro));
  // A file marked read-only is a user's "do not touch", honoured even where the
  // permission check would let us write (root).
  struct stat st {};
  if (!ro && ::stat(path.c_str(), &st) == 0 && (st.st_mode & 0222) == 0)
    return Status::Io(fmt::format("store {} is read-only (mode {:o}); nothing was written", path,
                                  st.st_mode & 0777));
  if (!ro) CG_RETURN_IF_ERROR(check_directory_writable(path));
  auto db = Db::open(path, ro);
  if (!db.ok()) return db.status();
  if (!ro && db->readonly())
    return Status::Io(fmt::format("store {} is read-only (check the permissions of the file "
                                  "and its directory); nothing was written",
                                  path));
  auto impl = std::make_unique<Impl>();
  impl->db = std::move(*db);
  impl->path = path;
  CG_RETURN_IF_ERROR(check_header(impl->db, path, &impl->version));
  if (ro) CG_RETURN_IF_ERROR(wait_for_creator(impl->db, path, &impl->version));
  // A damaged store is refused before anything is written to it.
  if (!ro && impl->version > 0) {
    if (Status s = check_integrity(impl->db, path); !s.ok())
      return Status(s.code(), s.message() + "; nothing was written to it");
  }
  if (ro) {
    if (impl->version < kStoreSchemaVersion)
      return Status::Invalid(fmt::format("{} has store schema version {}; open it read-write "
                                         "once to migrate it to version {}",
                                         path, impl->version, kStoreSchemaVersion));
    return std::unique_ptr<Store>(new Store(std::move(impl)));
  }
  CG_RETURN_IF_ERROR(prepare_for_writing(impl->db, path, &impl->version));
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;
const std::string& Store::path() const { return impl_->path; }
int Store::schema_version() const { return impl_->version; }

Result<int64_t> Store::begin_run(const RunInfo& info, const std::vector<ProbeRequest>& plan) {
  Txn txn(impl_->db);
  CG_RETURN_IF_ERROR(txn.begin());
  Stmt& s = impl_->prep(
      "INSERT INTO runs(command, engine, fingerprint, fingerprint_hash, boot_id, started, "
      "ended, status, options) VALUES(?,?,?,?,?,?,0,'running',?)");
  s.bind_all(info.command, info.engine, info.fingerprint_json, info.fingerprint_hash,
             info.boot_id, info.started_ms ? info.started_ms : now_ms(), info.options_json);
  CG_RETURN_IF_ERROR(s.run());
  const int64_t id = impl_->db.last_insert_id();
  CG_RETURN_IF_ERROR(impl_->insert_plan(id, 0, plan));
  CG_RETURN_IF_ERROR(txn.commit());
  return id;
}

Status Store::end_run(int64_t run_id, RunStatus status) {
  Stmt& s = impl_->prep("UPDATE runs SET ended=?, status=? WHERE id=?");
  s.bind_all(now_ms(), std::string(to_string(status)), run_id);
  return s.run();
}

Status Store::reopen_run(int64_t run_id, const std::string& boot_id) {
  Stmt& s = impl_->prep("UPDATE runs SET ended=0, status='running', boot_id=? WHERE id=?");
  s.bind_all(boot_id, run_id);
  return s.run();
}

Result<RunInfo> Store::get_run(int64_t run_id) {
  Stmt& s = impl_->prep(fmt::format("SELECT {} FROM runs WHERE id=?", kRunColumns));
  s.bind_all(run_id);
  auto rows = read_all<RunInfo>(s, read_run);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::Invalid(fmt::format("invalid run id={}: no such run", run_id));
  return std::move(rows->front());
}

Result<std::vector<RunInfo>> Store::list_runs() {
  Stmt& s = impl_->prep(fmt::format("SELECT {} FROM runs ORDER BY id", kRunColumns));
  return read_all<RunInfo>(s, read_run);
}

Result<int64_t> Store::append_plan(int64_t run_id, const std::vector<ProbeRequest>& requests) {
  Txn txn(impl_->db);
  CG_RETURN_IF_ERROR(txn.begin());
  Stmt& count = impl_->prep("SELECT count(*) FROM plan WHERE run_id=?");
  count.bind_all(run_id);
  auto row = count.step();
  if (!row.ok()) return row.status();
  const int64_t first = count.col_int(0);
  CG_RETURN_IF_ERROR(count.run());
  CG_RETURN_IF_ERROR(impl_->insert_plan(run_id, first, requests));
  CG_RETURN_IF_ERROR(txn.commit());
  return first;
}

Result<std::vector<PlanEntry>> Store::load_plan(int64_t run_id) {
  Stmt& s = impl_->prep("SELECT idx, problem, algo, probe_id FROM plan WHERE run_id=? ORDER BY idx");
  s.bind_all(run_id);
  return read_all<PlanEntry>(s, [](Stmt& row) -> Result<PlanEntry> {
    PlanEntry e;
    e.index = row.col_int(0);
    auto p = parse_problem(row.col_text(1));
    if (!p.ok())
      return Status::Corrupt(fmt::format("store plan entry {}: {}", e.index, p.status().message()));
    e.request = {*p, row.col_text(2)};
    e.probe_id = row.col_int(3);
    return e;
  });
}

Status Store::settle_plan(int64_t run_id,
                          const std::vector<std::pair<int64_t, int64_t>>& index_probe) {
  Txn txn(impl_->db);
  CG_RETURN_IF_ERROR(txn.begin());
  for (const auto& [idx, probe] : index_probe)
    CG_RETURN_IF_ERROR(impl_->settle(run_id, idx, probe));
  return txn.commit();
}

Status Store::Impl::insert_plan(int64_t run_id, int64_t first,
                                const std::vector<ProbeRequest>& requests) {
  Stmt& ins = prep("INSERT INTO plan(run_id, idx, problem, algo) VALUES(?,?,?,?)");
  for (size_t i = 0; i < requests.size(); ++i) {
    ins.bind_all(run_id, first + static_cast<int64_t>(i), to_string(requests[i].problem),
                 requests[i].algo);
    CG_RETURN_IF_ERROR(ins.run());
  }
  return Status::Ok();
}

Status Store::Impl::settle(int64_t run_id, int64_t plan_index, int64_t probe_id) {
  Stmt& up = prep("UPDATE plan SET probe_id=? WHERE run_id=? AND idx=?");
  up.bind_all(probe_id, run_id, plan_index);
  CG_RETURN_IF_ERROR(up.run());
  Stmt& del = prep("DELETE FROM inflight WHERE run_id=? AND plan_index=?");
  del.bind_all(run_id, plan_index);
  return del.run();
}

Result<std::optional<StoredProbe>> Store::lookup(const std::string& problem_key,
                                                 const std::string& engine,
                                                 const std::string& algo,
                                                 const std::string& fp_hash) {
  Stmt& s = impl_->prep(fmt::format(
      "SELECT {} FROM probes WHERE problem=? AND engine=? AND algo=? AND fingerprint_hash=? "
      "ORDER BY id DESC LIMIT 1",
      kProbeColumns));
  s.bind_all(problem_key, engine, algo, fp_hash);
  auto rows = read_all<StoredProbe>(s, read_probe);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<StoredProbe>();
  return std::optional<StoredProbe>(std::move(rows->front()));
}

Status Store::Impl::insert_probe(int64_t run_id, const std::string& fp_hash,
                                 const ResultRecord& rec, int64_t created, int64_t* id) {
  const ProbeResult& r = rec.result;
  Stmt& s = prep(
      "INSERT INTO probes(run_id, problem, name, dir, dt, engine, algo, fingerprint_hash, "
      "outcome, phase, time_ms, max_rel_err, message, reference, worker, worker_pid, signal, "
      "exit_status, stderr_tail, wall_ms, attempt, created, impl, err_class, err_ratio, inexact) "
      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.bind_all(run_id, r.problem, r.name, std::string(to_string(r.dir)), std::string(to_string(r.dt)),
             r.engine, r.algo, fp_hash, std::string(to_string(r.outcome)),
             std::string(to_string(r.phase)), r.time_ms, r.max_rel_err, r.message, r.reference,
             int64_t{r.worker}, int64_t{r.worker_pid}, int64_t{r.signal}, int64_t{r.exit_status},
             r.stderr_tail, r.wall_ms, int64_t{r.attempt}, created, r.impl, r.err_class,
             r.err_ratio, int64_t{r.inexact});
  CG_RETURN_IF_ERROR(s.run());
  *id = db.last_insert_id();
  return Status::Ok();
}

Status Store::Impl::record_locked(int64_t run_id, const std::string& fp_hash,
                                  const std::vector<ResultRecord>& batch,
                                  std::vector<int64_t>* ids) {
  const int64_t created = now_ms();
  for (const auto& rec : batch) {
    int64_t id = 0;
    CG_RETURN_IF_ERROR(insert_probe(run_id, fp_hash, rec, created, &id));
    if (rec.plan_index >= 0) CG_RETURN_IF_ERROR(settle(run_id, rec.plan_index, id));
    if (ids) ids->push_back(id);
  }
  return Status::Ok();
}

Result<std::vector<int64_t>> Store::record(int64_t run_id, const std::string& fp_hash,
                                           const std::vector<ResultRecord>& batch) {
  std::vector<int64_t> ids;
  if (batch.empty()) return ids;
  Txn txn(impl_->db);
  CG_RETURN_IF_ERROR(txn.begin());
  CG_RETURN_IF_ERROR(impl_->record_locked(run_id, fp_hash, batch, &ids));
  CG_RETURN_IF_ERROR(txn.commit());
  return ids;
}

Result<StoredProbe> Store::get_probe(int64_t probe_id) {
  Stmt& s = impl_->prep(fmt::format("SELECT {} FROM probes WHERE id=?", kProbeColumns));
  s.bind_all(probe_id);
  auto rows = read_all<StoredProbe>(s, read_probe);
  if (!rows.ok()) return rows.status();
  if (rows->empty())
    return Status::Invalid(fmt::format("invalid probe id={}: no such probe", probe_id));
  return std::move(rows->front());
}

Result<std::vector<StoredProbe>> Store::list_probes(const ProbeFilter& f) {
  // The latest id per key (within the run when filtered by run), then the other filters,
  // so "--outcome hang" lists keys whose latest result is a hang.
  const std::string text = fmt::format(
      "SELECT {} FROM probes WHERE id IN (SELECT max(id) FROM probes WHERE (?1 IS NULL OR "
      "run_id=?1) GROUP BY problem, engine, algo, fingerprint_hash) AND (?2='' OR engine=?2) "
      "AND (?3='' OR outcome=?3) AND (?4='' OR fingerprint_hash=?4) "
      "ORDER BY problem, engine, algo, fingerprint_hash",
      kProbeColumns);
  Stmt& s = impl_->prep(text);
  if (f.run_id) s.bind(1, *f.run_id); else s.bind_null(1);
  s.bind(2, f.engine);
  s.bind(3, std::string(f.outcome ? to_string(*f.outcome) : ""));
  s.bind(4, f.fingerprint_hash);
  return read_all<StoredProbe>(s, read_probe);
}

Result<std::vector<int64_t>> Store::record_conclusions(int64_t run_id,
                                                      const std::vector<StoredConclusion>& cs) {
  std::vector<int64_t> ids;
  Txn txn(impl_->db);
  if (auto s = txn.begin(); !s.ok()) return s;
  Stmt& ins = impl_->prep(
      "INSERT INTO conclusions(run_id, kind, problem, engine, algo, fingerprint_hash, axis, tie, "
      "over, outcome, confirmed, summary, created) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)");
  const int64_t created = now_ms();
  for (const auto& c : cs) {
    ins.bind_all(run_id, c.kind, c.problem, c.engine, c.algo, c.fingerprint_hash, c.axis, c.tie,
                 c.over, std::string(to_string(c.outcome)), int64_t{c.confirmed}, c.summary_json,
                 created);
    if (auto s = ins.run(); !s.ok()) return s;
    ids.push_back(impl_->db.last_insert_id());
  }
  if (auto s = txn.commit(); !s.ok()) return s;
  return ids;
}

Result<std::vector<StoredConclusion>> Store::list_conclusions(const ConclusionFilter& f) {
  // As list_probes: the newest per line first (within the run when filtered by run), then
  // the other filters.
  const std::string text = fmt::format(
      "SELECT {} FROM conclusions WHERE id IN (SELECT max(id) FROM conclusions WHERE (?1 IS "
      "NULL OR run_id=?1) GROUP BY kind, problem, engine, algo, axis, tie, over) AND (?2='' OR "
      "engine=?2) AND (?3='' OR kind=?3) ORDER BY id",
      kConclusionColumns);
  Stmt& s = impl_->prep(text);
  if (f.run_id) s.bind(1, *f.run_id); else s.bind_null(1);
  s.bind(2, f.engine);
  s.bind(3, f.kind);
  return read_all<StoredConclusion>(s, read_conclusion);
}

Status Store::mark_inflight(const std::vector<InflightMark>& marks,
                            const std::vector<ResultRecord>& pending, int64_t run_id,
                            const std::string& fp_hash) {
  // FULL for this commit only: the fsync of the WAL makes the marks (and every commit
  // before them) survive a host that freezes while the group runs.
  sql::SyncScope full(impl_->db, "FULL");
  if (!full.status().ok()) return full.status();
  Txn txn(impl_->db);
  CG_RETURN_IF_ERROR(txn.begin());
  CG_RETURN_IF_ERROR(impl_->record_locked(run_id, fp_hash, pending, nullptr));
  Stmt& ins = impl_->prep(
      "INSERT OR REPLACE INTO inflight(run_id, group_id, request_key, state, plan_index, phase) "
      "VALUES(?,?,?,?,?,?)");
  for (const auto& m : marks) {
    ins.bind_all(m.run_id, m.group_id, m.request_key, std::string(state_name(m.state)),
                 m.plan_index, std::string(m.phase ? to_string(*m.phase) : ""));
    CG_RETURN_IF_ERROR(ins.run());
  }
  return txn.commit();
}

Status Store::mark_running(int64_t run_id, int64_t plan_index, std::optional<Phase> phase,
                           const std::vector<ResultRecord>& pending, const std::string& fp_hash) {
  Txn txn(impl_->db);
  CG_RETURN_IF_ERROR(txn.begin());
  CG_RETURN_IF_ERROR(impl_->record_locked(run_id, fp_hash, pending, nullptr));
  Stmt& s = impl_->prep(
      "UPDATE inflight SET state='running', phase=? WHERE run_id=? AND plan_index=?");
  s.bind_all(std::string(phase ? to_string(*phase) : ""), run_id, plan_index);
  CG_RETURN_IF_ERROR(s.run());
  return txn.commit();
}

Result<std::vector<InflightMark>> Store::inflight(int64_t run_id) {
  Stmt& s = impl_->prep(
      "SELECT run_id, group_id, plan_index, request_key, state, phase FROM inflight "
      "WHERE ?1=0 OR run_id=?1 ORDER BY run_id, plan_index");
  s.bind_all(run_id);
  return read_all<InflightMark>(s, [](Stmt& row) -> Result<InflightMark> {
    InflightMark m;
    m.run_id = row.col_int(0);
    m.group_id = row.col_int(1);
    m.plan_index = row.col_int(2);
    m.request_key = row.col_text(3);
    m.state = parse_state(row.col_text(4));
    if (auto ph = parse_phase(row.col_text(5)); ph.ok()) m.phase = *ph;
    return m;
  });
}

Status Store::clear_inflight(int64_t run_id, const std::vector<int64_t>& plan_indices) {
  Txn txn(impl_->db);
  CG_RETURN_IF_ERROR(txn.begin());
  if (plan_indices.empty()) {
    Stmt& s = impl_->prep("DELETE FROM inflight WHERE run_id=?");
    s.bind_all(run_id);
    CG_RETURN_IF_ERROR(s.run());
  }
  Stmt& del = impl_->prep("DELETE FROM inflight WHERE run_id=? AND plan_index=?");
  for (int64_t i : plan_indices) {
    del.bind_all(run_id, i);
    CG_RETURN_IF_ERROR(del.run());
  }
  return txn.commit();
}

Status Store::integrity_check() { return check_integrity(impl_->db, impl_->path); }

Status Store::checkpoint() { return impl_->db.exec("PRAGMA wal_checkpoint(TRUNCATE)"); }

}  // namespace convguard
