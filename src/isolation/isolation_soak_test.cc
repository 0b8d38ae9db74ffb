// Soak (ctest label `soak`, outside the default run): 200 injected hangs among 2,000 ok
// probes over 2 workers. Every outcome must be right, and no process or descriptor may
// leak. Run: ctest --test-dir build -L soak --output-on-failure
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <random>
#include <set>

#include "convguard/supervisor.h"
#include "convguard/worker.h"
#include "isolation/process.h"
#include "testing/process_probes.h"
#include "testing/test_fault_engine.h"

namespace convguard {
namespace {

using testing::count_open_fds;
using testing::process_group_exists;

// Small problems the fault engine leaves alone (see test_fault_engine.h).
Problem ok_problem(int i) {
  static const int ics[] = {1, 2, 3, 4, 8}, ocs[] = {1, 2, 3, 4, 5, 6, 8, 10};
  Problem p;
  p.dir = Dir::FWD_D;
  p.mb = 1;
  p.ic = ics[i % 5];
  p.oc = ocs[(i / 5) % 8];
  p.ih = p.iw = 4 + (i / 40) % 10;
  p.kh = p.kw = (i / 400) % 2 ? 3 : 1;
  p.oh = p.ow = p.ih - p.kh + 1;
  return p;
}

Problem hang_problem(int i) {
  Problem p = ok_problem(i);
  p.oc = 9;  // hangs in execute
  return p;
}

TEST(IsolationSoak, TwoHundredHangsAmongTwoThousandOkProbes) {
  const int fds_before = count_open_fds();
  std::vector<ProbeRequest> reqs;
  std::vector<Outcome> want;
  std::mt19937 rng(42);
  int hangs = 0, oks = 0;
  while (hangs < 200 || oks < 2000) {
    bool hang = hangs < 200 && (oks >= 2000 || rng() % 11 == 0);
    reqs.push_back({hang ? hang_problem(hangs + oks) : ok_problem(oks), kDefaultAlgo});
    want.push_back(hang ? Outcome::hang : Outcome::ok);
    (hang ? hangs : oks)++;
  }
  std::set<pid_t> pids;
  std::vector<int> seen(reqs.size(), 0);
  std::vector<ProbeResult> got(reqs.size());
  {
    SupervisorOptions o;
    o.jobs = 2;
    o.worker_argv = {std::filesystem::read_symlink("/proc/self/exe").string(), "--as-worker"};
    o.engine = {"fault", "", "", 0};
    o.timeouts.init_s = 10;
    o.timeouts.prepare_s = 2;
    o.timeouts.execute_floor_s = 0.2;
    o.timeouts.verify_floor_s = 2;
    o.on_event = [&](const SupervisorEvent& e) {
      if (e.kind == SupervisorEvent::spawned) pids.insert(e.pid);
    };
    Supervisor sup(o);
    Status st = sup.run(reqs, [&](size_t i, const ProbeResult& r) {
      ++seen[i];
      got[i] = r;
    });
    ASSERT_TRUE(st.ok()) << st.to_string();
  }
  int wrong = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(seen[i], 1) << "request " << i;
    if (got[i].outcome != want[i] && ++wrong <= 10)
      ADD_FAILURE() << "request " << i << " " << got[i].problem << ": " << to_string(got[i].outcome)
                    << " (" << got[i].message << "), want " << to_string(want[i]);
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_GE(pids.size(), 201u) << "a fresh worker after each hang";
  EXPECT_EQ(count_open_fds(), fds_before) << "descriptor leak";
  errno = 0;
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  int alive = 0;
  for (pid_t p : pids) alive += process_group_exists(p);
  EXPECT_EQ(alive, 0) << "worker process groups left";
}

}  // namespace
}  // namespace convguard

int main(int argc, char** argv) { return convguard::testing::test_or_worker_main(argc, argv); }
