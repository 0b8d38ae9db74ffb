// The test double of MIOpen (libconvguard_fake_miopen.so): the immediate-mode and Find calls
// of miopen.h over host memory, every solver computing a plain direct convolution, and
// per-solver faults read from the file named by CONVGUARD_FAKE_MIOPEN_FAULTS, one per line:
//
//   <solver name> <fault> [seconds]
//
// faults: hang_compile, hang_execute, hang_find (Find hangs while it benchmarks the solver),
// crash_compile, crash_execute, error_compile, error_execute, wrong (one output element off
// by one), slow_compile <seconds>, oob_output (writes past the output), oob_workspace (past
// the workspace), absent (not offered). Hangs spin and crashes raise SIGSEGV, so that
// isolation deals with real ones. Find writes a line to <MIOPEN_USER_DB_PATH or
// $HOME/.config/miopen>/fake.ufdb.txt and compilation to <MIOPEN_CUSTOM_CACHE_DIR or
// $HOME/.cache/miopen>/fake.kdb.txt, so tests can see where state goes.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engines/miopen/element.h"
#include "engines/miopen/testing/fake_conv.h"

namespace {

using namespace convguard::miopen::fake;
using convguard::miopen::Elem;
using convguard::miopen::load_elem;
using convguard::miopen::store_elem;
using miopenStatus_t = int;
constexpr miopenStatus_t kOk = 0, kBadParm = 3, kNotImplemented = 6, kUnknown = 7;

struct Solver {
  uint64_t id;
  const char* name;
  int dirs;       // Dir bits
  int algorithm;  // miopenConvAlgorithm_t
  float time;     // what Find measures
  bool gemm_workspace;
  bool winograd3x3;  // applicable only to 3x3, stride 1, dense, ungrouped
};

// Ids as MIOpen registers them; 9001 stands for a solver newer than any name table.
constexpr Solver kSolvers[] = {
    {85, "ConvDirectNaiveConvFwd", kFwd, 1, 3.0f, false, false},
    {91, "GemmFwdRest", kFwd, 0, 2.0f, true, false},
    {84, "ConvBinWinogradRxSf2x3g1", kFwd | kBwdData, 3, 1.0f, false, true},
    {9001, "ConvFutureSolver", kFwd, 1, 2.5f, false, false},
    {86, "ConvDirectNaiveConvBwd", kBwdData, 1, 3.0f, false, false},
    {97, "GemmBwdRest", kBwdData, 0, 2.0f, true, false},
    {87, "ConvDirectNaiveConvWrw", kBwdWeights, 1, 3.0f, false, false},
    {102, "GemmWrwUniversal", kBwdWeights, 0, 2.0f, true, false},
};

struct Fault {
  std::string kind;
  double seconds = 0;
};

// solver name -> its faults, read once.
const std::multimap<std::string, Fault>& faults() {
  static const std::multimap<std::string, Fault> f = [] {
    std::multimap<std::string, Fault> m;
    const char* path = std::getenv("CONVGUARD_FAKE_MIOPEN_FAULTS");
    if (!path || !*path) return m;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string solver;
      Fault fault;
      if (words >> solver >> fault.kind && solver[0] != '#') {
        words >> fault.seconds;
        m.emplace(solver, fault);
      }
    }
    return m;
  }();
  return f;
}

const Fault* fault_of(const Solver& s, const std::string& kind) {
  auto [lo, hi] = faults().equal_range(s.name);
  for (auto it = lo; it != hi; ++it)
    if (it->second.kind == kind) return &it->second;
  return nullptr;
}

[[noreturn]] void spin() {
  volatile uint64_t i = 0;
  for (;;) i = i + 1;
}

[[noreturn]] void crash() {
  std::raise(SIGSEGV);
  std::abort();
}

// Applies the hang/crash/error/slow faults of `phase` ("compile", "execute").
miopenStatus_t phase_faults(const Solver& s, const std::string& phase) {
  if (fault_of(s, "hang_" + phase)) spin();
  if (fault_of(s, "crash_" + phase)) crash();
  if (const Fault* f = fault_of(s, "slow_" + phase))
    std::this_thread::sleep_for(std::chrono::duration<double>(f->seconds));
  return fault_of(s, "error_" + phase) ? kUnknown : kOk;
}

bool applicable(const Solver& s, const Problem& p) {
  if (!(s.dirs & p.dir) || fault_of(s, "absent")) return false;
  if (!s.winograd3x3) return true;
  const Conv& c = *p.conv;
  return p.w->dims[2] == 3 && p.w->dims[3] == 3 && c.stride[0] == 1 && c.stride[1] == 1 &&
         c.dil[0] == 1 && c.dil[1] == 1 && c.groups == 1;
}

size_t workspace_of(const Solver& s, const Problem& p) {
  if (!s.gemm_workspace) return 0;
  const Tensor &w = *p.w, &y = *p.y;
  return size_t(w.dims[1]) * w.dims[2] * w.dims[3] * y.dims[2] * y.dims[3] * sizeof(float);
}

const Solver* solver_by_id(uint64_t id) {
  for (const Solver& s : kSolvers)
    if (s.id == id) return &s;
  return nullptr;
}

void append_line(const char* var, const char* fallback, const char* file, const std::string& line) {
  namespace fs = std::filesystem;
  const char* dir = std::getenv(var);
  const char* home = std::getenv("HOME");
  fs::path folder = dir && *dir ? fs::path(dir) : fs::path(home ? home : "/tmp") / fallback;
  std::error_code ec;
  fs::create_directories(folder, ec);
  std::ofstream(folder / file, std::ios::app) << line << "\n";
}

std::string key_of(const Problem& p) {
  std::ostringstream k;
  k << p.dir;
  for (const Tensor* t : {p.x, p.w, p.y})
    for (int i = 0; i < 4; ++i) k << ' ' << t->dims[i] << ':' << t->strides[i];
  k << ' ' << int(p.x->elem) << ' ' << p.conv->pad[0] << p.conv->pad[1] << p.conv->stride[0]
    << p.conv->stride[1] << p.conv->dil[0] << p.conv->dil[1] << ' ' << p.conv->groups;
  return k.str();
}

// Problem key -> the solver Find picked (the fake's find-db, per process).
std::map<std::string, uint64_t>& found() {
  static std::map<std::string, uint64_t> f;
  return f;
}

miopenStatus_t run_solver(const Solver& s, const Problem& p, const void* x, const void* w, void* y,
                          void* workspace, size_t workspace_size) {
  const size_t need = workspace_of(s, p);
  if (need > 0 && (!workspace || workspace_size < need)) return kBadParm;
  if (miopenStatus_t st = phase_faults(s, "execute"); st != kOk) return st;
  if (need > 0) std::memset(workspace, 0x5a, need);
  compute(p, x, w, y);
  const Tensor& out = p.dir == kFwd ? *p.y : p.dir == kBwdData ? *p.x : *p.w;
  void* out_data = p.dir == kFwd       ? y
                   : p.dir == kBwdData ? const_cast<void*>(x)
                                       : const_cast<void*>(w);
  if (fault_of(s, "wrong"))
    store_elem(out.elem, out_data, 0, load_elem(out.elem, out_data, 0) + 1.0f);
  if (fault_of(s, "oob_output"))
    std::memset(
        static_cast<char*>(out_data) + out.extent() * convguard::miopen::elem_size(out.elem), 0x7f,
        16);
  if (fault_of(s, "oob_workspace") && workspace)
    std::memset(static_cast<char*>(workspace) + workspace_size, 0x7f, 16);
  return kOk;
}

// Descriptor order of the solution calls: fwd (w, x, y), bwd data (dy, w, dx), bwd weights
// (dy, x, dw).
Problem solution_problem(Dir d, const void* a, const void* b, const void* conv, const void* c) {
  auto T = [](const void* t) { return static_cast<const Tensor*>(t); };
  const Conv* cv = static_cast<const Conv*>(conv);
  if (d == kFwd) return {T(b), T(a), T(c), cv, d};
  if (d == kBwdData) return {T(c), T(b), T(a), cv, d};
  return {T(b), T(c), T(a), cv, d};
}

miopenStatus_t solution_count(Dir d, const void* a, const void* b, const void* conv, const void* c,
                              size_t* n) {
  const Problem p = solution_problem(d, a, b, conv, c);
  *n = 0;
  for (const Solver& s : kSolvers) *n += applicable(s, p);
  return kOk;
}

miopenStatus_t solutions(Dir d, const void* a, const void* b, const void* conv, const void* c,
                         size_t max, size_t* n, void* out) {
  struct Sol {
    float time;
    size_t workspace_size;
    uint64_t solution_id;
    int algorithm;
  };
  const Problem p = solution_problem(d, a, b, conv, c);
  std::vector<Sol> list;
  for (const Solver& s : kSolvers)
    if (applicable(s, p)) list.push_back({s.time, workspace_of(s, p), s.id, s.algorithm});
  // After a Find, the solution it picked comes first (MIOpen reads its find-db).
  if (auto it = found().find(key_of(p)); it != found().end())
    for (size_t i = 0; i < list.size(); ++i)
      if (list[i].solution_id == it->second) std::swap(list[0], list[i]);
  *n = std::min(max, list.size());
  std::memcpy(out, list.data(), *n * sizeof(Sol));
  return kOk;
}

miopenStatus_t solution_workspace(Dir d, const void* a, const void* b, const void* conv,
                                  const void* c, uint64_t id, size_t* size) {
  const Solver* s = solver_by_id(id);
  const Problem p = solution_problem(d, a, b, conv, c);
  if (!s || !applicable(*s, p)) return kBadParm;
  *size = workspace_of(*s, p);
  return kOk;
}

miopenStatus_t compile(Dir d, const void* a, const void* b, const void* conv, const void* c,
                       uint64_t id) {
  const Solver* s = solver_by_id(id);
  const Problem p = solution_problem(d, a, b, conv, c);
  if (!s || !applicable(*s, p)) return kBadParm;
  if (miopenStatus_t st = phase_faults(*s, "compile"); st != kOk) return st;
  append_line("MIOPEN_CUSTOM_CACHE_DIR", ".cache/miopen", "fake.kdb.txt", s->name);
  return kOk;
}

miopenStatus_t immediate(Dir d, const void* da, const void* a, const void* db, const void* b,
                         const void* conv, const void* dc, void* c, void* ws, size_t ws_size,
                         uint64_t id) {
  const Solver* s = solver_by_id(id);
  const Problem p = solution_problem(d, da, db, conv, dc);
  if (!s || !applicable(*s, p)) return kBadParm;
  // Bind a, b, c to x, w, y as solution_problem binds the descriptors.
  const void* x = d == kFwd ? b : d == kBwdData ? c : b;
  const void* w = d == kFwd ? a : d == kBwdData ? b : c;
  void* y = d == kFwd ? c : const_cast<void*>(a);
  return run_solver(*s, p, x, w, y, ws, ws_size);
}

// MIOPEN_FIND_MODE (name or number) over the descriptor's mode, as MIOpen reads it.
int find_mode(const Conv& c) {
  const char* e = std::getenv("MIOPEN_FIND_MODE");
  if (!e || !*e) return c.find_mode;
  const std::string m = e;
  if (m == "NORMAL" || m == "normal" || m == "1") return 1;
  if (m == "FAST" || m == "fast" || m == "2") return 2;
  if (m == "HYBRID" || m == "hybrid" || m == "3") return 3;
  return 5;
}

// Find's descriptor order: fwd (x, w, y), bwd data (dy, w, dx), bwd weights (dy, x, dw).
miopenStatus_t find(Dir d, const void* dp, const void* pd, const void* dq, const void* qd,
                    const void* conv, const void* dr, void* rd, int request, int* returned,
                    void* perf, void* ws, size_t ws_size) {
  auto T = [](const void* t) { return static_cast<const Tensor*>(t); };
  const Conv* cv = static_cast<const Conv*>(conv);
  Problem p{};
  const void *x, *w;
  void* y;
  if (d == kFwd)
    p = {T(dp), T(dq), T(dr), cv, d}, x = pd, w = qd, y = rd;
  else if (d == kBwdData)
    p = {T(dr), T(dq), T(dp), cv, d}, x = rd, w = qd, y = const_cast<void*>(pd);
  else
    p = {T(dq), T(dr), T(dp), cv, d}, x = qd, w = rd, y = const_cast<void*>(pd);
  const int mode = find_mode(*cv);
  const Solver* best = nullptr;
  for (const Solver& s : kSolvers) {
    if (!applicable(s, p) || workspace_of(s, p) > ws_size) continue;
    if (mode == 2) {  // fast: the first applicable by heuristic, nothing benchmarked
      best = &s;
      break;
    }
    if (fault_of(s, "hang_find")) spin();
    if (fault_of(s, "crash_find")) crash();
    if (run_solver(s, p, x, w, y, ws, ws_size) != kOk) continue;
    if (!best || s.time < best->time) best = &s;
  }
  if (!best) return kNotImplemented;
  found()[key_of(p)] = best->id;
  append_line("MIOPEN_USER_DB_PATH", ".config/miopen", "fake.ufdb.txt",
              std::string(best->name) + " mode " + std::to_string(mode));
  struct Perf {
    int algo;
    float time;
    size_t memory;
  } r{best->algorithm, best->time, workspace_of(*best, p)};
  if (request < 1) return kBadParm;
  std::memcpy(perf, &r, sizeof r);
  *returned = 1;
  return kOk;
}

}  // namespace

extern "C" {

using H = void*;
using D = void*;

miopenStatus_t miopenGetVersion(size_t* major, size_t* minor, size_t* patch) {
  *major = 3, *minor = 4, *patch = 0;
  return kOk;
}
miopenStatus_t miopenCreate(H* h) {
  static int handle;
  *h = &handle;
  return kOk;
}
miopenStatus_t miopenDestroy(H) { return kOk; }
const char* miopenGetErrorString(miopenStatus_t s) {
  switch (s) {
    case kOk: return "miopenStatusSuccess";
    case kBadParm: return "miopenStatusBadParm";
    case kNotImplemented: return "miopenStatusNotImplemented";
    default: return "miopenStatusUnknownError";
  }
}
miopenStatus_t miopenCreateTensorDescriptor(D* d) {
  *d = new Tensor;
  return kOk;
}
miopenStatus_t miopenSetTensorDescriptor(D d, int dt, int nb, const int* dims, const int* strides) {
  if (nb != 4 || !strides) return kBadParm;
  auto* t = static_cast<Tensor*>(d);
  if (dt == 1)
    t->elem = Elem::f32;
  else if (dt == 0)
    t->elem = Elem::f16;
  else if (dt == 5)
    t->elem = Elem::bf16;
  else
    return kNotImplemented;
  std::memcpy(t->dims, dims, sizeof t->dims);
  std::memcpy(t->strides, strides, sizeof t->strides);
  return kOk;
}
miopenStatus_t miopenDestroyTensorDescriptor(D d) {
  delete static_cast<Tensor*>(d);
  return kOk;
}
miopenStatus_t miopenCreateConvolutionDescriptor(D* d) {
  *d = new Conv;
  return kOk;
}
miopenStatus_t miopenInitConvolutionNdDescriptor(D d, int n, const int* pad, const int* stride,
                                                 const int* dil, int mode) {
  if (n != 2 || mode != 0) return kBadParm;
  auto* c = static_cast<Conv*>(d);
  std::memcpy(c->pad, pad, sizeof c->pad);
  std::memcpy(c->stride, stride, sizeof c->stride);
  std::memcpy(c->dil, dil, sizeof c->dil);
  return kOk;
}
miopenStatus_t miopenSetConvolutionGroupCount(D d, int g) {
  static_cast<Conv*>(d)->groups = g;
  return kOk;
}
miopenStatus_t miopenSetConvolutionFindMode(D d, int mode) {
  static_cast<Conv*>(d)->find_mode = mode;
  return kOk;
}
miopenStatus_t miopenDestroyConvolutionDescriptor(D d) {
  delete static_cast<Conv*>(d);
  return kOk;
}

// y = alpha * y + alpha * b + beta * y, as MIOpen's OpTensor add does it; bf16 refused.
miopenStatus_t miopenConvolutionForwardBias(H, const void* alpha, D bd, const void* b,
                                            const void* beta, D yd, void* y) {
  const Tensor &bt = *static_cast<Tensor*>(bd), &yt = *static_cast<Tensor*>(yd);
  if (bt.elem == Elem::bf16 || yt.elem == Elem::bf16) return kNotImplemented;
  const float a = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  for (int n = 0; n < yt.dims[0]; ++n)
    for (int k = 0; k < yt.dims[1]; ++k)
      for (int h = 0; h < yt.dims[2]; ++h)
        for (int w = 0; w < yt.dims[3]; ++w) {
          const int64_t i = yt.at(n, k, h, w);
          const float v = load_elem(yt.elem, y, i);
          store_elem(yt.elem, y, i, a * v + a * load_elem(bt.elem, b, bt.at(0, k, 0, 0)) + be * v);
        }
  return kOk;
}

// db = alpha * (dy summed over n, h, w) + beta * db; bf16 refused.
miopenStatus_t miopenConvolutionBackwardBias(H, const void* alpha, D dyd, const void* dy,
                                             const void* beta, D dbd, void* db) {
  const Tensor &yt = *static_cast<Tensor*>(dyd), &bt = *static_cast<Tensor*>(dbd);
  if (bt.elem == Elem::bf16 || yt.elem == Elem::bf16) return kNotImplemented;
  const float a = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  for (int k = 0; k < yt.dims[1]; ++k) {
    float sum = 0;
    for (int n = 0; n < yt.dims[0]; ++n)
      for (int h = 0; h < yt.dims[2]; ++h)
        for (int w = 0; w < yt.dims[3]; ++w) sum += load_elem(yt.elem, dy, yt.at(n, k, h, w));
    const int64_t i = bt.at(0, k, 0, 0);
    // beta 0 reads nothing (db may hold anything), as BLAS-style calls do.
    store_elem(bt.elem, db, i, a * sum + (be == 0 ? 0 : be * load_elem(bt.elem, db, i)));
  }
  return kOk;
}

#define CG_FAKE_DIRECTION(Stem, FindName, dir)                                                    \
  miopenStatus_t miopenConvolution##Stem##GetSolutionCount(H, D a, D b, D c, D d, size_t* n) {    \
    return solution_count(dir, a, b, c, d, n);                                                    \
  }                                                                                               \
  miopenStatus_t miopenConvolution##Stem##GetSolution(H, D a, D b, D c, D d, size_t max,          \
                                                      size_t* n, void* out) {                     \
    return solutions(dir, a, b, c, d, max, n, out);                                               \
  }                                                                                               \
  miopenStatus_t miopenConvolution##Stem##GetSolutionWorkspaceSize(H, D a, D b, D c, D d,         \
                                                                   uint64_t id, size_t* size) {   \
    return solution_workspace(dir, a, b, c, d, id, size);                                         \
  }                                                                                               \
  miopenStatus_t miopenConvolution##Stem##CompileSolution(H, D a, D b, D c, D d, uint64_t id) {   \
    return compile(dir, a, b, c, d, id);                                                          \
  }                                                                                               \
  miopenStatus_t miopenConvolution##Stem##Immediate(H, D da, const void* a, D db, const void* b,  \
                                                    D conv, D dc, void* c, void* ws, size_t n,    \
                                                    uint64_t id) {                                \
    return immediate(dir, da, a, db, b, conv, dc, c, ws, n, id);                                  \
  }                                                                                               \
  miopenStatus_t miopenConvolution##Stem##GetWorkSpaceSize(H, D a, D b, D c, D d, size_t* size) { \
    const Problem p = solution_problem(dir, a, b, c, d);                                          \
    *size = 0;                                                                                    \
    for (const Solver& s : kSolvers)                                                              \
      if (applicable(s, p)) *size = std::max(*size, workspace_of(s, p));                          \
    return kOk;                                                                                   \
  }                                                                                               \
  miopenStatus_t FindName(H, D dp, const void* p, D dq, const void* q, D conv, D dr, void* r,     \
                          int request, int* returned, void* perf, void* ws, size_t n, bool) {     \
    return find(dir, dp, p, dq, q, conv, dr, r, request, returned, perf, ws, n);                  \
  }

CG_FAKE_DIRECTION(Forward, miopenFindConvolutionForwardAlgorithm, kFwd)
CG_FAKE_DIRECTION(BackwardData, miopenFindConvolutionBackwardDataAlgorithm, kBwdData)
CG_FAKE_DIRECTION(BackwardWeights, miopenFindConvolutionBackwardWeightsAlgorithm, kBwdWeights)

}  // extern "C"
