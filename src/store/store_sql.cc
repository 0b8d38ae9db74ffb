#include "store/store_sql.h"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>

namespace convguard::sql {

Status status_from(int rc, sqlite3* db, const std::string& path, const std::string& what) {
  const std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
      return Status::Corrupt(
          fmt::format("{} is not a convguard store ({}); it was left as it is", path, detail));
    case SQLITE_CORRUPT:
      return Status::Corrupt(fmt::format("store {} is damaged ({}) while {}; it was left as it is",
                                         path, detail, what));
    case SQLITE_READONLY:
      return Status::Io(fmt::format("store {} is read-only ({}) while {}", path, detail, what));
    default:
      return Status::Io(fmt::format("store {}: {} while {}", path, detail, what));
  }
}

Stmt::Stmt(sqlite3* db, const std::string& path, const std::string& text) : db_(db), path_(path) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db, text.c_str(), static_cast<int>(text.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  stmt_.reset(raw);
  if (rc != SQLITE_OK) error_ = status_from(rc, db, path, "preparing a statement");
}

void Stmt::reset() {
  if (!stmt_) return;
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

void Stmt::bind(int i, int64_t v) {
  if (stmt_ && error_.ok()) {
    if (int rc = sqlite3_bind_int64(stmt_.get(), i, v); rc != SQLITE_OK)
      error_ = status_from(rc, db_, path_, "binding a value");
  }
}

void Stmt::bind(int i, double v) {
  if (stmt_ && error_.ok()) {
    if (int rc = sqlite3_bind_double(stmt_.get(), i, v); rc != SQLITE_OK)
      error_ = status_from(rc, db_, path_, "binding a value");
  }
}

void Stmt::bind(int i, const std::string& v) {
  if (stmt_ && error_.ok()) {
    int rc = sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()),
                               SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) error_ = status_from(rc, db_, path_, "binding a value");
  }
}

void Stmt::bind_null(int i) {
  if (stmt_ && error_.ok()) sqlite3_bind_null(stmt_.get(), i);
}

Result<bool> Stmt::step() {
  if (!error_.ok() || !stmt_) {
    Status e = error_.ok() ? Status::Io("empty statement") : error_;
    // Binding errors belong to one use of the statement; preparation errors stay.
    if (stmt_) error_ = Status::Ok();
    return e;
  }
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  sqlite3_reset(stmt_.get());
  if (rc == SQLITE_DONE) return false;
  return status_from(rc, db_, path_, "running a statement");
}

Status Stmt::run() {
  for (;;) {
    auto row = step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
  }
}

int64_t Stmt::col_int(int c) const { return sqlite3_column_int64(stmt_.get(), c); }
double Stmt::col_double(int c) const { return sqlite3_column_double(stmt_.get(), c); }
std::string Stmt::col_text(int c) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), c));
  return p ? std::string(p, sqlite3_column_bytes(stmt_.get(), c)) : std::string();
}

// A reader of a WAL store needs its -shm file, which it cannot create in a directory it
// may not write (an archived store, read-only media, another user's run). Without a WAL
// that holds commits, the database file alone is the whole store: SQLite may then read it
// as immutable, with no -shm and no locks. A WAL that exists is read the usual way.
static bool needs_immutable(const std::string& path) {
  if (!unwritable_folder(path)) return false;
  std::error_code ec;
  const auto wal = std::filesystem::file_size(path + "-wal", ec);
  return ec || wal == 0;
}

std::optional<std::string> unwritable_folder(const std::string& path) {
  std::error_code ec;
  const auto dir = std::filesystem::absolute(path, ec).parent_path();
  if (ec || ::access(dir.c_str(), W_OK) == 0 || (errno != EACCES && errno != EROFS))
    return std::nullopt;
  return dir.string();
}

std::string file_uri(const std::string& path, const std::string& query) {
  std::string out = "file:";
  for (unsigned char c : std::filesystem::absolute(path).string()) {
    if (c == '%' || c == '?' || c == '#' || c == '\'' || c < 0x21 || c > 0x7e)
      out += fmt::format("%{:02X}", c);
    else
      out += static_cast<char>(c);
  }
  return out + "?" + query;
}

Result<Db> Db::open(const std::string& path, bool read_only, bool uri) {
  sqlite3* raw = nullptr;
  int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              (uri ? SQLITE_OPEN_URI : 0);
  std::string name = path;
  if (read_only && !uri && needs_immutable(path)) {
    name = file_uri(path, "immutable=1");
    flags |= SQLITE_OPEN_URI;
  }
  int rc = sqlite3_open_v2(name.c_str(), &raw, flags, nullptr);
  Db db;
  db.db_.reset(raw);
  db.path_ = path;
  if (rc != SQLITE_OK) {
    Status s = status_from(rc, raw, path, "opening it");
    return Status::Io(fmt::format("cannot open store {}: {}", path,
                                  raw ? sqlite3_errmsg(raw) : s.message()));
  }
  sqlite3_extended_result_codes(raw, 1);
  // Another process (a report, a second sweep) may hold the write lock briefly.
  sqlite3_busy_timeout(raw, 5000);
  return db;
}

Db::~Db() {
  cache_.clear();
}

bool Db::readonly() const { return sqlite3_db_readonly(db_.get(), "main") == 1; }

bool Db::busy() const {
  const int rc = sqlite3_extended_errcode(db_.get()) & 0xff;
  return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

Status Db::exec(const std::string& text) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  if (rc == SQLITE_OK) return Status::Ok();
  return status_from(rc, db_.get(), path_, "running '" + text.substr(0, 60) + "'");
}

Result<int64_t> Db::query_int(const std::string& text) {
  Stmt s(db_.get(), path_, text);
  auto row = s.step();
  if (!row.ok()) return row.status();
  return *row ? s.col_int(0) : 0;
}

Stmt& Db::prepare_cached(const std::string& text) {
  auto it = cache_.find(text);
  if (it == cache_.end())
    it = cache_.emplace(text, std::make_unique<Stmt>(db_.get(), path_, text)).first;
  return *it->second;
}

Txn::~Txn() {
  if (open_) (void)db_.exec("ROLLBACK");  // nothing to report from a destructor
}

Status Txn::begin() {
  // IMMEDIATE takes the write lock now, so a busy store fails here and not at COMMIT.
  Status s = db_.exec("BEGIN IMMEDIATE");
  open_ = s.ok();
  return s;
}

Status Txn::commit() {
  Status s = db_.exec("COMMIT");
  if (s.ok()) open_ = false;
  return s;
}

SyncScope::SyncScope(Db& db, const char* level) : db_(db) {
  status_ = db_.exec(fmt::format("PRAGMA synchronous={}", level));
}

SyncScope::~SyncScope() {
  if (status_.ok()) (void)db_.exec("PRAGMA synchronous=NORMAL");
}

}  // namespace convguard::sql
