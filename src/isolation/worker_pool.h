// One worker process as the supervisor sees it: a Child speaking the protocol.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "convguard/engine.h"
#include "isolation/process.h"
#include "isolation/protocol.h"

namespace convguard {

class WorkerProc {
 public:
  /// Spawns the worker command `so` as slot `slot` and sends hello naming `engine`.
  /// Requests may follow at once: the worker reads them after its engine is ready.
  static Result<std::unique_ptr<WorkerProc>> start(const SpawnOptions& so, const EngineSpec& engine,
                                                   int slot);

  int slot() const { return slot_; }
  /// A spare (slot -1) taken by a slot.
  void set_slot(int slot) { slot_ = slot; }
  pid_t pid() const { return child_->pid(); }
  /// A ready message has been seen.
  bool ready() const { return ready_; }
  /// Ready, and a spare's warm-up probe answered: a probe sent now starts at once.
  bool warm() const { return ready_ && warmup_id_ == 0; }
  /// A spare's warm-up probe whose result has not been read (0: none); its messages are
  /// the worker's own business, not a job's.
  uint64_t warmup_id() const { return warmup_id_; }
  void set_warmup_id(uint64_t id) { warmup_id_ = id; }
  /// Marks the worker ready; the first call fixes startup_s().
  void set_ready();
  /// Seconds from spawn to the first ready message; negative until then.
  double startup_s() const { return startup_s_; }

  /// Sends m; Io if the worker has closed its end or stopped reading.
  Status send(const Message& m);
  /// One read of the result pipe and a drain of stderr; then next() yields messages.
  Status pump();
  /// The next complete message, nullopt when none; Corrupt on garbage.
  Result<std::optional<Message>> next() { return reader_.next(); }
  /// The result pipe reached end of stream (the worker exited or closed it).
  bool eof() const { return reader_.eof(); }

  int result_fd() const { return child_->result_fd(); }
  int stderr_fd() const { return child_->stderr_fd(); }
  void drain_stderr() { child_->drain_stderr(); }
  std::string stderr_tail() const { return child_->stderr_tail(); }

  /// SIGKILL to the group and reap within `wait`; nullopt if it would not die.
  std::optional<ExitInfo> kill(std::chrono::milliseconds wait);
  /// Reaps a worker that has closed its pipe (it is exiting), killing it if it lingers.
  std::optional<ExitInfo> reap_exited(std::chrono::milliseconds wait);
  /// Asks the worker to exit: stop message, then end of input.
  void request_stop();
  /// SIGKILL to the group without waiting; finish() then reaps.
  void signal_kill() { child_->kill_group(); }
  /// After request_stop() or signal_kill(): the worker ends without being waited for.
  void release() { child_->release(); }
  /// Waits up to `wait` for an exit after request_stop(); kills the group otherwise.
  void finish(std::chrono::milliseconds wait);

 private:
  WorkerProc() = default;

  int slot_ = 0;
  bool ready_ = false;
  std::chrono::steady_clock::time_point spawned_;
  double startup_s_ = -1;
  uint64_t warmup_id_ = 0;
  std::unique_ptr<Child> child_;
  FrameReader reader_;
};

}  // namespace convguard
