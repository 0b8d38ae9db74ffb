// A ResNet-18-sized convolution stack on a device with the seed's bug (sim over cudnn, or
// over onednn without a GPU, with quirks/rx5600xt-rocm57.json): unguarded, its first 56x56
// 3x3 layer hangs (shown by probing it in an isolated worker); guarded, the forward pass
// and one training step (backward data and backward weights of every layer) complete, each
// layer routed to a proven-safe path, and every result equals the reference.
//
// Each layer runs on benchdnn's integer fills rather than the previous layer's output, so
// that exact algorithms must match the reference bit for bit.
//
//   resnet18_guarded [--base cudnn|onednn] [--quirks FILE] [--profile FILE] [--mb N] [--div N]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "convguard/engine_registry.h"
#include "convguard/fill.h"
#include "convguard/guard.h"
#include "convguard/inprocess.h"
#include "convguard/probe.h"
#include "convguard/supervisor.h"
#include "convguard/worker.h"

namespace cg = convguard;

namespace {

struct Layer {
  std::string name;
  cg::Problem p;
};

struct Args {
  std::string base, quirks = std::string(CONVGUARD_SOURCE_DIR) + "/quirks/rx5600xt-rocm57.json";
  std::string profile = "resnet18-guard.profile.json";
  int64_t mb = 1, div = 1;
};

// ResNet-18's convolutions for a 224x224 image (channels divided by `div`).
std::vector<Layer> resnet18(int64_t mb, int64_t div) {
  std::vector<Layer> v;
  auto add = [&](const std::string& name, int64_t ic, int64_t oc, int64_t ih, int64_t k, int64_t s) {
    const std::string d = "mb" + std::to_string(mb) + "ic" + std::to_string(std::max<int64_t>(1, ic / div)) +
                          "ih" + std::to_string(ih) + "oc" + std::to_string(std::max<int64_t>(1, oc / div)) +
                          "kh" + std::to_string(k) + "sh" + std::to_string(s) + "ph" + std::to_string(k / 2);
    cg::Problem base;
    base.dir = cg::Dir::FWD_B;
    v.push_back({name, cg::parse_problem(d, base).value()});
  };
  add("conv1", 3 * div, 64, 224, 7, 2);
  int64_t c = 64, h = 56;
  for (int stage = 1; stage <= 4; ++stage) {
    const int64_t oc = 64 << (stage - 1), s = stage == 1 ? 1 : 2;
    const std::string l = "layer" + std::to_string(stage);
    add(l + ".0.conv1", c, oc, h, 3, s);
    add(l + ".0.conv2", oc, oc, h / s, 3, 1);
    if (s == 2) add(l + ".0.downsample", c, oc, h, 1, 2);
    add(l + ".1.conv1", oc, oc, h / s, 3, 1);
    add(l + ".1.conv2", oc, oc, h / s, 3, 1);
    c = oc, h /= s;
  }
  return v;
}

std::string pick_base() {
  auto e = cg::make_engine(cg::EngineSpec{"cudnn", "", "", 0});
  return e.ok() && (*e)->init().ok() ? "cudnn" : "onednn";
}

std::shared_ptr<cg::Prober> isolated_prober(const cg::EngineSpec& spec) {
  cg::SupervisorOptions o;
  o.worker_argv = {std::filesystem::read_symlink("/proc/self/exe").string(), "--as-worker"};
  o.engine = spec;
  o.timeouts.execute_floor_s = 2;
  return std::make_shared<cg::Supervisor>(std::move(o));
}

// Probes forward layers in isolation until one fails: what an unguarded run would hit.
std::vector<cg::ProfileProbe> show_unguarded(cg::Prober& prober, const std::vector<Layer>& layers) {
  std::vector<cg::ProfileProbe> seen;
  for (const Layer& l : layers) {
    std::vector<cg::ProbeResult> r;
    const auto start = std::chrono::steady_clock::now();
    (void)cg::run_all(prober, {cg::ProbeRequest{l.p, cg::kDefaultAlgo}}, &r);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("  isolated probe %-18s %-44s %s (%s, %.1f s)\n", l.name.c_str(),
                cg::descriptor(l.p, false).c_str(), cg::to_string(r[0].outcome),
                cg::to_string(r[0].phase), s);
    seen.push_back({int64_t(seen.size()) + 1, r[0], false});
    if (r[0].outcome != cg::Outcome::ok) break;
  }
  return seen;
}

// Runs one problem through the guard and checks it against the reference.
bool run_layer(cg::Guard& guard, cg::Reference& ref, const Layer& l, cg::Dir dir) {
  cg::Problem p = l.p;
  p.dir = dir;
  cg::ConvTensors t;
  cg::resize_for(p, t);
  cg::fill_inputs(p, t, 1);
  cg::poison_outputs(p, t);
  cg::Route route;
  const auto start = std::chrono::steady_clock::now();
  const cg::Status s = guard.run(p, t, &route);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::string verdict = s.ok() ? "" : "FAILED: " + s.to_string();
  if (s.ok()) {
    cg::ProbeResult r;
    cg::judge(p, t, route.algo_class, ref, 1, r);
    verdict = r.outcome == cg::Outcome::ok ? "matches " + r.reference : "MISMATCH " + r.message;
  }
  std::printf("  %-18s %-6s %9.1f ms  %-10s %s\n      %s\n", l.name.c_str(), cg::to_string(dir), ms,
              cg::to_string(route.kind), verdict.c_str(), route.text().c_str());
  return s.ok() && verdict.rfind("matches", 0) == 0;
}

int guarded_main(const Args& a) {
  const cg::EngineSpec spec{"sim", a.base.empty() ? pick_base() : a.base, a.quirks, 0};
  const std::vector<Layer> layers = resnet18(a.mb, a.div);
  std::printf("ResNet-18 convolutions (mb %ld, channels / %ld) on sim over %s with %s\n\n", long(a.mb),
              long(a.div), spec.base.c_str(), a.quirks.c_str());
  auto prober = isolated_prober(spec);
  std::printf("Unguarded (each forward layer probed in an isolated worker until one fails):\n");
  std::vector<cg::ProfileProbe> seen = show_unguarded(*prober, layers);
  auto fp = prober->fingerprint();
  if (!fp.ok()) return std::fprintf(stderr, "fingerprint: %s\n", fp.status().to_string().c_str()), 3;
  auto prof = cg::Profile::build(*fp, seen);
  if (std::filesystem::exists(a.profile)) {
    auto saved = cg::Profile::load(a.profile);
    if (saved.ok() && prof->merge(*saved).ok()) std::printf("(merged the evidence in %s)\n", a.profile.c_str());
  }
  cg::GuardOptions o;
  o.device_engine = "sim", o.device_spec = spec, o.cpu_engine = "onednn";
  o.learn = true, o.prober = prober, o.save_path = a.profile;
  o.make_engine = cg::make_engine;
  auto guard = cg::Guard::open(std::move(prof.value()), o);
  if (!guard.ok()) return std::fprintf(stderr, "guard: %s\n", guard.status().to_string().c_str()), 3;
  auto ref = cg::make_cpu_reference("sim");
  bool all = true;
  std::printf("\nGuarded forward pass (unknown problems are probed once, isolated, first):\n");
  for (const Layer& l : layers) all &= run_layer(*guard, *ref, l, cg::Dir::FWD_B);
  std::printf("\nGuarded training step (backward data, backward weights with bias):\n");
  for (auto it = layers.rbegin(); it != layers.rend(); ++it)
    for (cg::Dir d : {cg::Dir::BWD_D, cg::Dir::BWD_WB}) all &= run_layer(*guard, *ref, *it, d);
  const auto st = guard->stats();
  std::printf("\n%s: %ld decisions, %ld cache hits, %ld probes learned (saved to %s)\n",
              all ? "completed, every layer matches the reference" : "FAILED", long(st.misses),
              long(st.hits), long(st.learned_probes), a.profile.c_str());
  return all ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--as-worker") == 0)
    return cg::worker_main(cg::kWorkerRequestFd, cg::kWorkerResultFd, cg::make_engine);
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--base") a.base = v;
    else if (k == "--quirks") a.quirks = v;
    else if (k == "--profile") a.profile = v;
    else if (k == "--mb") a.mb = std::stol(v);
    else if (k == "--div") a.div = std::stol(v);
    else return std::fprintf(stderr, "unknown option %s\n", k.c_str()), 2;
  }
  return guarded_main(a);
}
