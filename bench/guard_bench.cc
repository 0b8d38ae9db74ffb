// The guard's costs, as ratios in one run (issue 6):
//   1. decision overhead per call once cached (Guard::plan on a known problem)
//   2. guarded against native on problems the profile proves safe (target >= 0.98)
//   3. tiled (tile input <= 42x42) against native on problems safe natively (target >= 0.7)
//   4. the CPU route against the tiled route
// Every time is the wall-clock median of single calls, host tensors in and out, the same
// way for both sides of a ratio.
//
//   guard_bench [--engine onednn|cudnn|ref] [--cpu-engine onednn] [--mb N] [--repeats N]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "convguard/engine_registry.h"
#include "convguard/fill.h"
#include "convguard/guard.h"
#include "convguard/inprocess.h"

namespace cg = convguard;

namespace {

struct Args {
  std::string engine = "onednn", cpu_engine = "onednn";
  int64_t mb = 1;
  int repeats = 20;
};

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// Medians of the calls in `fs`, measured interleaved (one call of each per round), so that
// load changes on a shared machine hit every side of a ratio alike.
std::vector<double> interleaved_ms(int repeats, const std::vector<std::function<void()>>& fs) {
  for (const auto& f : fs) f(), f();
  std::vector<std::vector<double>> ms(fs.size());
  for (int i = 0; i < repeats; ++i)
    for (size_t k = 0; k < fs.size(); ++k) {
      const auto start = std::chrono::steady_clock::now();
      fs[k]();
      ms[k].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
  std::vector<double> out;
  for (auto& v : ms) out.push_back(median(v));
  return out;
}

std::string name(const cg::Problem& p) { return std::string(cg::to_string(p.dir)) + " " + cg::descriptor(p, false); }

std::vector<cg::Problem> problems(int64_t mb) {
  std::vector<cg::Problem> v;
  for (const char* d : {"--dir=FWD_D ic64oc64ih56kh3ph1", "--dir=FWD_D ic128oc128ih56kh3ph1",
                        "--dir=FWD_D ic32oc32ih64kh3ph1", "--dir=FWD_D ic64oc64ih112kh3ph1",
                        "--dir=BWD_D ic64oc64ih56kh3ph1", "--dir=BWD_W ic64oc64ih56kh3ph1"}) {
    cg::Problem p = cg::parse_problem(d).value();
    p.mb = mb;
    v.push_back(p);
  }
  return v;
}

cg::ConvTensors tensors_for(const cg::Problem& p) {
  cg::ConvTensors t;
  cg::resize_for(p, t);
  cg::fill_inputs(p, t, 0);
  return t;
}

// The largest square output tile whose input window is at most `limit` wide.
cg::TilePlan tile_at_most(const cg::Problem& p, int64_t limit) {
  const int64_t ext = (p.kh - 1) * (p.dh + 1) + 1;
  const int64_t t = std::max<int64_t>(1, (limit - ext) / p.sh + 1);
  return {t, t, 0};
}

std::string machine(cg::Engine& e) {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::string cpu;
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; cpu.empty() && std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) cpu = line.substr(line.find(':') + 2);
  std::string dev;
  for (const auto& [k, v] : e.fingerprint())
    if (k.find("device") != std::string::npos || k.find("gpu") != std::string::npos) dev += " " + k + "=" + v;
  return std::string(host) + ", " + cpu + ", " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) +
         " cpus;" + dev + "; " + e.version();
}

// A profile proving every problem natively, from in-process probes (these are safe).
cg::Profile prove(const cg::EngineSpec& spec, const std::vector<cg::Problem>& ps) {
  cg::InProcessProber prober(cg::make_engine(spec).value());
  std::vector<cg::ProfileProbe> evidence;
  for (const cg::Problem& p : ps) {
    std::vector<cg::ProbeResult> r;
    (void)cg::run_all(prober, {cg::ProbeRequest{p, cg::kDefaultAlgo}}, &r);
    if (r[0].outcome != cg::Outcome::ok)
      std::fprintf(stderr, "warning: %s: %s %s\n", cg::key(p).c_str(), cg::to_string(r[0].outcome),
                   r[0].message.c_str());
    evidence.push_back({int64_t(evidence.size()) + 1, r[0], false});
  }
  return cg::Profile::build(prober.fingerprint().value(), evidence).value();
}

int bench(const Args& a, int argc, char** argv) {
  const cg::EngineSpec spec{a.engine, "", "", 0};
  auto engine = cg::make_engine(spec);
  if (!engine.ok() || !(*engine)->init().ok())
    return std::fprintf(stderr, "cannot start engine %s\n", a.engine.c_str()), 3;
  auto cpu = cg::make_engine(cg::EngineSpec{a.cpu_engine, "", "", 0}).value();
  (void)cpu->init();
  const std::vector<cg::Problem> ps = problems(a.mb);
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", std::localtime(&now));
  std::string cmd;
  for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + std::string(argv[i]);
  std::printf("# guard_bench  %s\n# machine: %s\n# command: %s\n# repeats: %d (median of single calls, the sides of each ratio interleaved)\n\n",
              date, machine(**engine).c_str(), cmd.c_str(), a.repeats);

  cg::GuardOptions o;
  o.device_engine = a.engine, o.cpu_engine = a.cpu_engine, o.make_engine = cg::make_engine;
  auto guard = cg::Guard::open(prove(spec, ps), o);
  if (!guard.ok()) return std::fprintf(stderr, "guard: %s\n", guard.status().to_string().c_str()), 3;

  const cg::Problem& first = ps.front();
  (void)guard->plan(first);
  const int n = 1000000;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) (void)guard->plan(first);
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / n;
  std::printf("decision overhead (cached Guard::plan, %d calls): %.0f ns per call\n\n", n, ns);

  std::printf("%-66s %10s %10s %8s  %s\n", "guarded vs native (proven safe)", "native ms", "guarded ms",
              "ratio", "route");
  for (const cg::Problem& p : ps) {
    auto native = (*engine)->prepare(p, cg::kDefaultAlgo).value();
    cg::ConvTensors t = tensors_for(p);
    cg::Route route;
    const auto ms = interleaved_ms(a.repeats, {[&] { (void)native->execute(t, {}); },
                                               [&] { (void)guard->run(p, t, &route); }});
    const double tn = ms[0], tg = ms[1];
    std::printf("%-66s %10.3f %10.3f %8.3f  %s\n", name(p).c_str(), tn, tg, tn / tg,
                cg::to_string(route.kind));
  }

  std::printf("\n%-66s %10s %10s %8s %10s %8s  %s\n", "tiled (input <= 42x42) vs native, cpu route",
              "native ms", "tiled ms", "ratio", "cpu ms", "cpu/tile", "tiles");
  for (const cg::Problem& p : ps) {
    const cg::TilePlan plan = tile_at_most(p, 42);
    auto native = (*engine)->prepare(p, cg::kDefaultAlgo).value();
    auto tiled = cg::prepare_tiled(**engine, p, cg::kDefaultAlgo, plan).value();
    auto on_cpu = cpu->prepare(p, cg::kDefaultAlgo).value();
    cg::ConvTensors t = tensors_for(p);
    const auto ms = interleaved_ms(a.repeats, {[&] { (void)native->execute(t, {}); },
                                               [&] { (void)tiled->execute(t, {}); },
                                               [&] { (void)on_cpu->execute(t, {}); }});
    const double tn = ms[0], tt = ms[1], tc = ms[2];
    const cg::TileGeometry g = cg::tile_geometry(p, plan).value();
    std::printf("%-66s %10.3f %10.3f %8.3f %10.3f %8.2f  %ldx%ld of %ldx%ld, %ld per image\n",
                name(p).c_str(), tn, tt, tn / tt, tc, tc / tt, long(g.th), long(g.tw),
                long(g.tin_h), long(g.tin_w), long(g.tiles()));
  }
  std::printf("\nratio = native ms / other ms (1.0: as fast as native); cpu/tile > 1: the tiled "
              "device route is faster than the CPU route\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--engine") a.engine = v;
    else if (k == "--cpu-engine") a.cpu_engine = v;
    else if (k == "--mb") a.mb = std::stol(v);
    else if (k == "--repeats") a.repeats = std::stoi(v);
    else return std::fprintf(stderr, "unknown option %s\n", k.c_str()), 2;
  }
  return bench(a, argc, argv);
}
