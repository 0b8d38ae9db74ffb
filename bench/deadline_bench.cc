// Issue 13's deadline measurements, printed as markdown tables.
//
// 1. Hang latency: the seed's hang (sim over onednn, quirks rx5600xt-rocm57: ih 44 hangs,
//    42 works) alternating with ok probes in one supervisor, with the former settings
//    (fixed 1 s floor, no calibration, no spare) and the current ones (calibration, floor
//    from measured jitter, one warm spare), side by side: execute start -> verdict and
//    verdict -> the next probe running (its prepare phase).
// 2. False-hang soak: N ok probes of mixed sizes (sub-millisecond to 1-5 GFLOP, mostly
//    distinct shapes, so most prepare phases create primitives) with the current settings,
//    for each --jobs, with a busy thread spinning on a core beside them. Every probe must
//    be ok; the distribution of execute time / expected time and / deadline is printed.
//
//   deadline_bench [--hangs N] [--soak N] [--jobs 1,4] [--busy 1] [--engine onednn]
//                  [--base onednn] [--quirks FILE] [--floor 0.2]
//
// --engine is the soak's engine and --base the hang run's sim base: any engine of this build
// (cudnn on a GPU machine). --busy spins CPU threads; a busy GPU is the caller's to start.
// --floor sets the current settings' least execute deadline (PhaseTimeouts::execute_floor_min_s).
//
// The binary re-executes itself as the worker (argv[1] == "--as-worker").
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/utsname.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_engines.h"
#include "convguard/engine_registry.h"
#include "convguard/supervisor.h"
#include "convguard/worker.h"

namespace convguard {
namespace {

using Clock = std::chrono::steady_clock;

double secs(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double quantile(std::vector<double> x, double q) {
  if (x.empty()) return 0;
  std::sort(x.begin(), x.end());
  return x[std::min(x.size() - 1, static_cast<size_t>(q * static_cast<double>(x.size())))];
}

double g_floor = PhaseTimeouts{}.execute_floor_min_s;

SupervisorOptions options(const EngineSpec& engine, int jobs, bool current) {
  SupervisorOptions o;
  o.timeouts.execute_floor_min_s = g_floor;
  o.jobs = jobs;
  o.worker_argv = {bench::self_exe(), "--as-worker"};
  o.engine = engine;
  if (jobs > 1)  // as the command line does: CPU workers share the cores
    o.worker_env["OMP_NUM_THREADS"] =
        std::to_string(std::max(1u, std::thread::hardware_concurrency() / unsigned(jobs)));
  o.calibrate = current;
  o.spares = current ? 1 : 0;
  if (!current) o.timeouts.jitter_factor = 0;  // the fixed 1 s floor
  return o;
}

Problem conv(int64_t mb, int64_t ic, int64_t oc, int64_t ih, int64_t k) {
  Problem p;
  p.dir = Dir::FWD_D;
  p.mb = mb;
  p.ic = ic, p.oc = oc;
  p.ih = p.iw = p.oh = p.ow = ih;
  p.kh = p.kw = k;
  p.ph = p.pw = k / 2;
  return p;
}

// --- 1. hang latency ---------------------------------------------------------------

struct HangRun {
  std::vector<double> to_verdict, to_next;  // seconds
  int hangs = 0, oks = 0, other = 0;
  double wall = 0;
};

HangRun hang_run(const std::string& base, const std::string& quirks, int hangs, bool current) {
  SupervisorOptions o = options({"sim", base, quirks, 0}, 1, current);
  std::map<size_t, Clock::time_point> exec_start, verdict, prepare_start;
  o.on_event = [&](const SupervisorEvent& e) {
    if (e.kind == SupervisorEvent::phase_change && e.phase == Phase::execute)
      exec_start[e.index] = e.at;
    if (e.kind == SupervisorEvent::phase_change && e.phase == Phase::prepare)
      prepare_start.emplace(e.index, e.at);
    if (e.kind == SupervisorEvent::verdict) verdict[e.index] = e.at;
  };
  std::vector<ProbeRequest> reqs;
  for (int i = 0; i < hangs; ++i)
    for (int ih : {42, 44}) reqs.push_back({conv(1, 16, 32, ih, 3), kDefaultAlgo});
  reqs.push_back({conv(1, 16, 32, 42, 3), kDefaultAlgo});
  HangRun h;
  std::vector<Outcome> got(reqs.size());
  const auto t0 = Clock::now();
  {
    Supervisor sup(o);
    (void)sup.run(reqs, [&](size_t i, const ProbeResult& r) { got[i] = r.outcome; });
  }
  h.wall = secs(t0, Clock::now());
  for (size_t i = 0; i < reqs.size(); ++i) {
    const bool should_hang = i % 2 == 1;
    if (got[i] == (should_hang ? Outcome::hang : Outcome::ok))
      (should_hang ? h.hangs : h.oks)++;
    else
      ++h.other;
    if (!should_hang || !exec_start.count(i) || !verdict.count(i)) continue;
    h.to_verdict.push_back(secs(exec_start[i], verdict[i]));
    if (prepare_start.count(i + 1)) h.to_next.push_back(secs(verdict[i], prepare_start[i + 1]));
  }
  return h;
}

// One markdown row: how many of x fall in each bucket [edges[i-1], edges[i]).
std::string buckets(const std::vector<double>& x, const std::vector<double>& edges) {
  std::string out;
  for (size_t b = 0; b <= edges.size(); ++b) {
    const double lo = b ? edges[b - 1] : -1, hi = b < edges.size() ? edges[b] : 1e300;
    out += fmt::format(
        " {} |", std::count_if(x.begin(), x.end(), [&](double v) { return v >= lo && v < hi; }));
  }
  return out;
}

std::string bucket_header(const std::vector<double>& edges, double scale, const char* unit) {
  std::string h, rule = "|---|";
  for (size_t b = 0; b <= edges.size(); ++b) {
    if (b == 0)
      h += fmt::format(" < {:g} {} |", edges[0] * scale, unit);
    else if (b == edges.size())
      h += fmt::format(" >= {:g} {} |", edges[b - 1] * scale, unit);
    else
      h += fmt::format(" {:g}-{:g} {} |", edges[b - 1] * scale, edges[b] * scale, unit);
    rule += "---:|";
  }
  return h + "\n" + rule;
}

void hang_tables(const std::string& base, const std::string& quirks, int hangs) {
  std::vector<std::pair<const char*, HangRun>> runs;
  // Alternating, so both see the same machine; the current settings first.
  for (bool current : {true, false})
    runs.push_back({current ? "current (calibrated, jitter floor, 1 spare)"
                            : "former (fixed 1 s floor, no calibration, no spare)",
                    hang_run(base, quirks, hangs, current)});
  fmt::print(
      "\n## Hang latency: {} hangs (ih 44) between ok probes (ih 42), sim over {}, "
      "one worker, default deadlines\n\n",
      hangs, base);
  fmt::print(
      "| settings | hangs | oks | other | wall s | hang -> verdict p50 / p90 / max s | "
      "verdict -> next probe running p50 / p90 / max ms |\n|---|---:|---:|---:|---:|---|---|\n");
  for (const auto& [label, h] : runs)
    fmt::print(
        "| {} | {} | {} | {} | {:.2f} | {:.3f} / {:.3f} / {:.3f} | {:.1f} / {:.1f} / {:.1f} |\n",
        label, h.hangs, h.oks, h.other, h.wall, quantile(h.to_verdict, 0.5),
        quantile(h.to_verdict, 0.9), quantile(h.to_verdict, 1), 1e3 * quantile(h.to_next, 0.5),
        1e3 * quantile(h.to_next, 0.9), 1e3 * quantile(h.to_next, 1));
  if (runs[1].second.wall > 0)
    fmt::print("\nwall ratio former / current: {:.1f}\n",
               runs[1].second.wall / runs[0].second.wall);
  const std::vector<double> v_edges{0.1, 0.25, 0.5, 1, 1.5}, n_edges{0.01, 0.05, 0.1, 0.25, 0.5};
  fmt::print("\nHistogram, hang (execute phase message) -> verdict:\n\n| settings |{}\n",
             bucket_header(v_edges, 1, "s"));
  for (const auto& [label, h] : runs)
    fmt::print("| {} |{}\n", label, buckets(h.to_verdict, v_edges));
  fmt::print(
      "\nHistogram, verdict -> next probe running (its prepare phase message):\n\n| settings |{}\n",
      bucket_header(n_edges, 1e3, "ms"));
  for (const auto& [label, h] : runs) fmt::print("| {} |{}\n", label, buckets(h.to_next, n_edges));
}

// --- 2. false-hang soak --------------------------------------------------------------

// Mixed sizes: 80 % under a millisecond, 19 % 1-100 MFLOP, 1 % 1-5 GFLOP.
std::vector<ProbeRequest> soak_problems(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(rng() % (hi - lo + 1));
  };
  std::vector<ProbeRequest> out;
  for (int i = 0; i < n; ++i) {
    const uint32_t kind = rng() % 100;
    Problem p;
    if (kind < 80)
      p = conv(pick(1, 2), pick(1, 8), pick(1, 8), pick(4, 16), rng() % 2 ? 3 : 1);
    else if (kind < 99)
      p = conv(1, pick(8, 48), pick(8, 48), pick(16, 64), 3);
    else
      p = conv(1, 64, 64, pick(120, 260), 3);  // 73,728 x ih^2: 1.1-5 GFLOP
    out.push_back({p, kDefaultAlgo});
  }
  return out;
}

struct SoakRun {
  std::map<std::string, int> outcomes;
  std::vector<double> by_expected, by_deadline, big_by_deadline;
  double wall = 0, lowest_deadline = 1e9;
};

SoakRun soak_run(const std::string& engine, int n, int jobs) {
  SupervisorOptions o = options({engine, "", "", 0}, jobs, true);
  o.probe.verify = false;  // execute is the phase under test; references would take hours
  struct Exec {
    Clock::time_point start;
    double expected = 0, deadline = 0;
  };
  std::map<size_t, Exec> exec;
  SoakRun s;
  const auto reqs = soak_problems(n, 13);
  o.on_event = [&](const SupervisorEvent& e) {
    if (e.kind == SupervisorEvent::phase_change && e.phase == Phase::execute)
      exec[e.index] = {e.at, e.expected_s, e.deadline_s};
    if (e.kind != SupervisorEvent::verdict) return;
    auto it = exec.find(e.index);
    if (it == exec.end() || e.outcome != Outcome::ok) return;
    const double took = secs(it->second.start, e.at);
    s.by_expected.push_back(took / it->second.expected);
    s.by_deadline.push_back(took / it->second.deadline);
    if (reqs[e.index].problem.flops() > 1e9)
      s.big_by_deadline.push_back(took / it->second.deadline);
    s.lowest_deadline = std::min(s.lowest_deadline, it->second.deadline);
    exec.erase(it);
  };
  const auto t0 = Clock::now();
  {
    Supervisor sup(o);
    Status st =
        sup.run(reqs, [&](size_t, const ProbeResult& r) { ++s.outcomes[to_string(r.outcome)]; });
    if (!st.ok()) fmt::print(stderr, "soak: {}\n", st.to_string());
  }
  s.wall = secs(t0, Clock::now());
  return s;
}

void soak_tables(const std::string& engine, int n, const std::vector<int>& jobs, int busy) {
  // Threads of this process, not children: they end with it however the bench is stopped
  // (a spinning child in its own process group outlived a killed bench).
  std::atomic<bool> done{false};
  std::vector<std::jthread> spinners;
  for (int i = 0; i < busy; ++i)
    spinners.emplace_back([&done] {
      while (!done.load(std::memory_order_relaxed)) {
      }
    });
  fmt::print(
      "\n## False-hang soak: {} ok probes of mixed sizes per run, {} over {} worker(s), "
      "current settings (least execute deadline {:g} s), verification off, {} busy thread(s) "
      "spinning beside them\n\n"
      "Sizes: 80 % under 20 kFLOP-1 MFLOP (sub-millisecond), 19 % 1-100 MFLOP, 1 % 1.1-5 "
      "GFLOP; shapes mostly distinct, so most probes create their primitive in prepare.\n\n",
      n, engine, fmt::join(jobs, ","), g_floor, busy);
  fmt::print(
      "| jobs | outcomes | wall s | execute / expected p50 / p99 / max | execute / deadline "
      "p50 / p99 / p99.9 / max | 1-5 GFLOP: execute / deadline max | lowest deadline s |\n"
      "|---:|---|---:|---|---|---:|---:|\n");
  for (int j : jobs) {
    SoakRun s = soak_run(engine, n, j);
    std::string outs;
    for (const auto& [k, v] : s.outcomes)
      outs += fmt::format("{}{} {}", outs.empty() ? "" : ", ", k, v);
    fmt::print(
        "| {} | {} | {:.1f} | {:.3f} / {:.3f} / {:.3f} | {:.4f} / {:.4f} / {:.4f} / {:.4f} | "
        "{:.3f} | {:.3f} |\n",
        j, outs, s.wall, quantile(s.by_expected, 0.5), quantile(s.by_expected, 0.99),
        quantile(s.by_expected, 1), quantile(s.by_deadline, 0.5), quantile(s.by_deadline, 0.99),
        quantile(s.by_deadline, 0.999), quantile(s.by_deadline, 1), quantile(s.big_by_deadline, 1),
        s.lowest_deadline);
    std::fflush(stdout);
  }
  done = true;
}

void header(int argc, char** argv) {
  char date[32];
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", std::localtime(&now));
  std::string cpu = "?", load = "?", cmd;
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  std::ifstream("/proc/loadavg") >> load;
  for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + std::string(argv[i]);
  fmt::print(
      "# deadline_bench\n\ndate: {}\nmachine: {}, {} CPUs; 1-minute load average at start: "
      "{}\ncommand: {}\n",
      date, cpu, std::thread::hardware_concurrency(), load, cmd);
}

}  // namespace
}  // namespace convguard

int main(int argc, char** argv) {
  using namespace convguard;
  if (argc > 1 && std::string(argv[1]) == "--as-worker")
    return worker_main(kWorkerRequestFd, kWorkerResultFd, make_engine);
  int hangs = 20, soak = 10000, busy = 1;
  std::vector<int> jobs{1, 4};
  std::string engine = "onednn", base = "onednn";
  std::string quirks = std::string(CONVGUARD_SOURCE_DIR) + "/quirks/rx5600xt-rocm57.json";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--hangs")
      hangs = std::stoi(v);
    else if (k == "--soak")
      soak = std::stoi(v);
    else if (k == "--busy")
      busy = std::stoi(v);
    else if (k == "--engine")
      engine = v;
    else if (k == "--base")
      base = v;
    else if (k == "--quirks")
      quirks = v;
    else if (k == "--floor")
      g_floor = std::stod(v);
    else if (k == "--jobs") {
      jobs.clear();
      for (size_t a = 0, b; a <= v.size(); a = b + 1) {
        b = std::min(v.find(',', a), v.size());
        jobs.push_back(std::stoi(v.substr(a, b - a)));
      }
    } else {
      fmt::print(stderr, "deadline_bench: unknown option {}\n", k);
      return 2;
    }
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // tables reach a file row by row
  header(argc, argv);
  if (hangs > 0) hang_tables(base, quirks, hangs);
  if (soak > 0) soak_tables(engine, soak, jobs, busy);
  return 0;
}
