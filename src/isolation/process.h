// Child processes for isolated workers: posix_spawn (never fork: the parent may hold a
// GPU runtime), a process group per child, pipes for requests and results, a bounded
// capture of the child's stderr, and a group kill that always reaps.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "convguard/status.h"
#include "convguard/worker.h"

namespace convguard {

/// Keeps the last bytes and lines written to a stream (a child's stderr).
class TailBuffer {
 public:
  explicit TailBuffer(size_t max_bytes = 8192, size_t max_lines = 40)
      : max_bytes_(max_bytes), max_lines_(max_lines) {}
  void append(const char* data, size_t n);
  /// At most max_lines lines and max_bytes bytes, most recent last.
  std::string tail() const;
  void clear() { buf_.clear(); }

 private:
  size_t max_bytes_, max_lines_;
  std::string buf_;
};

/// How a child ended.
struct ExitInfo {
  bool exited = false;  ///< exited normally with `status`
  int status = -1;
  int signal = 0;       ///< killed by this signal (0 if it exited)
  /// "exit status 3", "signal 11 (SIGSEGV)", "signal 6 (SIGABRT: abort)".
  std::string describe() const;
};
/// Decodes a waitpid status word.
ExitInfo decode_wait_status(int wstatus);
/// "SIGSEGV" for 11; "signal N" for unknown numbers.
std::string signal_name(int sig);

/// Seconds a thread has spent on a CPU and runnable but waiting for one.
struct SchedTimes {
  double run_s = 0, wait_s = 0;
};
/// SchedTimes of each thread of process `pid`, by thread id (/proc/PID/task/TID/schedstat);
/// empty when the process is gone or the kernel does not keep these.
std::map<int, SchedTimes> sched_times(pid_t pid);

struct SpawnOptions {
  std::vector<std::string> argv;                 ///< argv[0] is the executable's path
  std::map<std::string, std::string> env_set;    ///< added to (or replacing) the parent's
  size_t stderr_bytes = 8192, stderr_lines = 40;  ///< bounds of the captured tail
};

/// One spawned child, the leader of its own process group. The child's stdin is
/// /dev/null, its stdout and stderr go to the captured tail, kWorkerRequestFd/kWorkerResultFd are
/// its ends of the request and result pipes. The parent's ends are close-on-exec, so
/// later children never inherit them. Destroying a Child kills its group and reaps it.
class Child {
 public:
  /// Starts argv[0]. Io status when the pipes or the spawn fail (exec failure of a
  /// missing file shows up as exit status 127).
  static Result<std::unique_ptr<Child>> spawn(const SpawnOptions& opt);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  /// Parent's write end of the request pipe (-1 once closed).
  int request_fd() const { return req_fd_; }
  /// Parent's read end of the result pipe, non-blocking.
  int result_fd() const { return res_fd_; }
  /// Parent's read end of the stderr pipe, non-blocking (-1 after EOF).
  int stderr_fd() const { return err_fd_; }
  /// Reads whatever stderr holds now into the tail; closes the pipe on EOF.
  void drain_stderr();
  std::string stderr_tail() const { return tail_.tail(); }
  /// Closes the request pipe: a well-behaved child sees EOF and exits.
  void close_requests();

  /// SIGKILL to the whole process group (the child and anything it started).
  void kill_group();
  /// Reaps without blocking; the exit once known.
  std::optional<ExitInfo> try_reap();
  /// Waits up to `limit` for the child to end (it should already be dying).
  std::optional<ExitInfo> reap_for(std::chrono::milliseconds limit);
  /// kill_group() then reap_for(limit), draining stderr. Nullopt if the child would
  /// not die in time (stuck in the kernel, e.g. on a wedged device).
  std::optional<ExitInfo> kill_and_reap(std::chrono::milliseconds limit);
  /// True once reaped.
  bool reaped() const { return exit_.has_value(); }
  /// Leaves the child to end on its own (after a stop or a kill_group()): the destructor
  /// then only closes the pipes, and the child is reaped by whoever inherits it when this
  /// process exits. For a command that is about to exit anyway.
  void release() { released_ = true; }

 private:
  Child() = default;
  void close_fds();

  pid_t pid_ = -1;
  int req_fd_ = -1, res_fd_ = -1, err_fd_ = -1;
  TailBuffer tail_;
  std::optional<ExitInfo> exit_;
  bool released_ = false;
};

}  // namespace convguard
