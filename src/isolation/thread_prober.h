// A Prober that lives on a thread of its own: every call made on it, from any thread, runs
// there, one at a time. The guard under PyTorch learns through one: convolutions arrive on
// the user's threads and autograd's, while one long-lived thread owns the supervisor and its
// workers.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "convguard/prober.h"

namespace convguard {

class ThreadProber : public Prober {
 public:
  /// Starts the thread and builds the inner prober there with `make`; `name` is its
  /// engine_name() (asked without a round trip).
  ThreadProber(std::function<std::unique_ptr<Prober>()> make, std::string name);
  /// Destroys the inner prober on its thread, then joins it.
  ~ThreadProber() override;

  bool reports_dispatch() const override { return true; }
  Result<std::vector<std::string>> algorithms(const Problem& p) override;
  Result<std::map<std::string, std::string>> fingerprint() override;
  std::string engine_name() const override { return name_; }
  /// The thread the inner prober runs on.
  std::thread::id thread_id() const { return thread_.get_id(); }

 private:
  Status do_run(const std::vector<ProbeRequest>& requests, const ResultCallback& on_result,
                const DispatchCallback& on_dispatch) override;
  /// Runs `task` on the thread and waits for it.
  void call(const std::function<void()>& task);
  void loop(const std::function<std::unique_ptr<Prober>()>& make);

  std::string name_;
  std::unique_ptr<Prober> inner_;  ///< touched only on the thread
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace convguard
