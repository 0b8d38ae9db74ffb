#include "isolation/thread_prober.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "testing/fake_probers.h"

namespace convguard {
namespace {

/// Records the thread of every call it receives, and when it was destroyed.
class ThreadRecordingProber : public testing::FakeProberBase {
 public:
  ThreadRecordingProber(std::set<std::thread::id>* threads, std::thread::id* destroyed_on)
      : threads_(threads), destroyed_on_(destroyed_on) {
    threads_->insert(std::this_thread::get_id());
  }
  ~ThreadRecordingProber() override { *destroyed_on_ = std::this_thread::get_id(); }
  Status do_run(const std::vector<ProbeRequest>& requests, const ResultCallback& on_result,
                const DispatchCallback&) override {
    threads_->insert(std::this_thread::get_id());
    for (size_t i = 0; i < requests.size(); ++i) {
      ProbeResult r;
      r.algo = requests[i].algo;
      on_result(i, r);
    }
    return Status::Ok();
  }

 private:
  std::set<std::thread::id>* threads_;
  std::thread::id* destroyed_on_;
};

TEST(ThreadProber, RunsEveryCallFromEveryThreadOnItsOwnThread) {
  std::set<std::thread::id> threads;
  std::thread::id destroyed_on, learner;
  {
    ThreadProber prober(
        [&] { return std::make_unique<ThreadRecordingProber>(&threads, &destroyed_on); }, "fake");
    learner = prober.thread_id();
    std::vector<std::thread> callers;
    std::atomic<int> results{0};
    for (int t = 0; t < 4; ++t)
      callers.emplace_back([&] {
        for (int i = 0; i < 10; ++i)
          ASSERT_TRUE(prober.run({ProbeRequest{}, ProbeRequest{}}, [&](size_t, const ProbeResult&) {
            ++results;
          }).ok());
      });
    for (auto& c : callers) c.join();
    EXPECT_EQ(results.load(), 80);
    EXPECT_EQ(prober.engine_name(), "fake");
    ASSERT_TRUE(prober.fingerprint().ok());
  }
  EXPECT_EQ(threads, std::set<std::thread::id>{learner});
  EXPECT_EQ(destroyed_on, learner);
}

}  // namespace
}  // namespace convguard
