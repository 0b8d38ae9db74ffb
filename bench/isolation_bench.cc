// Isolation's price: throughput of the isolated Supervisor (jobs 1 and 2) against the
// in-process InProcessProber on the same 1,000 small distinct problems with the same
// engine, and, with the default deadlines, how long a hang takes to be judged and how
// long until the next probe starts (fresh worker and canary included).
//
//   isolation_bench [--problems N] [--engines onednn,ref] [--hangs N] [--rounds N]
//                   [--queue-depth N] [--quirks FILE] [--cpu 1]
//
// The binary re-executes itself as the worker (argv[1] == "--as-worker").
#include <sys/resource.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "convguard/cpu_engines.h"
#include "convguard/inprocess.h"
#include "convguard/sim.h"
#include "convguard/supervisor.h"
#include "process.h"
#include "worker.h"

namespace convguard {
namespace {

using Clock = std::chrono::steady_clock;

Result<std::unique_ptr<Engine>> make_bench_engine(const EngineSpec& spec) {
  if (spec.name == "ref") return make_ref_engine();
  if (spec.name == "onednn") return make_onednn_engine();
  if (spec.name == "sim") {
    auto base = make_bench_engine(EngineSpec{spec.base, "", "", 0});
    if (!base.ok()) return base.status();
    return make_sim_engine(std::move(*base), spec.quirks_path, spec.seed);
  }
  return Status::Invalid("invalid engine " + spec.name);
}

// Distinct small forward problems: 1,000 of them fit in this space many times over.
std::vector<ProbeRequest> small_problems(int n) {
  std::vector<ProbeRequest> out;
  for (int i = 0; out.size() < static_cast<size_t>(n); ++i) {
    Problem p;
    p.dir = Dir::FWD_D;
    p.mb = 1 + i % 2;
    p.ic = 1 + (i / 2) % 8;
    p.oc = 1 + (i / 16) % 8;
    p.ih = p.iw = 5 + (i / 128) % 12;
    p.kh = p.kw = (i / 1536) % 2 ? 1 : 3;
    p.ph = p.pw = p.kh / 2;
    p.oh = p.ow = p.ih;
    out.push_back({p, kDefaultAlgo});
  }
  return out;
}

std::string self_exe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

int g_queue_depth = -1;  // -1: the Supervisor's default

SupervisorOptions iso_options(const std::string& engine, int jobs) {
  SupervisorOptions o;
  if (g_queue_depth >= 0) o.queue_depth = g_queue_depth;
  o.jobs = jobs;
  o.worker_argv = {self_exe(), "--as-worker"};
  o.engine = {engine, "", "", 0};
  // As `convguard probe` does: CPU workers share the cores rather than oversubscribe them.
  if (jobs > 1 && !std::getenv("OMP_NUM_THREADS"))
    o.worker_env["OMP_NUM_THREADS"] =
        std::to_string(std::max(1u, std::thread::hardware_concurrency() / jobs));
  return o;
}

struct Throughput {
  double start_s = 0;  ///< engine/worker start and a warm-up run of other problems
  double run_s = 0;    ///< the measured problems
  int ok = 0;
};

double run_counting(Prober& prober, const std::vector<ProbeRequest>& reqs, int* ok) {
  auto t0 = Clock::now();
  Status s = prober.run(reqs, [&](size_t, const ProbeResult& r) {
    if (r.outcome == Outcome::ok) ++*ok;
    else std::fprintf(stderr, "not ok: %s %s %s %s\n", r.problem.c_str(), to_string(r.outcome),
                      to_string(r.phase), r.message.c_str());
  });
  if (!s.ok()) std::fprintf(stderr, "run: %s\n", s.to_string().c_str());
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One mode: 0 in-process, else isolated with that many jobs.
double cpu_seconds(int who) {
  struct rusage u;
  ::getrusage(who, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

Throughput measure_one(const std::string& name, int mode, const std::vector<ProbeRequest>& warm,
                   const std::vector<ProbeRequest>& reqs) {
  Throughput t;
  int warm_ok = 0;
  auto t0 = Clock::now();
  std::unique_ptr<Prober> prober;
  if (mode == 0) {
    auto engine = make_bench_engine({name, "", "", 0});
    if (!engine.ok()) return t;
    prober = std::make_unique<InProcessProber>(std::move(*engine));
  } else {
    auto sup = std::make_unique<Supervisor>(iso_options(name, mode));
    if (Status s = sup->start(); !s.ok()) std::fprintf(stderr, "start: %s\n", s.to_string().c_str());
    prober = std::move(sup);
  }
  run_counting(*prober, warm, &warm_ok);
  t.start_s = std::chrono::duration<double>(Clock::now() - t0).count();
  t.run_s = run_counting(*prober, reqs, &t.ok);
  return t;
}

// With the CPU time of this process and its (reaped) workers, for --cpu.
bool g_show_cpu = false;
Throughput measure(const std::string& name, int mode, const std::vector<ProbeRequest>& warm,
                   const std::vector<ProbeRequest>& reqs) {
  double self0 = cpu_seconds(RUSAGE_SELF), kids0 = cpu_seconds(RUSAGE_CHILDREN);
  Throughput t = measure_one(name, mode, warm, reqs);
  if (g_show_cpu)
    std::fprintf(stderr, "%s mode %d: wall %.3f s (run), cpu self %.3f s, workers %.3f s\n",
                 name.c_str(), mode, t.run_s + t.start_s, cpu_seconds(RUSAGE_SELF) - self0,
                 cpu_seconds(RUSAGE_CHILDREN) - kids0);
  return t;
}

// The best of `rounds` alternating runs of each mode: the machine is shared, and the
// fastest run is the one least disturbed by others.
void throughput_table(const std::vector<std::string>& engines, int n, int rounds) {
  auto all = small_problems(n + 8);
  std::vector<ProbeRequest> warm(all.end() - 8, all.end()), reqs(all.begin(), all.begin() + n);
  std::printf("\n## Throughput: %d small distinct FWD_D f32 problems, verified against ref; "
              "best of %d alternating rounds\n\n"
              "warm: workers started (Supervisor::start) and 8 other problems run before the "
              "clock starts, as for a long-lived supervisor; in-process likewise gets its engine "
              "and 8 warm-up problems first.\n"
              "cold: the clock also covers start-up (process spawn, engine init) and the warm-up "
              "problems.\n\n", n, rounds);
  std::printf("| engine | mode | ok | warm s | warm probes/s | warm ratio | cold s | cold ratio |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& name : engines) {
    std::vector<Throughput> best(3);
    for (int r = 0; r < rounds; ++r)
      for (int mode = 0; mode < 3; ++mode) {
        Throughput t = measure(name, mode, warm, reqs);
        if (r == 0 || t.run_s < best[mode].run_s) best[mode].run_s = t.run_s, best[mode].ok = t.ok;
        if (r == 0 || t.start_s < best[mode].start_s) best[mode].start_s = t.start_s;
      }
    const char* modes[] = {"in-process", "isolated, jobs=1", "isolated, jobs=2"};
    double base_warm = best[0].run_s, base_cold = best[0].run_s + best[0].start_s;
    for (int mode = 0; mode < 3; ++mode) {
      double cold = best[mode].run_s + best[mode].start_s;
      std::printf("| %s | %s | %d | %.3f | %.0f | %.2f | %.3f | %.2f |\n", name.c_str(),
                  modes[mode], best[mode].ok, best[mode].run_s, n / best[mode].run_s,
                  base_warm / best[mode].run_s, cold, base_cold / cold);
    }
    std::fflush(stdout);
  }
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct HangTiming {
  double to_verdict_ms = -1, to_dispatch_ms = -1, to_next_start_ms = -1;
  Outcome outcome = Outcome::ok;
};

// ok 42, hang 44, ok 42 with the seed's quirks over onednn and the default deadlines.
HangTiming one_hang(const std::string& quirks) {
  SupervisorOptions o = iso_options("sim", 1);
  o.engine = {"sim", "onednn", quirks, 0};
  Clock::time_point exec_start, verdict, dispatch_next, next_start;
  o.on_event = [&](const SupervisorEvent& e) {
    if (e.index == 1 && e.kind == SupervisorEvent::phase_change && e.phase == Phase::execute)
      exec_start = e.at;
    if (e.index == 1 && e.kind == SupervisorEvent::verdict) verdict = e.at;
    if (e.index == 2 && e.kind == SupervisorEvent::dispatched) dispatch_next = e.at;
    if (e.index == 2 && e.kind == SupervisorEvent::phase_change && e.phase == Phase::prepare)
      next_start = e.at;
  };
  std::vector<ProbeRequest> reqs;
  for (int ih : {42, 44, 42}) {
    auto p = parse_problem("--dir=FWD_D mb1ic16ih" + std::to_string(ih) + "oc32kh3ph1");
    reqs.push_back({*p, kDefaultAlgo});
  }
  HangTiming h;
  Supervisor sup(o);
  (void)sup.run(reqs, [&](size_t i, const ProbeResult& r) {
    if (i == 1) h.outcome = r.outcome;
  });
  h.to_verdict_ms = ms_between(exec_start, verdict);
  h.to_dispatch_ms = ms_between(verdict, dispatch_next);
  h.to_next_start_ms = ms_between(verdict, next_start);
  return h;
}

void hang_table(const std::string& quirks, int tries) {
  std::printf("\n## Hang timing: sim over onednn, quirks %s, default deadlines "
              "(execute auto: floor 1 s)\n\n",
              std::filesystem::path(quirks).filename().c_str());
  std::printf("| try | outcome | hang start (execute phase message) -> verdict, ms | verdict -> "
              "next probe dispatched (fresh worker + canary), ms | verdict -> next probe in "
              "prepare, ms |\n|---:|---|---:|---:|---:|\n");
  std::vector<double> v, d, s;
  for (int i = 0; i < tries; ++i) {
    HangTiming h = one_hang(quirks);
    std::printf("| %d | %s | %.0f | %.0f | %.0f |\n", i + 1, to_string(h.outcome), h.to_verdict_ms,
                h.to_dispatch_ms, h.to_next_start_ms);
    v.push_back(h.to_verdict_ms), d.push_back(h.to_dispatch_ms), s.push_back(h.to_next_start_ms);
  }
  auto median = [](std::vector<double> x) {
    std::sort(x.begin(), x.end());
    return x[x.size() / 2];
  };
  std::printf("| median | | %.0f | %.0f | %.0f |\n", median(v), median(d), median(s));
}

void header(int argc, char** argv) {
  char date[32];
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", std::localtime(&now));
  struct utsname u;
  ::uname(&u);
  std::string cpu = "?";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  std::string cmd;
  for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + std::string(argv[i]);
  std::string load = "?";
  std::ifstream("/proc/loadavg") >> load;
  const char* omp = std::getenv("OMP_NUM_THREADS");
  std::printf("# isolation_bench\n\ndate: %s\nmachine: %s, %u CPUs (%s %s), CPU-only run (no GPU "
              "used); 1-minute load average at start: %s\ncommand: %s%s %s\n",
              date, cpu.c_str(), std::thread::hardware_concurrency(), u.sysname, u.release,
              load.c_str(), omp ? "OMP_NUM_THREADS=" : "", omp ? omp : "", cmd.c_str());
}

}  // namespace
}  // namespace convguard

int main(int argc, char** argv) {
  using namespace convguard;
  if (argc > 1 && std::string(argv[1]) == "--as-worker")
    return worker_main(kChildInFd, kChildOutFd, make_bench_engine);
  int n = 1000, hangs = 5, rounds = 3;
  std::vector<std::string> engines{"onednn", "ref"};
  std::string quirks = std::string(CONVGUARD_SOURCE_DIR) + "/quirks/rx5600xt-rocm57.json";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--problems") n = std::stoi(v);
    else if (k == "--hangs") hangs = std::stoi(v);
    else if (k == "--rounds") rounds = std::stoi(v);
    else if (k == "--queue-depth") g_queue_depth = std::stoi(v);
    else if (k == "--cpu") g_show_cpu = v == "1";
    else if (k == "--quirks") quirks = v;
    else if (k == "--engines") {
      engines.clear();
      for (size_t a = 0, b; a <= v.size(); a = b + 1) {
        b = std::min(v.find(',', a), v.size());
        engines.push_back(v.substr(a, b - a));
      }
    }
  }
  header(argc, argv);
  throughput_table(engines, n, rounds);
  if (hangs > 0) hang_table(quirks, hangs);
  return 0;
}
