#include "isolation/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "testing/process_probes.h"

namespace convguard {
namespace {

using testing::count_open_fds;
using testing::process_group_exists;

using std::chrono::milliseconds;

std::unique_ptr<Child> sh(const std::string& script, std::map<std::string, std::string> env = {}) {
  SpawnOptions opt;
  opt.argv = {"/bin/sh", "-c", script};
  opt.env_set = std::move(env);
  auto c = Child::spawn(opt);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(*c) : nullptr;
}

// Reads the result pipe until EOF (bounded), the way the supervisor would.
std::string read_all(Child& c, milliseconds limit = milliseconds(5000)) {
  std::string out;
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    struct pollfd p = {c.result_fd(), POLLIN, 0};
    ::poll(&p, 1, 50);
    char buf[256];
    ssize_t n = ::read(c.result_fd(), buf, sizeof buf);
    if (n == 0) break;
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Every test must leave no child behind and no descriptor open.
class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override { fds_ = count_open_fds(); }
  void TearDown() override {
    EXPECT_EQ(count_open_fds(), fds_) << "descriptor leak";
    int ws;
    EXPECT_EQ(::waitpid(-1, &ws, WNOHANG), -1) << "an unreaped child remains";
  }
  int fds_ = 0;
};

TEST_F(ProcessTest, CarriesRequestsAndResultsOverItsPipes) {
  auto c = sh("cat <&3 >&4");
  ASSERT_TRUE(c);
  ASSERT_EQ(::write(c->request_fd(), "hello", 5), 5);
  c->close_requests();
  EXPECT_EQ(read_all(*c), "hello");
  auto e = c->reap_for(milliseconds(5000));
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->exited);
  EXPECT_EQ(e->status, 0);
}

TEST_F(ProcessTest, SetsEnvironmentOverrides) {
  auto c = sh("printf %s \"$CUDA_VISIBLE_DEVICES/$HIP_VISIBLE_DEVICES\" >&4",
              {{"CUDA_VISIBLE_DEVICES", "1"}, {"HIP_VISIBLE_DEVICES", "1"}});
  ASSERT_TRUE(c);
  EXPECT_EQ(read_all(*c), "1/1");
  EXPECT_TRUE(c->reap_for(milliseconds(5000)));
}

TEST_F(ProcessTest, ChildSeesOnlyItsOwnDescriptors) {
  int tmp = ::open("/dev/null", O_RDONLY);
  int stray = ::fcntl(tmp, F_DUPFD, 50);  // not close-on-exec, far above the pipes
  ::close(tmp);
  SpawnOptions opt;
  opt.argv = {"/bin/ls", "/proc/self/fd"};
  auto c = Child::spawn(opt);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->reap_for(milliseconds(5000)));
  (*c)->drain_stderr();
  // 0-4 are the worker's; 5 is the directory ls itself reads.
  EXPECT_EQ((*c)->stderr_tail(), "0\n1\n2\n3\n4\n5\n");
  ::close(stray);
}

TEST_F(ProcessTest, RunsInItsOwnProcessGroup) {
  auto c = sh("ps -o pgid= -p $$ >&4");
  ASSERT_TRUE(c);
  EXPECT_EQ(std::stoi(read_all(*c)), c->pid());
  EXPECT_NE(c->pid(), ::getpgrp());
  EXPECT_TRUE(c->reap_for(milliseconds(5000)));
}

TEST_F(ProcessTest, CapturesABoundedTailOfStderr) {
  auto c = sh("i=0; while [ $i -lt 100 ]; do i=$((i+1)); echo line$i; echo err$i >&2; done");
  ASSERT_TRUE(c);
  read_all(*c);
  ASSERT_TRUE(c->reap_for(milliseconds(5000)));
  c->drain_stderr();
  std::string tail = c->stderr_tail();
  EXPECT_LE(tail.size(), 8192u);
  EXPECT_EQ(std::count(tail.begin(), tail.end(), '\n'), 40);
  EXPECT_NE(tail.find("err100\n"), std::string::npos);
  EXPECT_NE(tail.find("line100\n"), std::string::npos) << "stdout goes to the tail too";
  EXPECT_EQ(tail.find("err50\n"), std::string::npos);
}

TEST_F(ProcessTest, TailBufferKeepsTheLastBytesOfLongLines) {
  TailBuffer t(100, 40);
  std::string big(1000, 'x');
  t.append(big.data(), big.size());
  t.append("\nend\n", 5);
  EXPECT_EQ(t.tail().size(), 100u);
  EXPECT_EQ(t.tail().substr(95), "\nend\n");
}

TEST_F(ProcessTest, DecodesExitStatusAndSignals) {
  auto exits = sh("exit 3");
  auto segv = sh("kill -SEGV $$");
  auto abrt = sh("kill -ABRT $$");
  ASSERT_TRUE(exits && segv && abrt);
  auto e = exits->reap_for(milliseconds(5000));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->describe(), "exit status 3");
  e = segv->reap_for(milliseconds(5000));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->signal, SIGSEGV);
  EXPECT_EQ(e->describe(), "signal 11 (SIGSEGV)");
  e = abrt->reap_for(milliseconds(5000));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->describe(), "signal 6 (SIGABRT: abort)");
}

TEST_F(ProcessTest, KillsTheWholeGroupAndReapsIt) {
  // Orphaned grandchildren come back to us, so this test can prove none is left.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  auto c = sh("sleep 100 & sleep 100 & echo started >&4; wait");
  ASSERT_TRUE(c);
  char buf[16];
  struct pollfd p = {c->result_fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  ASSERT_GT(::read(c->result_fd(), buf, sizeof buf), 0);
  pid_t pgid = c->pid();
  auto t0 = std::chrono::steady_clock::now();
  auto e = c->kill_and_reap(milliseconds(5000));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->signal, SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(1000));
  // The two sleeps were killed by the same signal; reap them as their new parent.
  auto end = std::chrono::steady_clock::now() + milliseconds(5000);
  while (process_group_exists(pgid) && std::chrono::steady_clock::now() < end) {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_FALSE(process_group_exists(pgid));
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_F(ProcessTest, DestructorKillsAndReapsARunningChild) {
  pid_t pid;
  {
    auto c = sh("exec sleep 100");
    ASSERT_TRUE(c);
    pid = c->pid();
  }
  EXPECT_FALSE(process_group_exists(pid));
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
}

TEST_F(ProcessTest, ReportsAMissingExecutable) {
  SpawnOptions opt;
  opt.argv = {"/nonexistent/convguard-worker"};
  auto c = Child::spawn(opt);
  if (c.ok()) {  // some libcs report exec failure as exit 127
    auto e = (*c)->reap_for(milliseconds(5000));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 127);
  } else {
    EXPECT_EQ(c.status().code(), Code::kIo);
    EXPECT_NE(c.status().message().find("/nonexistent/convguard-worker"), std::string::npos);
  }
}

TEST(SchedTimes, NameEveryThreadOfALiveProcessAndNothingOfADeadOne) {
  std::thread spare([] { std::this_thread::sleep_for(std::chrono::milliseconds(50)); });
  const auto times = sched_times(::getpid());
  spare.join();
  if (times.empty()) GTEST_SKIP() << "this kernel keeps no /proc/PID/task/TID/schedstat";
  EXPECT_GE(times.size(), 2u);
  ASSERT_TRUE(times.count(::getpid()));
  EXPECT_GT(times.at(::getpid()).run_s, 0) << "this thread has run";
  for (const auto& [tid, t] : times) EXPECT_GE(t.wait_s, 0) << tid;
  EXPECT_TRUE(sched_times(-1).empty());
}

}  // namespace
}  // namespace convguard
