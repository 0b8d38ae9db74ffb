// Small RAII wrappers over the SQLite C API, for the store only.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "convguard/status.h"

namespace convguard::sql {

/// Maps an SQLite result code to a Status: damaged or foreign files are kCorrupt,
/// everything about files, locks and space is kIo.
Status status_from(int rc, sqlite3* db, const std::string& path, const std::string& what);

/// A prepared statement. Binding or preparation errors are kept and returned by the
/// next step()/run(), so call sites stay one line per bind.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& path, const std::string& text);

  /// Resets the statement and binds `args` to parameters 1..N.
  template <class... Args>
  void bind_all(const Args&... args) {
    reset();
    int i = 0;
    (bind(++i, args), ...);
  }
  void bind(int i, int64_t v);
  void bind(int i, double v);
  void bind(int i, const std::string& v);
  void bind_null(int i);
  /// Next row: true with a row, false at the end (the statement is then reset).
  Result<bool> step();
  /// Steps to the end, ignoring rows.
  Status run();
  int64_t col_int(int c) const;
  double col_double(int c) const;
  std::string col_text(int c) const;

 private:
  void reset();
  struct Finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
  sqlite3* db_;
  std::string path_;
  Status error_;
};

/// `path` as an SQLite URI with `query` (e.g. "mode=ro"): absolute, and every character that
/// URIs or an SQL string literal give a meaning %-escaped.
std::string file_uri(const std::string& path, const std::string& query);

/// The folder holding `path` when this user may not write in it (permissions, a read-only
/// file system); nullopt otherwise, a missing folder included (SQLite names that one).
std::optional<std::string> unwritable_folder(const std::string& path);

/// One connection, with a cache of prepared statements keyed by their text.
class Db {
 public:
  /// Opens (read-only, or read-write and creating) without reading anything yet. With
  /// `uri`, ATTACH takes "file:...?mode=ro" names (a `path` starting with "file:" is one).
  static Result<Db> open(const std::string& path, bool read_only, bool uri = false);
  Db() = default;
  Db(Db&&) noexcept = default;
  Db& operator=(Db&&) noexcept = default;
  ~Db();

  bool readonly() const;
  /// Whether the last failed call failed on another connection's lock (SQLITE_BUSY or
  /// SQLITE_LOCKED), which a later attempt may not meet.
  bool busy() const;
  Status exec(const std::string& text);
  /// The first column of the first row (0 when there is none).
  Result<int64_t> query_int(const std::string& text);
  Stmt& prepare_cached(const std::string& text);
  int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_.get()); }

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  // The connection is declared first so that it is closed after the cached statements.
  std::unique_ptr<sqlite3, Close> db_;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> cache_;
  std::string path_;
};

/// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted.
class Txn {
 public:
  explicit Txn(Db& db) : db_(db) {}
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  Status begin();
  Status commit();

 private:
  Db& db_;
  bool open_ = false;
};

/// Sets PRAGMA synchronous for a scope and restores NORMAL after it.
class SyncScope {
 public:
  SyncScope(Db& db, const char* level);
  ~SyncScope();
  SyncScope(const SyncScope&) = delete;
  SyncScope& operator=(const SyncScope&) = delete;
  const Status& status() const { return status_; }

 private:
  Db& db_;
  Status status_;
};

}  // namespace convguard::sql
