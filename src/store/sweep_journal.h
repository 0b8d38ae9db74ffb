// The sweep journal: a small append-only file per run ("<db>.run<id>.journal") where a
// sweep's process notes, as they happen, the facts a resume needs after that process dies:
// which group it handed to the prober, which requests the prober reported dispatched, and
// each result before it reaches SQLite. One write() per fact, no fsync: the page cache
// keeps the file through the death of the process (SIGKILL, OOM, abort), not through the
// death of the host; a resume on a new boot ignores it (see sweep.h).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "convguard/outcome.h"
#include "convguard/status.h"

namespace convguard {

class SweepJournal {
 public:
  /// (group id, plan index): one hand-over of one plan entry.
  using Entry = std::pair<int64_t, int64_t>;

  /// What a journal held; lines that do not parse (a torn tail) are ignored.
  struct Contents {
    bool present = false;            ///< the file existed
    std::map<int64_t, bool> handed;  ///< group id -> whether its prober reports starts
    std::set<Entry> started;         ///< dispatches the prober reported
    std::map<Entry, ProbeResult> results;
  };

  /// The journal of run `run_id` of the store at `db_path`.
  static std::string path_for(const std::string& db_path, int64_t run_id);
  /// Reads a journal; a missing file gives Contents with present == false.
  static Result<Contents> read(const std::string& path);
  /// Opens `path` for appending, creating it, emptied.
  static Result<SweepJournal> open_empty(const std::string& path);

  SweepJournal() = default;
  SweepJournal(SweepJournal&& o) noexcept;
  SweepJournal& operator=(SweepJournal&& o) noexcept;
  ~SweepJournal();

  /// Group `group` is handed to the prober, which reports starts or not.
  Status handed(int64_t group, bool reports_starts);
  /// The prober reported entry `index` of group `group` dispatched.
  Status started(int64_t group, int64_t index);
  /// Entry `index` of group `group` finished with `r`.
  Status result(int64_t group, int64_t index, const ProbeResult& r);
  /// Deletes the file (the run left nothing in flight).
  Status remove();

 private:
  Status append(const std::string& line);
  int fd_ = -1;
  std::string path_;
};

}  // namespace convguard
