// Zero-copy spatial tiles on cuDNN, against one call on the whole problem (issue 12's last goal).
//
//   zero_copy_tiles_bench [--mb N] [--reps N] [--align BYTES]
//
// The guard's tiles under PyTorch copy: zero padding, a gather of the windows with their halo
// into the batch dimension, and a scatter back; on the H200 those copies cost the device as much
// as the convolution. This bench asks whether tiles without any copy reach 0.9 of native: each
// tile is one cuDNN backend-API call on strided windows of the whole tensors, with the tile's own
// paddings before and after (a border tile pads one side only; an interior one none), so every
// byte is read where it lies and written where it belongs:
//   - forward and backward-weights: a tile of the output, its input window with the halo; the
//     weight gradient accumulates over the tiles (beta 1 after the first);
//   - backward-data: a tile of the input gradient, its window of the output gradient (each tile
//     owns its rows, so nothing overlaps and nothing is added afterwards).
// Each tile shape gets its plan once (cuDNN's heuristics, first engine that finalizes), as a
// guard would cache it. Device time by CUDA events around --reps calls, after a warm-up; each
// tiled result is compared with the whole call's. Shares no convguard code, like
// tools/cudnn_repro: the question is cuDNN's, not convguard's.
#include <cudnn.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace {

// A failed call ends the problem's row (printed with the reason), not the run.
[[noreturn]] void fail(const char* what, const std::string& detail) {
  throw std::runtime_error(std::string(what) + ": " + detail);
}
void check(cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS) fail(what, cudnnGetErrorString(s));
}
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(what, cudaGetErrorString(e));
}

enum class Dir { fwd, bwd_data, bwd_weights };
const char* dir_name(Dir d) {
  return d == Dir::fwd ? "FWD_D" : d == Dir::bwd_data ? "BWD_D" : "BWD_W";
}

// NCHW, stride 1, no dilation; the kernel's padding p on every side of the whole problem.
struct Problem {
  Dir dir;
  int64_t n, c, h, w, k, r, p, tile;
  int64_t oh() const { return h + 2 * p - r + 1; }
  int64_t ow() const { return w + 2 * p - r + 1; }
};

// One axis of one call: where the input window and the output window start and how long they
// are, and the paddings that make the convolution of the one the other.
struct Span {
  int64_t x0, xlen, y0, ylen, pre, post;
  auto key() const { return std::tie(xlen, ylen, pre, post); }
};

// Forward and backward-weights: output rows [a, b); the input rows they read, clipped.
Span span_for_output(int64_t a, int64_t b, int64_t in, int64_t r, int64_t p) {
  const int64_t lo = a - p, hi = b - 1 - p + r;  // [lo, hi) unclipped
  const int64_t x0 = std::max<int64_t>(0, lo), x1 = std::min(in, hi);
  return {x0, x1 - x0, a, b - a, x0 - lo, hi - x1};
}

// Backward-data: input-gradient rows [a, b); the output-gradient rows that reach them, clipped.
// Read as a forward convolution from the input window to the output window, whose paddings
// follow from the windows' offsets; its adjoint on the window is the exact gradient there,
// because every output row that reaches a row of the window is in the output window.
Span span_for_input(int64_t a, int64_t b, int64_t out, int64_t r, int64_t p) {
  const int64_t y0 = std::max<int64_t>(0, a + p - r + 1), y1 = std::min(out, b + p);
  const int64_t pre = a + p - y0;
  const int64_t post = (y1 - y0) - (b - a) - pre + r - 1;
  return {a, b - a, y0, y1 - y0, pre, post};
}

std::vector<std::pair<int64_t, int64_t>> cuts(int64_t size, int64_t tile) {
  std::vector<std::pair<int64_t, int64_t>> v;
  for (int64_t a = 0; a < size; a += tile) v.push_back({a, std::min(size, a + tile)});
  return v;
}

struct Desc {
  cudnnBackendDescriptor_t d = nullptr;
  explicit Desc(cudnnBackendDescriptorType_t t) {
    check(cudnnBackendCreateDescriptor(t, &d), "create descriptor");
  }
  Desc(const Desc&) = delete;
  ~Desc() { cudnnBackendDestroyDescriptor(d); }
  void set(cudnnBackendAttributeName_t n, cudnnBackendAttributeType_t t, int64_t count,
           const void* v) {
    check(cudnnBackendSetAttribute(d, n, t, count, v), "set attribute");
  }
  cudnnStatus_t finalize() { return cudnnBackendFinalize(d); }
};

std::unique_ptr<Desc> tensor(int64_t uid, const int64_t dims[4], const int64_t strides[4],
                             int64_t align) {
  auto t = std::make_unique<Desc>(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  const cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
  t->set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &f32);
  t->set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
  t->set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
  t->set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
  t->set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
  check(t->finalize(), "finalize tensor");
  return t;
}

// One call's geometry: the x and y windows (dims) inside the whole tensors (strides).
struct CallShape {
  Dir dir;
  int64_t xd[4], xs[4], yd[4], ys[4], wd[4], pre[2], post[2];
  float beta;
  int64_t align;
  auto key() const {
    return std::make_tuple(int(dir), std::vector<int64_t>(xd, xd + 4),
                           std::vector<int64_t>(yd, yd + 4), pre[0], pre[1], post[0], post[1],
                           beta, align);
  }
};

struct Plan {
  std::vector<std::unique_ptr<Desc>> keep;  // everything the plan refers to
  cudnnBackendDescriptor_t plan = nullptr;
  int64_t workspace = 0;
  std::string engine;
};

std::unique_ptr<Desc> operation(const CallShape& s, const Desc& x, const Desc& w, const Desc& y,
                                const Desc& conv) {
  struct A { cudnnBackendDescriptorType_t t; cudnnBackendAttributeName_t al, be, cv, x, w, y; };
  const A a =
      s.dir == Dir::fwd
          ? A{CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y}
      : s.dir == Dir::bwd_data
          ? A{CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY}
          : A{CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY};
  auto op = std::make_unique<Desc>(a.t);
  const float alpha = 1.f;
  op->set(a.al, CUDNN_TYPE_FLOAT, 1, &alpha);
  op->set(a.be, CUDNN_TYPE_FLOAT, 1, &s.beta);
  for (auto [name, d] : {std::pair{a.cv, &conv}, {a.x, &x}, {a.w, &w}, {a.y, &y}})
    op->set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &d->d);
  check(op->finalize(), "finalize operation");
  return op;
}

std::unique_ptr<Desc> convolution(const CallShape& s) {
  auto c = std::make_unique<Desc>(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  const int64_t dims = 2, ones[2] = {1, 1};
  const cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  c->set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims);
  c->set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &f32);
  c->set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
  c->set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, s.pre);
  c->set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, s.post);
  c->set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, ones);
  c->set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, ones);
  check(c->finalize(), "finalize convolution");
  return c;
}

// "eng34": the global index of a configuration's engine.
std::string engine_index(cudnnBackendDescriptor_t cfg) {
  Desc engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  int64_t n = 0, index = -1;
  if (cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                               &n, &engine.d) != CUDNN_STATUS_SUCCESS ||
      cudnnBackendGetAttribute(engine.d, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n,
                               &index) != CUDNN_STATUS_SUCCESS)
    return "eng?";
  return "eng" + std::to_string(index);
}

bool first_plan(cudnnHandle_t h, const Desc& graph, cudnnBackendHeurMode_t mode, Plan* out);

// The graph of one call, and the first of cuDNN's heuristic engine configurations whose plan
// finalizes.
Plan make_plan(cudnnHandle_t h, const CallShape& s) {
  Plan pl;
  const int64_t packed_w[4] = {s.wd[1] * s.wd[2] * s.wd[3], s.wd[2] * s.wd[3], s.wd[3], 1};
  auto& x = *pl.keep.emplace_back(tensor(1, s.xd, s.xs, s.align));
  auto& w = *pl.keep.emplace_back(tensor(2, s.wd, packed_w, 256));
  auto& y = *pl.keep.emplace_back(tensor(3, s.yd, s.ys, s.align));
  auto& conv = *pl.keep.emplace_back(convolution(s));
  auto& op = *pl.keep.emplace_back(operation(s, x, w, y, conv));
  auto& graph = *pl.keep.emplace_back(std::make_unique<Desc>(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR));
  graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op.d);
  graph.set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
  check(graph.finalize(), "finalize graph");
  for (cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK})
    if (first_plan(h, graph, mode, &pl)) return pl;
  fail("no engine", std::string(dir_name(s.dir)) + ": no configuration of the heuristics or the fallback finalizes");
}

// The first configuration cuDNN's heuristics (`mode`) give for graph whose plan finalizes.
bool first_plan(cudnnHandle_t h, const Desc& graph, cudnnBackendHeurMode_t mode, Plan* out) {
  Plan& pl = *out;
  auto& heur = *pl.keep.emplace_back(std::make_unique<Desc>(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR));
  heur.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph.d);
  heur.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
  if (heur.finalize() != CUDNN_STATUS_SUCCESS) return false;
  constexpr int kMax = 16;
  std::vector<std::unique_ptr<Desc>> cfgs;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int i = 0; i < kMax; ++i) {
    cfgs.push_back(std::make_unique<Desc>(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
    raw.push_back(cfgs.back()->d);
  }
  int64_t n = 0;
  check(cudnnBackendGetAttribute(heur.d, CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                 CUDNN_TYPE_BACKEND_DESCRIPTOR, kMax, &n, raw.data()),
        "heuristic results");
  for (int64_t i = 0; i < n; ++i) {
    auto plan = std::make_unique<Desc>(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    plan->set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
    plan->set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &raw[i]);
    if (plan->finalize() != CUDNN_STATUS_SUCCESS) continue;
    int64_t got = 0;
    check(cudnnBackendGetAttribute(plan->d, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                   CUDNN_TYPE_INT64, 1, &got, &pl.workspace),
          "workspace size");
    pl.engine = engine_index(raw[i]);
    pl.plan = plan->d;
    pl.keep.push_back(std::move(cfgs[i]));
    pl.keep.push_back(std::move(plan));
    return true;
  }
  return false;
}

struct Buffers {
  float *x, *w, *y;
};

void fill(float* d, int64_t n, uint32_t seed) {
  std::vector<float> h(n);
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (auto& v : h) v = u(g);
  check(cudaMemcpy(d, h.data(), n * sizeof(float), cudaMemcpyHostToDevice), "fill");
}

class Runner {
 public:
  explicit Runner(int64_t align) : align_(align) {
    check(cudnnCreate(&h_), "cudnnCreate");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "stream");
    check(cudnnSetStream(h_, stream_), "cudnnSetStream");
    check(cudaMalloc(&ws_, ws_size_), "workspace");
  }
  ~Runner() {
    cudaFree(ws_);
    cudnnDestroy(h_);
    cudaStreamDestroy(stream_);
  }
  cudaStream_t stream() const { return stream_; }
  // One call: x, w, y are where the windows begin.
  void call(const CallShape& s, float* x, float* w, float* y) {
    auto it = plans_.find(s.key());
    if (it == plans_.end()) it = plans_.emplace(s.key(), make_plan(h_, s)).first;
    const Plan& pl = it->second;
    if (pl.workspace > ws_size_) fail("workspace", std::to_string(pl.workspace));
    void* ptrs[3] = {x, w, y};
    const int64_t uids[3] = {1, 2, 3};
    Desc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    pack.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs);
    pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids);
    pack.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws_);
    check(pack.finalize(), "finalize variant pack");
    check(cudnnBackendExecute(h_, pl.plan, pack.d), dir_name(s.dir));
  }
  const std::string& engine(const CallShape& s) { return plans_.at(s.key()).engine; }
  size_t plans() const { return plans_.size(); }
  int64_t align() const { return align_; }

 private:
  cudnnHandle_t h_ = nullptr;
  cudaStream_t stream_ = nullptr;
  void* ws_ = nullptr;
  int64_t ws_size_ = int64_t{1} << 30;
  int64_t align_;
  std::map<decltype(std::declval<CallShape>().key()), Plan> plans_;
};

void packed(const int64_t d[4], int64_t s[4]) {
  s[3] = 1, s[2] = d[3], s[1] = d[2] * d[3], s[0] = d[1] * d[2] * d[3];
}

CallShape whole(const Problem& p, int64_t align) {
  CallShape s{};
  s.dir = p.dir;
  const int64_t xd[4] = {p.n, p.c, p.h, p.w}, yd[4] = {p.n, p.k, p.oh(), p.ow()},
                wd[4] = {p.k, p.c, p.r, p.r};
  std::copy(xd, xd + 4, s.xd), std::copy(yd, yd + 4, s.yd), std::copy(wd, wd + 4, s.wd);
  packed(s.xd, s.xs), packed(s.yd, s.ys);
  s.pre[0] = s.pre[1] = s.post[0] = s.post[1] = p.p;
  s.beta = 0.f;
  s.align = align;
  return s;
}

struct TileCall {
  CallShape shape;
  int64_t x_offset, y_offset;  // elements from the whole tensors' starts
};

std::vector<TileCall> tile_calls(const Problem& p, int64_t align) {
  const CallShape all = whole(p, 256);
  std::vector<TileCall> calls;
  const bool by_input = p.dir == Dir::bwd_data;
  const int64_t th = by_input ? p.h : p.oh(), tw = by_input ? p.w : p.ow();
  for (auto [a, b] : cuts(th, p.tile))
    for (auto [c, d] : cuts(tw, p.tile)) {
      const Span sh = by_input ? span_for_input(a, b, p.oh(), p.r, p.p)
                               : span_for_output(a, b, p.h, p.r, p.p);
      const Span sw = by_input ? span_for_input(c, d, p.ow(), p.r, p.p)
                               : span_for_output(c, d, p.w, p.r, p.p);
      TileCall t{all, 0, 0};
      t.shape.xd[2] = sh.xlen, t.shape.xd[3] = sw.xlen;
      t.shape.yd[2] = sh.ylen, t.shape.yd[3] = sw.ylen;
      t.shape.pre[0] = sh.pre, t.shape.pre[1] = sw.pre;
      t.shape.post[0] = sh.post, t.shape.post[1] = sw.post;
      t.shape.beta = p.dir == Dir::bwd_weights && !calls.empty() ? 1.f : 0.f;
      t.shape.align = align;
      t.x_offset = sh.x0 * all.xs[2] + sw.x0;
      t.y_offset = sh.y0 * all.ys[2] + sw.y0;
      calls.push_back(t);
    }
  return calls;
}

// The whole problem's three tensors; which one is the result depends on the direction.
struct Tensors {
  float *x, *w, *y;
  float* result(Dir d) const { return d == Dir::fwd ? y : d == Dir::bwd_data ? x : w; }
};

void run_whole(Runner& r, const Problem& p, const Tensors& t) {
  r.call(whole(p, 256), t.x, t.w, t.y);
}
void run_tiles(Runner& r, const std::vector<TileCall>& calls, const Tensors& t) {
  for (const TileCall& c : calls) r.call(c.shape, t.x + c.x_offset, t.w, t.y + c.y_offset);
}

void hold_stream(void*) { std::this_thread::sleep_for(std::chrono::milliseconds(50)); }

// Microseconds a call takes on stream s. held: the stream first waits on a host function while
// every call is queued, so the time is the device's own (no gaps while the host prepares a
// call); otherwise back to back as a program would issue them (host time included).
template <class F>
float call_us(cudaStream_t s, F f, int reps, bool held) {
  cudaEvent_t a, b;
  cudaEventCreate(&a), cudaEventCreate(&b);
  for (int i = 0; i < 3; ++i) f();
  check(cudaStreamSynchronize(s), "warm-up");
  if (held) check(cudaLaunchHostFunc(s, hold_stream, nullptr), "hold");
  cudaEventRecord(a, s);
  for (int i = 0; i < reps; ++i) f();
  cudaEventRecord(b, s);
  check(cudaEventSynchronize(b), "synchronize");
  float ms = 0;
  cudaEventElapsedTime(&ms, a, b);
  cudaEventDestroy(a), cudaEventDestroy(b);
  return ms * 1000.f / reps;
}

std::vector<float> download(const float* d, int64_t n) {
  std::vector<float> h(n);
  check(cudaMemcpy(h.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost), "download");
  return h;
}

double normwise(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += double(a[i] - b[i]) * (a[i] - b[i]), den += double(b[i]) * b[i];
  return std::sqrt(num / std::max(den, 1e-300));
}

struct Row {
  std::string name;
  size_t tiles;
  float native_us, tiled_us, native_wall_us, tiled_wall_us;
  double error;
  std::string engines;
};

// Device memory freed however the row ends.
struct DeviceFloats {
  float* p = nullptr;
  explicit DeviceFloats(int64_t n) { check(cudaMalloc(&p, n * sizeof(float)), "cudaMalloc"); }
  DeviceFloats(const DeviceFloats&) = delete;
  ~DeviceFloats() { cudaFree(p); }
};

std::string name_of(const Problem& p) {
  return std::string(dir_name(p.dir)) + " mb" + std::to_string(p.n) + " ic" + std::to_string(p.c) +
         " " + std::to_string(p.h) + "x" + std::to_string(p.w) + " (tiles " + std::to_string(p.tile) +
         ")";
}

Row measure(Runner& r, const Problem& p, int reps) {
  const int64_t nx = p.n * p.c * p.h * p.w, nw = p.k * p.c * p.r * p.r,
                ny = p.n * p.k * p.oh() * p.ow();
  DeviceFloats dx(nx), dw(nw), dy(ny);
  const Tensors t{dx.p, dw.p, dy.p};
  fill(t.x, nx, 1), fill(t.w, nw, 2), fill(t.y, ny, 3);
  const int64_t nres = p.dir == Dir::fwd ? ny : p.dir == Dir::bwd_data ? nx : nw;
  const auto calls = tile_calls(p, r.align());
  run_whole(r, p, t);
  check(cudaStreamSynchronize(r.stream()), "whole");
  const auto want = download(t.result(p.dir), nres);
  check(cudaMemset(t.result(p.dir), 0xff, nres * 4), "poison");  // NaN where a tile misses
  run_tiles(r, calls, t);
  check(cudaStreamSynchronize(r.stream()), "tiles");
  const auto got = download(t.result(p.dir), nres);
  Row row{name_of(p), calls.size(), 0, 0, 0, 0, normwise(got, want), ""};
  // Alternating rounds, so that neither side owns the GPU's warm state; medians.
  std::vector<float> v[4];
  for (int round = 0; round < 5; ++round)
    for (int held = 0; held < 2; ++held) {
      v[2 * held].push_back(call_us(r.stream(), [&] { run_whole(r, p, t); }, reps, held));
      v[2 * held + 1].push_back(call_us(r.stream(), [&] { run_tiles(r, calls, t); }, reps, held));
    }
  for (auto& x : v) std::sort(x.begin(), x.end());
  row.native_wall_us = v[0][2], row.tiled_wall_us = v[1][2];
  row.native_us = v[2][2], row.tiled_us = v[3][2];
  row.engines = r.engine(whole(p, 256)) + " / " + r.engine(calls.front().shape);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t mb = 8, align = 4;
  int reps = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const long v = std::strtol(argv[i + 1], nullptr, 10);
    if (k == "--mb" && v > 0) mb = v;
    else if (k == "--reps" && v > 0) reps = static_cast<int>(v);
    else if (k == "--align" && v > 0) align = v;
    else {
      std::fprintf(stderr, "zero_copy_tiles_bench: bad argument %s=%s\n", argv[i], argv[i + 1]);
      return 2;
    }
  }
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("zero_copy_tiles_bench: no CUDA device, nothing measured\n");
    return 0;
  }
  Runner r(align);
  // bench/guard_bench.cc's problems (3x3, pad 1), with the tiles the guard chose for them.
  const std::vector<Problem> ps = {
      {Dir::fwd, mb, 64, 56, 56, 64, 3, 1, 28},         {Dir::fwd, mb, 128, 56, 56, 128, 3, 1, 28},
      {Dir::fwd, mb, 32, 64, 64, 32, 3, 1, 32},         {Dir::fwd, mb, 64, 112, 112, 64, 3, 1, 28},
      {Dir::bwd_data, mb, 64, 56, 56, 64, 3, 1, 28},    {Dir::bwd_weights, mb, 64, 56, 56, 64, 3, 1, 28}};
  std::printf("| problem | calls | device: native us | tiles us | native / tiles | back to back: "
              "native us | tiles us | native / tiles | tiles vs native (normwise) | engines "
              "(native / a tile) |\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Problem& p : ps) {
    Row row;
    try {
      row = measure(r, p, reps);
    } catch (const std::exception& e) {
      std::printf("| %s | %s |\n", name_of(p).c_str(), e.what());
      continue;
    }
    std::printf("| %s | %zu | %.1f | %.1f | %.3f | %.1f | %.1f | %.3f | %.2e | %s |\n",
                row.name.c_str(), row.tiles, row.native_us, row.tiled_us,
                row.native_us / row.tiled_us, row.native_wall_us, row.tiled_wall_us,
                row.native_wall_us / row.tiled_wall_us, row.error, row.engines.c_str());
    std::fflush(stdout);
  }
  std::printf("\nplans built: %zu; byte alignment of the tiles' windows: %lld\n", r.plans(),
              static_cast<long long>(align));
  return 0;
}
