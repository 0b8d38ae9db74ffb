// merge_stores: see include/convguard/merge.h. Each input is attached read-only to the
// temporary output and copied with INSERT ... SELECT, its run and probe ids mapped to new
// ones through temporary tables.
#include "convguard/merge.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "convguard/store.h"
#include "store/store_sql.h"

namespace convguard {
namespace {

namespace fs = std::filesystem;
using sql::Db;

constexpr const char* kProbeCopyColumns =
    "problem, name, dir, dt, engine, algo, fingerprint_hash, outcome, phase, time_ms, "
    "max_rel_err, message, reference, worker, worker_pid, signal, exit_status, stderr_tail, "
    "wall_ms, {attempt}, created, impl, err_class, err_ratio, inexact";

// The same key (problem, engine, algorithm, fingerprint) in q as in p.
constexpr const char* kSameKey =
    "q.problem=p.problem AND q.engine=p.engine AND q.algo=p.algo AND "
    "q.fingerprint_hash=p.fingerprint_hash";
// The same probe: its key, its run (mapped) and what one recording of it measured.
constexpr const char* kSameProbe =
    "q.run_id={run} AND q.created=p.created AND q.outcome=p.outcome AND q.phase=p.phase AND "
    "q.wall_ms=p.wall_ms AND q.worker_pid=p.worker_pid";

// The runs of `src`: found in the output (same start, command, boot, engine, fingerprint)
// or added; temp.run_map maps their ids.
Status copy_runs(Db& db, MergeSummary* sum) {
  CG_RETURN_IF_ERROR(
      db.exec("CREATE TEMP TABLE run_map(old INTEGER PRIMARY KEY, new INTEGER);"
              "INSERT INTO temp.run_map SELECT r.id, (SELECT m.id FROM main.runs m WHERE "
              "m.started=r.started AND m.command=r.command AND m.boot_id=r.boot_id AND "
              "m.engine=r.engine AND m.fingerprint_hash=r.fingerprint_hash ORDER BY m.id LIMIT 1) "
              "FROM src.runs r"));
  auto fresh = db.query_int("SELECT count(*) FROM temp.run_map WHERE new IS NULL");
  if (!fresh.ok()) return fresh.status();
  sum->runs += *fresh;
  // New runs in the input's order; the row number keeps that order in the new ids.
  return db.exec(
      "CREATE TEMP TABLE new_runs AS SELECT old, (SELECT coalesce(max(id), 0) FROM main.runs) + "
      "row_number() OVER (ORDER BY old) AS id FROM temp.run_map WHERE new IS NULL;"
      "INSERT INTO main.runs(id, command, engine, fingerprint, fingerprint_hash, boot_id, "
      "started, ended, status, options) SELECT n.id, r.command, r.engine, r.fingerprint, "
      "r.fingerprint_hash, r.boot_id, r.started, r.ended, r.status, r.options FROM temp.new_runs "
      "n JOIN src.runs r ON r.id=n.old ORDER BY n.id;"
      "UPDATE temp.run_map SET new=(SELECT id FROM temp.new_runs n WHERE n.old=run_map.old) "
      "WHERE new IS NULL;"
      "DROP TABLE temp.new_runs");
}

// The probes of `src`, each compared with the output before any is added; temp.probe_map
// maps their ids (to the copy, or to the probe already there).
Status copy_probes(Db& db, MergeSummary* sum) {
  const std::string same_probe = fmt::format(fmt::runtime(kSameProbe), fmt::arg("run", "m.new"));
  CG_RETURN_IF_ERROR(db.exec(fmt::format(
      "CREATE TEMP TABLE incoming AS SELECT p.*, m.new AS new_run, "
      "EXISTS(SELECT 1 FROM main.probes q WHERE {0} AND q.run_id!=m.new AND "
      "q.outcome!=p.outcome) AS conflict, "
      "(SELECT max(q.attempt) FROM main.probes q WHERE {0}) AS prev_attempt, "
      "(SELECT q.id FROM main.probes q WHERE {0} AND {1} ORDER BY q.id LIMIT 1) AS existing "
      "FROM src.probes p JOIN temp.run_map m ON m.old=p.run_id",
      kSameKey, same_probe)));
  auto dup = db.query_int("SELECT count(*) FROM temp.incoming WHERE existing IS NOT NULL");
  auto conflicts =
      db.query_int("SELECT count(*) FROM temp.incoming WHERE existing IS NULL AND conflict");
  auto added = db.query_int("SELECT count(*) FROM temp.incoming WHERE existing IS NULL");
  for (const Status* s : {&dup.status(), &conflicts.status(), &added.status()})
    if (!s->ok()) return *s;
  sum->duplicates += *dup;
  sum->conflicts += *conflicts;
  sum->probes += *added;
  const std::string cols =
      fmt::format(fmt::runtime(kProbeCopyColumns), fmt::arg("attempt", "attempt"));
  const std::string values = fmt::format(
      fmt::runtime(kProbeCopyColumns),
      fmt::arg("attempt",
               "CASE WHEN conflict THEN max(attempt, prev_attempt + 1) ELSE attempt END"));
  return db.exec(fmt::format(
      "CREATE TEMP TABLE probe_map(old INTEGER PRIMARY KEY, new INTEGER NOT NULL);"
      "INSERT INTO temp.probe_map SELECT id, (SELECT coalesce(max(id), 0) FROM main.probes) + "
      "row_number() OVER (ORDER BY id) FROM temp.incoming WHERE existing IS NULL;"
      "INSERT INTO temp.probe_map SELECT id, existing FROM temp.incoming WHERE existing IS NOT "
      "NULL;"
      "INSERT INTO main.probes(id, run_id, {0}) SELECT (SELECT new FROM temp.probe_map WHERE "
      "old=i.id), new_run, {1} FROM temp.incoming i WHERE existing IS NULL ORDER BY id;"
      "DROP TABLE temp.incoming",
      cols, values));
}

// Plans (entries settled by the copy where the output's are open), in-flight marks of
// entries still open, conclusions not already there.
Status copy_rest(Db& db, MergeSummary* sum) {
  CG_RETURN_IF_ERROR(db.exec(
      "INSERT OR IGNORE INTO main.plan(run_id, idx, problem, algo, probe_id) SELECT m.new, "
      "e.idx, e.problem, e.algo, coalesce(pm.new, 0) FROM src.plan e JOIN temp.run_map m ON "
      "m.old=e.run_id LEFT JOIN temp.probe_map pm ON pm.old=e.probe_id;"
      "UPDATE main.plan AS t SET probe_id=pm.new FROM src.plan e JOIN temp.run_map m ON "
      "m.old=e.run_id JOIN temp.probe_map pm ON pm.old=e.probe_id WHERE t.run_id=m.new AND "
      "t.idx=e.idx AND t.probe_id=0;"
      "INSERT OR IGNORE INTO main.inflight(run_id, group_id, request_key, state, plan_index, "
      "phase) SELECT m.new, f.group_id, f.request_key, f.state, f.plan_index, f.phase FROM "
      "src.inflight f JOIN temp.run_map m ON m.old=f.run_id WHERE NOT EXISTS (SELECT 1 FROM "
      "main.plan t WHERE t.run_id=m.new AND t.idx=f.plan_index AND t.probe_id!=0)"));
  const char* fresh =
      "FROM src.conclusions c JOIN temp.run_map m ON m.old=c.run_id WHERE NOT EXISTS (SELECT 1 "
      "FROM main.conclusions q WHERE q.run_id=m.new AND q.kind=c.kind AND q.problem=c.problem "
      "AND q.engine=c.engine AND q.algo=c.algo AND q.axis=c.axis AND q.tie=c.tie AND "
      "q.over=c.over AND q.created=c.created)";
  auto n = db.query_int(fmt::format("SELECT count(*) {}", fresh));
  if (!n.ok()) return n.status();
  sum->conclusions += *n;
  return db.exec(fmt::format(
      "INSERT INTO main.conclusions(run_id, kind, problem, engine, algo, fingerprint_hash, axis, "
      "tie, over, outcome, confirmed, summary, created) SELECT m.new, c.kind, c.problem, "
      "c.engine, c.algo, c.fingerprint_hash, c.axis, c.tie, c.over, c.outcome, c.confirmed, "
      "c.summary, c.created {} ORDER BY c.id;"
      "DROP TABLE temp.run_map; DROP TABLE temp.probe_map",
      fresh));
}

Status merge_one(Db& db, const std::string& input, MergeSummary* sum) {
  // Through the store first: the input must be a sound convguard store of this schema.
  {
    auto in = Store::open(input, Store::Mode::read_only);
    if (!in.ok()) return in.status();
    CG_RETURN_IF_ERROR((*in)->integrity_check());
  }
  CG_RETURN_IF_ERROR(db.exec(fmt::format("ATTACH '{}' AS src", sql::file_uri(input, "mode=ro"))));
  sql::Txn txn(db);
  Status s = txn.begin();
  if (s.ok()) s = copy_runs(db, sum);
  if (s.ok()) s = copy_probes(db, sum);
  if (s.ok()) s = copy_rest(db, sum);
  if (s.ok()) s = txn.commit();
  if (!s.ok()) return Status(s.code(), fmt::format("merging {}: {}", input, s.message()));
  return db.exec("DETACH src");
}

Status sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Status::Io(fmt::format("cannot open {} to sync it", path));
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Status::Io(fmt::format("cannot sync {}", path));
}

Status build(const std::vector<std::string>& inputs, const std::string& tmp, MergeSummary* sum) {
  {
    auto created = Store::open(tmp);  // the schema, through the store's own migrations
    if (!created.ok()) return created.status();
  }
  auto db = Db::open(tmp, false, true);
  if (!db.ok()) return db.status();
  CG_RETURN_IF_ERROR(db->exec("PRAGMA foreign_keys=ON; PRAGMA journal_mode=WAL"));
  for (const auto& in : inputs) CG_RETURN_IF_ERROR(merge_one(*db, in, sum));
  // One self-contained file to rename: no write-ahead log beside it.
  CG_RETURN_IF_ERROR(db->exec("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE"));
  return Status::Ok();
}

// A log beside `out` would be replayed into the new file on its next open.
Status check_no_log(const std::string& out) {
  std::error_code ec;
  const std::string wal = out + "-wal";
  if (fs::exists(wal, ec) && fs::file_size(wal, ec) > 0)
    return Status::Invalid(fmt::format(
        "{} has a write-ahead log ({}): it is open, or its writer died; open it once with "
        "`convguard report --db {}` after its writer ended, then merge again",
        out, wal, out));
  fs::remove(wal, ec);
  fs::remove(out + "-shm", ec);
  return Status::Ok();
}

}  // namespace

Result<MergeSummary> merge_stores(const std::vector<std::string>& inputs, const std::string& out,
                                  bool overwrite) {
  if (inputs.empty()) return Status::Invalid("merge needs at least one input store");
  std::error_code ec;
  if (fs::exists(out, ec) && !overwrite)
    return Status::Invalid(fmt::format(
        "invalid -o={}: the file exists; give --force to replace it (it may be one of the "
        "inputs)",
        out));
  if (fs::is_directory(out, ec))
    return Status::Invalid(fmt::format("invalid -o={}: is a directory", out));
  const std::string tmp = fmt::format("{}.merge-{}.tmp", out, ::getpid());
  auto cleanup = [&tmp] {
    std::error_code e;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(tmp + suffix, e);
  };
  cleanup();
  MergeSummary sum;
  Status s = build(inputs, tmp, &sum);
  if (s.ok()) s = sync_path(tmp, O_RDONLY);
  if (s.ok()) s = check_no_log(out);
  if (s.ok() && std::rename(tmp.c_str(), out.c_str()) != 0)
    s = Status::Io(fmt::format("cannot rename {} to {}", tmp, out));
  if (!s.ok()) {
    cleanup();
    return s;
  }
  const fs::path dir = fs::absolute(out).parent_path();
  CG_RETURN_IF_ERROR(sync_path(dir.string(), O_RDONLY | O_DIRECTORY));
  return sum;
}

}  // namespace convguard
