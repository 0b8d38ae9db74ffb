// libFuzzer: rows read back from a store that something else wrote. The input fills the
// text columns of one probe, one run and one plan entry of a store; every read of them
// must give a value or a status.
#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "convguard/store.h"

namespace {

// The input as NUL-separated fields (missing ones empty).
std::vector<std::string> fields(const uint8_t* data, size_t size, size_t n) {
  std::vector<std::string> out(n);
  size_t f = 0;
  for (size_t i = 0; i < size && f < n; ++i) {
    if (data[i] == 0)
      ++f;
    else
      out[f] += static_cast<char>(data[i]);
  }
  return out;
}

const std::string& store_path() {
  static const std::string path = [] {
    const std::string p = "/tmp/convguard_fuzz_store_" + std::to_string(::getpid()) + ".db";
    ::unlink(p.c_str());
    auto s = convguard::Store::open(p);
    if (!s.ok()) std::abort();
    return p;
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace convguard;
  const auto f = fields(data, size, 8);
  // The JSON a protocol or a journal carries, too.
  auto j = nlohmann::json::parse(f[0], nullptr, false);
  if (!j.is_discarded()) (void)probe_result_from_json(j);

  sqlite3* db = nullptr;
  if (sqlite3_open(store_path().c_str(), &db) != SQLITE_OK) std::abort();
  // No fsync per input: the file is scratch, and synced writes made this ~4 inputs a second.
  sqlite3_exec(db, "PRAGMA synchronous=OFF", nullptr, nullptr, nullptr);
  sqlite3_exec(db,
               "DELETE FROM probes; DELETE FROM plan; DELETE FROM inflight; "
               "DELETE FROM conclusions; DELETE FROM runs;",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(
      db,
      "INSERT INTO runs(id, command, engine, fingerprint, fingerprint_hash, started, "
      "status, options) VALUES(1, 'c', ?1, ?2, 'h', 0, ?3, ?4)",
      -1, &st, nullptr);
  for (int i = 0; i < 4; ++i)
    sqlite3_bind_text(st, i + 1, f[i].c_str(), static_cast<int>(f[i].size()), SQLITE_TRANSIENT);
  sqlite3_step(st);
  sqlite3_finalize(st);
  sqlite3_prepare_v2(db,
                     "INSERT INTO probes(run_id, problem, dir, dt, engine, algo, fingerprint_hash, "
                     "outcome, phase, created) VALUES(1, ?1, ?2, ?3, 'e', 'a', 'h', ?4, ?5, 0)",
                     -1, &st, nullptr);
  for (int i = 0; i < 5; ++i)
    sqlite3_bind_text(st, i + 1, f[i + 3].c_str(), static_cast<int>(f[i + 3].size()),
                      SQLITE_TRANSIENT);
  sqlite3_step(st);
  sqlite3_finalize(st);
  sqlite3_prepare_v2(db, "INSERT INTO plan(run_id, idx, problem, algo) VALUES(1, 0, ?1, 'a')", -1,
                     &st, nullptr);
  sqlite3_bind_text(st, 1, f[7].c_str(), static_cast<int>(f[7].size()), SQLITE_TRANSIENT);
  sqlite3_step(st);
  sqlite3_finalize(st);
  sqlite3_close(db);

  auto store = Store::open(store_path(), Store::Mode::read_only);
  if (!store.ok()) return 0;
  (void)(*store)->list_runs();
  (void)(*store)->list_probes();
  (void)(*store)->load_plan(1);
  (void)(*store)->inflight(1);
  return 0;
}
