#include "isolation/thread_prober.h"

#include <future>

namespace convguard {

ThreadProber::ThreadProber(std::function<std::unique_ptr<Prober>()> make, std::string name)
    : name_(std::move(name)) {
  thread_ = std::thread([this, make = std::move(make)] { loop(make); });
}

ThreadProber::~ThreadProber() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ThreadProber::loop(const std::function<std::unique_ptr<Prober>()>& make) {
  inner_ = make();
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) break;  // stopping, and nothing left to run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
  inner_.reset();  // the workers stop on the thread that started them
}

void ThreadProber::call(const std::function<void()>& task) {
  std::packaged_task<void()> job(task);
  auto done = job.get_future();
  {
    std::lock_guard lock(mu_);
    tasks_.emplace_back([&job] { job(); });
  }
  cv_.notify_one();
  done.get();
}

Result<std::vector<std::string>> ThreadProber::algorithms(const Problem& p) {
  Result<std::vector<std::string>> out = Status::Error("learner: no answer");
  call([&] { out = inner_ ? inner_->algorithms(p) : Status::Error("learner: no prober"); });
  return out;
}

Result<std::map<std::string, std::string>> ThreadProber::fingerprint() {
  Result<std::map<std::string, std::string>> out = Status::Error("learner: no answer");
  call([&] { out = inner_ ? inner_->fingerprint() : Status::Error("learner: no prober"); });
  return out;
}

Status ThreadProber::do_run(const std::vector<ProbeRequest>& requests,
                            const ResultCallback& on_result, const DispatchCallback& on_dispatch) {
  Status out = Status::Ok();
  call([&] {
    out = inner_ ? inner_->run(requests, on_result, on_dispatch) : Status::Error("learner: no prober");
  });
  return out;
}

}  // namespace convguard
