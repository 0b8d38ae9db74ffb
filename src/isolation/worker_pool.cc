#include "isolation/worker_pool.h"

namespace convguard {

Result<std::unique_ptr<WorkerProc>> WorkerProc::start(const SpawnOptions& so,
                                                      const EngineSpec& engine, int slot) {
  auto child = Child::spawn(so);
  if (!child.ok()) return child.status();
  std::unique_ptr<WorkerProc> w(new WorkerProc());
  w->slot_ = slot;
  w->spawned_ = std::chrono::steady_clock::now();
  w->child_ = std::move(*child);
  Message hello;
  hello.type = MsgType::hello;
  hello.spec = engine;
  // A worker that dies at once shows up as end of stream, with its exit status.
  (void)w->send(hello);
  return w;
}

void WorkerProc::set_ready() {
  if (!ready_)
    startup_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - spawned_).count();
  ready_ = true;
}

Status WorkerProc::send(const Message& m) {
  if (child_->request_fd() < 0) return Status::Io("request pipe closed");
  return write_message(child_->request_fd(), m, std::chrono::milliseconds(2000));
}

Status WorkerProc::pump() {
  child_->drain_stderr();
  return reader_.fill(child_->result_fd());
}

std::optional<ExitInfo> WorkerProc::kill(std::chrono::milliseconds wait) {
  return child_->kill_and_reap(wait);
}

std::optional<ExitInfo> WorkerProc::reap_exited(std::chrono::milliseconds wait) {
  // End of stream comes a moment before the exit is reapable; a worker that closed its
  // pipe but keeps running is killed.
  if (auto e = child_->reap_for(std::chrono::milliseconds(200))) {
    child_->drain_stderr();
    return e;
  }
  return child_->kill_and_reap(wait);
}

void WorkerProc::request_stop() {
  Message stop;
  stop.type = MsgType::stop;
  (void)write_message(child_->request_fd(), stop, std::chrono::milliseconds(100));
  child_->close_requests();
}

void WorkerProc::finish(std::chrono::milliseconds wait) {
  if (!child_->reap_for(wait)) child_->kill_and_reap(std::chrono::milliseconds(2000));
}

}  // namespace convguard
