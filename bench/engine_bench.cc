// GFLOP/s of the CPU engines on ResNet-50 shapes (mb1). The time is the engine's own
// median execution time (no reorders, fills or comparison), reported as a counter.
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "convguard/cpu_engines.h"
#include "convguard/fill.h"

namespace convguard {
namespace {

struct Shape {
  const char* name;
  int64_t ic, ih, oc, k, s, p;
};

// ResNet-50's conv1, a stage-1 3x3 and 1x1, a stage-2 3x3, a stage-4 3x3 and the
// stride-2 projection into stage 4.
const Shape kShapes[] = {
    {"conv1_7x7s2_3x64_224", 3, 224, 64, 7, 2, 3},
    {"3x3_64x64_56", 64, 56, 64, 3, 1, 1},
    {"1x1_256x64_56", 256, 56, 64, 1, 1, 0},
    {"3x3_128x128_28", 128, 28, 128, 3, 1, 1},
    {"3x3_512x512_7", 512, 7, 512, 3, 1, 1},
    {"1x1s2_1024x2048_14", 1024, 14, 2048, 1, 2, 0},
};

Problem make_problem(const Shape& s, Dir dir, Layout layout) {
  Problem p;
  p.dir = dir;
  p.layout = layout;
  p.mb = 1;
  p.ic = s.ic, p.ih = p.iw = s.ih, p.oc = s.oc;
  p.kh = p.kw = s.k, p.sh = p.sw = s.s, p.ph = p.pw = s.p;
  p.oh = p.ow = (s.ih - s.k + 2 * s.p) / s.s + 1;
  return p;
}

double flops(const Problem& p) {
  return 2.0 * p.mb * p.oc * p.oh * p.ow * (p.ic / p.g) * p.kh * p.kw;
}

void run(benchmark::State& state, Engine& engine, const Problem& p) {
  if (Status s = engine.init(); !s.ok()) return state.SkipWithError(s.to_string().c_str());
  auto prepared = engine.prepare(p, kDefaultAlgo);
  if (!prepared.ok()) return state.SkipWithError(prepared.status().to_string().c_str());
  ConvTensors t;
  resize_for(p, t);
  fill_inputs(p, t);
  if (!(*prepared)->execute(t, {}).ok()) return state.SkipWithError("warm-up failed");
  double total_ms = 0;
  for (auto _ : state) {
    auto ms = (*prepared)->execute(t, {});
    if (!ms.ok()) return state.SkipWithError(ms.status().to_string().c_str());
    total_ms += *ms;
    state.SetIterationTime(*ms / 1e3);
  }
  state.counters["GFLOP/s"] = flops(p) * double(state.iterations()) / (total_ms * 1e6);
  state.SetLabel((*prepared)->algo());
}

void onednn(benchmark::State& state, Shape s, Dir dir, Layout layout) {
  static std::unique_ptr<Engine> engine = make_onednn_engine();
  run(state, *engine, make_problem(s, dir, layout));
}

void ref(benchmark::State& state, Shape s, Dir dir) {
  static std::unique_ptr<Engine> engine = make_ref_engine();
  run(state, *engine, make_problem(s, dir, Layout::nchw));
}

void register_all() {
  for (const Shape& s : kShapes)
    for (Layout l : {Layout::nhwc, Layout::nchw})
      benchmark::RegisterBenchmark(
          (std::string("onednn/FWD_D/") + to_string(l) + "/" + s.name).c_str(), onednn, s,
          Dir::FWD_D, l)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
  for (Dir d : {Dir::BWD_D, Dir::BWD_W})
    benchmark::RegisterBenchmark(
        (std::string("onednn/") + to_string(d) + "/nhwc/" + kShapes[3].name).c_str(), onednn,
        kShapes[3], d, Layout::nhwc)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  for (const Shape& s : {kShapes[3], kShapes[2]})
    benchmark::RegisterBenchmark((std::string("ref/FWD_D/nchw/") + s.name).c_str(), ref, s,
                                 Dir::FWD_D)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->MinTime(2.0);
}

}  // namespace
}  // namespace convguard

int main(int argc, char** argv) {
  convguard::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
