// Isolation's price: throughput of the isolated Supervisor (jobs 1 and 2) against the
// in-process InProcessProber on the same small distinct problems (1,000 per run() call)
// with the same engine, and, with the default deadlines, how long a hang takes to be
// judged and how long until the next probe starts (fresh worker and canary included).
// The machine may be shared: every mode is measured for several seconds, the modes
// take turns round by round, and the median of the per-round ratios is reported.
//
//   isolation_bench [--problems N] [--engines onednn,ref] [--hangs N] [--rounds N]
//                   [--min-seconds S] [--queue-depth N] [--quirks FILE]
//
// The binary re-executes itself as the worker (argv[1] == "--as-worker").
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_engines.h"
#include "convguard/inprocess.h"
#include "convguard/supervisor.h"
#include "convguard/worker.h"
#include "isolation/protocol.h"

namespace convguard {
namespace {

using Clock = std::chrono::steady_clock;
using bench::make_bench_engine;
using bench::self_exe;

// Small forward problems, distinct for n <= 3,072 (the size of this space).
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

// CPU seconds (user + system) of a live process, from /proc/PID/stat; 0 if it is gone.
double proc_cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double self_cpu_seconds() {
  struct rusage u;
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double load_average() {
  double load = -1;
  std::ifstream("/proc/loadavg") >> load;
  return load;
}

// One prober kept alive across every measurement of its mode, as a long-lived
// supervisor (or `convguard run`) would be.
struct Contender {
  std::string label;
  int jobs = 0;  ///< 0: in-process
  std::unique_ptr<Prober> prober;
  std::shared_ptr<std::vector<pid_t>> workers = std::make_shared<std::vector<pid_t>>();
  double start_s = 0;  ///< construction, worker start, and the warm-up problems
  size_t next_slice = 0;  ///< every mode walks the same slices in the same order
};

// One timed measurement: `passes` runs over the same problems.
struct Sample {
  double wall_s = 0, self_cpu_s = 0, worker_cpu_s = 0;
  int ok = 0;
};

int run_counting(Prober& prober, const std::vector<ProbeRequest>& reqs) {
  int ok = 0;
  Status s = prober.run(reqs, [&](size_t, const ProbeResult& r) {
    if (r.outcome == Outcome::ok) ++ok;
    else std::fprintf(stderr, "not ok: %s %s %s %s\n", r.problem.c_str(), to_string(r.outcome),
                      to_string(r.phase), r.message.c_str());
  });
  if (!s.ok()) std::fprintf(stderr, "run: %s\n", s.to_string().c_str());
  return ok;
}

Contender make_contender(const std::string& name, int jobs, const std::vector<ProbeRequest>& warm) {
  Contender c;
  c.jobs = jobs;
  c.label = jobs == 0 ? "in-process" : "isolated, jobs=" + std::to_string(jobs);
  auto t0 = Clock::now();
  if (jobs == 0) {
    auto engine = make_bench_engine({name, "", "", 0});
    if (!engine.ok()) std::fprintf(stderr, "engine: %s\n", engine.status().to_string().c_str());
    else c.prober = std::make_unique<InProcessProber>(std::move(*engine));
  } else {
    SupervisorOptions o = iso_options(name, jobs);
    o.on_event = [pids = c.workers](const SupervisorEvent& e) {
      if (e.kind == SupervisorEvent::spawned) pids->push_back(e.pid);
    };
    auto sup = std::make_unique<Supervisor>(std::move(o));
    if (Status s = sup->start(); !s.ok()) std::fprintf(stderr, "start: %s\n", s.to_string().c_str());
    c.prober = std::move(sup);
  }
  if (c.prober) run_counting(*c.prober, warm);
  c.start_s = std::chrono::duration<double>(Clock::now() - t0).count();
  return c;
}

// Runs the next `passes` slices (one run() call each) and times them.
Sample measure(Contender& c, const std::vector<std::vector<ProbeRequest>>& slices, int passes) {
  auto worker_cpu = [&] {
    double sum = 0;
    for (pid_t pid : *c.workers) sum += proc_cpu_seconds(pid);
    return sum;
  };
  Sample s;
  if (!c.prober) return s;
  double self0 = self_cpu_seconds(), workers0 = worker_cpu();
  auto t0 = Clock::now();
  for (int i = 0; i < passes; ++i) s.ok += run_counting(*c.prober, slices[c.next_slice++ % slices.size()]);
  s.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  s.self_cpu_s = self_cpu_seconds() - self0;
  s.worker_cpu_s = worker_cpu() - workers0;
  return s;
}

double median(std::vector<double> x) {
  if (x.empty()) return 0;
  std::sort(x.begin(), x.end());
  size_t m = x.size() / 2;
  return x.size() % 2 ? x[m] : (x[m - 1] + x[m]) / 2;
}

void print_throughput_intro(int n, int slices, int rounds, double min_seconds) {
  std::printf(
      "\n## Throughput: small distinct FWD_D f32 problems, verified against ref\n\n"
      "Each mode keeps one prober alive for the whole benchmark (workers started with "
      "Supervisor::start and 8 other problems run first; in-process likewise gets its engine and "
      "the 8 warm-up problems). A pass is one run() call over %d problems: the next slice of %d "
      "distinct problems, so a problem recurs only after %d others (oneDNN's primitive cache "
      "holds 1,024: every probe creates its primitive, as in a sweep). Every mode walks the same "
      "slices in the same order, after one untimed pass. A measurement is enough passes for the "
      "in-process mode to take about %.1f s; the modes are measured in turn (in-process, jobs=1, "
      "jobs=2), %d rounds. ratio = in-process time / isolated time of the same round (1.0 = no "
      "overhead); the median over rounds is reported, with the range. CPU us/probe: this process "
      "(the supervisor, or everything in-process) and the workers (/proc/PID/stat, 10 ms ticks). "
      "cold: start (spawn, engine init, warm-up problems) plus one pass.\n\n",
      n, slices * n, (slices - 1) * n, min_seconds, rounds);
  std::printf("| engine | mode | ok | passes | median s/pass | probes/s | median ratio | ratio "
              "range | CPU us/probe self | CPU us/probe workers | start s | cold ratio |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n");
}

void print_engine_rows(const std::string& name, const std::vector<Contender>& cs,
                       const std::vector<std::vector<Sample>>& samples, int n, int passes) {
  const double probes = static_cast<double>(n) * passes;
  std::vector<double> pass_s(cs.size());
  for (size_t m = 0; m < cs.size(); ++m) {
    std::vector<double> w;
    for (const Sample& s : samples[m]) w.push_back(s.wall_s / passes);
    pass_s[m] = median(w);
  }
  for (size_t m = 0; m < cs.size(); ++m) {
    std::vector<double> ratios, self_us, worker_us;
    int ok = n;
    for (size_t r = 0; r < samples[m].size(); ++r) {
      ratios.push_back(samples[0][r].wall_s / samples[m][r].wall_s);
      self_us.push_back(samples[m][r].self_cpu_s / probes * 1e6);
      worker_us.push_back(samples[m][r].worker_cpu_s / probes * 1e6);
      ok = std::min(ok, samples[m][r].ok / passes);
    }
    auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
    double cold = (cs[0].start_s + pass_s[0]) / (cs[m].start_s + pass_s[m]);
    std::printf("| %s | %s | %d | %d | %.3f | %.0f | %.2f | %.2f-%.2f | %.0f | %.0f | %.3f | %.2f |\n",
                name.c_str(), cs[m].label.c_str(), ok, passes, pass_s[m], n / pass_s[m],
                median(ratios), *lo, *hi, median(self_us), median(worker_us), cs[m].start_s, cold);
  }
}

void throughput_table(const std::vector<std::string>& engines, int n, int rounds,
                      double min_seconds) {
  constexpr int kSlices = 3;
  auto all = small_problems(kSlices * n + 8);
  std::vector<ProbeRequest> warm(all.end() - 8, all.end());
  // Interleaved, so that every slice has the same mix of sizes.
  std::vector<std::vector<ProbeRequest>> slices(kSlices);
  for (int j = 0; j < kSlices * n; ++j) slices[j % kSlices].push_back(all[static_cast<size_t>(j)]);
  print_throughput_intro(n, kSlices, rounds, min_seconds);
  for (const auto& name : engines) {
    double load0 = load_average();
    std::vector<Contender> cs;
    for (int jobs : {0, 1, 2}) cs.push_back(make_contender(name, jobs, warm));
    // One untimed pass each; the in-process one sets the passes per measurement.
    std::vector<Sample> first;
    for (Contender& c : cs) first.push_back(measure(c, slices, 1));
    int passes = std::max(1, static_cast<int>(std::ceil(min_seconds / std::max(first[0].wall_s, 1e-3))));
    std::vector<std::vector<Sample>> samples(cs.size());
    for (int r = 0; r < rounds; ++r)
      for (size_t m = 0; m < cs.size(); ++m) samples[m].push_back(measure(cs[m], slices, passes));
    print_engine_rows(name, cs, samples, n, passes);
    std::printf("\n%s: 1-minute load average %.2f before, %.2f after; ratio per round, jobs=1:",
                name.c_str(), load0, load_average());
    for (size_t r = 0; r < samples[0].size(); ++r)
      std::printf(" %.2f", samples[0][r].wall_s / samples[1][r].wall_s);
    std::printf("; jobs=2:");
    for (size_t r = 0; r < samples[0].size(); ++r)
      std::printf(" %.2f", samples[0][r].wall_s / samples[2][r].wall_s);
    std::printf("\n\n");
    std::fflush(stdout);
  }
}

// Microseconds per call of f, over enough calls to take about 0.2 s.
template <class F>
double us_per_call(F&& f) {
  int n = 0;
  auto t0 = Clock::now();
  double s = 0;
  do {
    for (int i = 0; i < 100; ++i) f();
    n += 100;
    s = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (s < 0.2);
  return s / n * 1e6;
}

// What one probe costs in protocol work on each side, in this process: the request's
// encode (supervisor) and decode plus parse_problem (worker), the result's encode
// (worker) and decode (supervisor), and a phase frame's encode and decode.
void protocol_table() {
  Problem p = small_problems(1).front().problem;
  Message req;
  req.type = MsgType::probe;
  req.id = 12345;
  req.problem = to_string(p);
  req.algo = kDefaultAlgo;
  Message res;
  res.type = MsgType::result;
  res.id = 12345;
  res.result.problem = key(p);
  res.result.engine = "onednn";
  res.result.algo = kDefaultAlgo;
  res.result.impl = "direct:x64:gemm:jit";
  res.result.phase = Phase::verify;
  res.result.time_ms = 0.0123;
  res.result.reference = "ref";
  Message ph;
  ph.type = MsgType::phase;
  ph.id = 12345;
  ph.phase = Phase::execute;
  const std::string req_frame = encode(req), res_frame = encode(res);
  auto payload = [](const std::string& f) { return std::string_view(f).substr(kFrameHeaderBytes); };
  volatile size_t sink = 0;
  std::printf("\n## Protocol work per probe (this process, one core)\n\n"
              "| step | side | us |\n|---|---|---:|\n");
  std::printf("| encode probe request (%zu bytes) | supervisor | %.1f |\n", req_frame.size(),
              us_per_call([&] { sink = sink + encode(req).size(); }));
  std::printf("| decode probe request | worker | %.1f |\n",
              us_per_call([&] { sink = sink + decode_payload(payload(req_frame))->id; }));
  std::printf("| parse_problem | worker | %.1f |\n",
              us_per_call([&] { sink = sink + parse_problem(req.problem)->ic; }));
  std::printf("| encode result (%zu bytes) | worker | %.1f |\n", res_frame.size(),
              us_per_call([&] { sink = sink + encode(res).size(); }));
  std::printf("| decode result | supervisor | %.1f |\n",
              us_per_call([&] { sink = sink + decode_payload(payload(res_frame))->id; }));
  std::printf("| encode + decode phase frame (x3 per probe) | both | %.1f |\n",
              us_per_call([&] { sink = sink + decode_payload(payload(encode(ph)))->id; }));
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
    return worker_main(kWorkerRequestFd, kWorkerResultFd, make_bench_engine);
  int n = 1000, hangs = 5, rounds = 5;
  double min_seconds = 3;
  std::vector<std::string> engines{"onednn", "ref"};
  std::string quirks = std::string(CONVGUARD_SOURCE_DIR) + "/quirks/rx5600xt-rocm57.json";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--problems") n = std::stoi(v);
    else if (k == "--hangs") hangs = std::stoi(v);
    else if (k == "--rounds") rounds = std::stoi(v);
    else if (k == "--queue-depth") g_queue_depth = std::stoi(v);
    else if (k == "--min-seconds") min_seconds = std::stod(v);
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
  protocol_table();
  throughput_table(engines, n, rounds, min_seconds);
  if (hangs > 0) hang_table(quirks, hangs);
  return 0;
}
