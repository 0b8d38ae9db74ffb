// Sweep throughput with the durable store against the same probes without it.
//
//   store_bench [DIR] [--quick]
//
// A fake prober stands in for the supervisor: probes that cost ~0 (the worst case for the
// store's overhead) and probes of 1.3 ms (the GPU machine's measured ~750 probes/s
// through cuDNN). Modes:
//   no store      the fake prober alone
//   group marks   StoreProber, adaptive groups, one fsynced mark commit per group (made
//                 while the previous group runs), results journaled and batched (a
//                 prober that does not report starts)
//   start reports StoreProber over a prober that reports dispatches, as `convguard sweep` runs the
//                 isolated Supervisor: also one journal line per dispatch (exact suspects
//                 after a process death)
//   fixed N=1     every probe its own fsynced group: the cost the grouping avoids
// The store file lives in DIR (default: the current directory), which should be on the
// disk the sweeps use: the fsync cost is the point.
#include <chrono>
#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "convguard/store.h"
#include "convguard/sweep.h"

namespace cg = convguard;
using Clock = std::chrono::steady_clock;

namespace {

class FakeProber : public cg::Prober {
 public:
  FakeProber(double cost_ms, bool reports)
      : cost_(std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double, std::milli>(cost_ms))),
        reports_(reports) {}
  bool reports_dispatch() const override { return reports_; }
  cg::Status do_run(const std::vector<cg::ProbeRequest>& reqs, const cg::ResultCallback& on_result,
                    const cg::DispatchCallback& on_dispatch) override {
    for (size_t i = 0; i < reqs.size(); ++i) {
      if (reports_ && on_dispatch) on_dispatch(i);
      // Sleeping, not spinning: a supervisor waits on its workers' pipes.
      if (cost_.count() > 0) std::this_thread::sleep_until(Clock::now() + cost_);
      cg::ProbeResult r;
      r.problem = cg::key(reqs[i].problem);
      r.dir = reqs[i].problem.dir;
      r.engine = "fake";
      r.algo = reqs[i].algo;
      r.phase = cg::Phase::verify;
      r.time_ms = 0.01;
      on_result(i, r);
    }
    return cg::Status::Ok();
  }
  cg::Result<std::vector<std::string>> algorithms(const cg::Problem&) override {
    return std::vector<std::string>{"default"};
  }
  cg::Result<std::map<std::string, std::string>> fingerprint() override {
    return std::map<std::string, std::string>{{"device", "fake"}};
  }
  std::string engine_name() const override { return "fake"; }

 private:
  Clock::duration cost_;
  bool reports_;
};

std::vector<cg::ProbeRequest> plan(size_t n) {
  std::vector<cg::ProbeRequest> out;
  for (size_t i = 0; out.size() < n; ++i) {
    cg::Problem p;
    p.dir = cg::Dir::FWD_D;
    p.mb = 1;
    p.ic = 4 + static_cast<int64_t>(i % 61);
    p.oc = 8;
    p.ih = p.iw = 8 + static_cast<int64_t>(i / 61);
    p.kh = p.kw = 3;
    p.ph = p.pw = 1;
    p.oh = p.ih;
    p.ow = p.iw;
    out.push_back({p, "default"});
  }
  return out;
}

enum class Mode { none, groups, starts, single };
const char* name(Mode m) {
  switch (m) {
    case Mode::none: return "no store";
    case Mode::groups: return "group marks";
    case Mode::starts: return "start reports";  // the CLI's mode
    case Mode::single: return "fixed N=1";
  }
  return "";
}

// Probes per second of one sweep of `n` probes costing `cost_ms` in `mode`.
double measure(Mode mode, double cost_ms, size_t n, const std::string& dir) {
  const auto requests = plan(n);
  cg::SweepOptions opt;
  if (mode == Mode::single) opt.group_size = 1;
  FakeProber fake(cost_ms, mode == Mode::starts);
  size_t calls = 0;
  auto t0 = Clock::now();
  if (mode == Mode::none) {
    (void)fake.run(requests, [&](size_t, const cg::ProbeResult&) { ++calls; });
    return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - t0).count();
  }
  const std::string db = dir + "/store_bench.db";
  for (const char* suffix : {"", "-wal", "-shm", ".lock"}) std::filesystem::remove(db + suffix);
  auto store = cg::Store::open(db);
  if (!store.ok()) {
    fmt::print(stderr, "{}\n", store.status().to_string());
    std::exit(3);
  }
  t0 = Clock::now();
  auto sp = cg::StoreProber::create(**store, fake, "bench", "{}", opt, requests);
  if (!sp.ok() || !(*sp)->run_plan([&](size_t, const cg::ProbeResult&) { ++calls; }).ok() ||
      !(*sp)->finish(cg::RunStatus::done).ok()) {
    fmt::print(stderr, "the sweep failed\n");
    std::exit(3);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  return static_cast<double>(calls) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = ".";
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true;
    else dir = a;
  }
  struct Case {
    double cost_ms;
    size_t n;
  };
  const std::vector<Case> cases = {{0.0, quick ? 5000u : 30000u}, {1.3, quick ? 500u : 2000u}};
  fmt::print("{:<8} {:<14} {:>7} {:>12} {:>9}\n", "cost", "mode", "probes", "probes/s",
             "vs none");
  for (const auto& c : cases) {
    const double base = measure(Mode::none, c.cost_ms, c.n, dir);
    for (Mode m : {Mode::none, Mode::groups, Mode::starts, Mode::single}) {
      // N=1 fsyncs every probe: a few hundred probes are enough to see its rate.
      const size_t n = m == Mode::single ? std::min<size_t>(c.n / 10, 300) : c.n;
      const double rate = m == Mode::none ? base : measure(m, c.cost_ms, n, dir);
      fmt::print("{:<8} {:<14} {:>7} {:>12.0f} {:>9.3f}\n", fmt::format("{} ms", c.cost_ms),
                 name(m), n, rate, rate / base);
    }
  }
  for (const char* suffix : {"", "-wal", "-shm", ".lock"})
    std::filesystem::remove(dir + "/store_bench.db" + suffix);
  return 0;
}
