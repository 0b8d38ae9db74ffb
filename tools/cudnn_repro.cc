// cudnn_repro: one convolution through cuDNN alone, outside convguard, to check that a
// finding reproduces. Shares no code with convguard: its own descriptor parser, fills,
// double-precision reference and error figures. NCHW, cross-correlation.
//
//   cudnn_repro DIR DT ALGO DESCRIPTOR [--bound-m A] [--bound-abs B] [--normwise C]
//               [--fill convguard|lcg] [--unit-bits N] [--inputs-only 1]
//     DIR: FWD_D | BWD_D | BWD_W     DT: f32 | f16 | bf16
//     ALGO: <fwd|bwd_data|bwd_filter>.<ENUM>.<default|tf32|tensor_op|fma> or engine<N>
//     DESCRIPTOR: benchdnn's, e.g. g1mb1ic64ih56iw56oc64oh56ow56kh3kw3sh1sw1ph1pw1dh0dw0
//   Elementwise it calls an output wrong when |got - y| > 2u max(|y|,1) + A*M_i + B;
//   with --normwise, when ||got - y||_2 > 2u ||max(|y|,1)||_2 + C ||M||_2 (y exact, M the
//   sum of |a*b| over an output's terms, u the data type's unit roundoff). The defaults
//   (0) are the exact class. Prints one line of key=value; exit 0 whatever the verdict,
//   1 when cuDNN fails (the status is printed), 2 on bad arguments.
//   --fill convguard (the default) gives the inputs a probe of convguard gave (its fill rule,
//   written out again below), so a finding near its bound meets the same data; --fill lcg
//   gives other integers of the same magnitude, to see whether a finding depends on the data.
//   --unit-bits N takes u = 2^-N instead of the data type's (11: results rounded to TF32, the
//   bound convguard's reduced class gives f32). The output names the engine's numerical notes.
//   --inputs-only 1 prints checksums of the three inputs (sum of (i+1) v_i) and exits before
//   any CUDA call: a test compares them with convguard's fills on a machine without a GPU.
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Conv {
  long g = 1, mb = 1, ic = 0, ih = 0, iw = 0, oc = 0, oh = 0, ow = 0, kh = 1, kw = 1;
  long sh = 1, sw = 1, ph = 0, pw = 0, dh = 0, dw = 0;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "cudnn_repro: %s\nusage: cudnn_repro DIR DT ALGO DESCRIPTOR "
               "[--bound-m A] [--bound-abs B] [--normwise C] [--fill convguard|lcg] [--unit-bits N]\n",
               why);
  std::exit(2);
}

[[noreturn]] void fail(const std::string& what) {
  std::printf("status=%s\n", what.c_str());
  std::exit(1);
}

#define CUDNN_OK(x)                                                        \
  do {                                                                     \
    cudnnStatus_t s_ = (x);                                                \
    if (s_ != CUDNN_STATUS_SUCCESS)                                        \
      fail(std::string(#x).substr(0, 40) + ":" + cudnnGetErrorString(s_)); \
  } while (0)
#define CUDA_OK(x)                                                            \
  do {                                                                        \
    cudaError_t e_ = (x);                                                     \
    if (e_ != cudaSuccess) fail(std::string("cuda:") + cudaGetErrorName(e_)); \
  } while (0)

Conv parse(const char* text) {
  Conv c;
  bool oh = false, ow = false, iw = false;
  for (const char* s = text; *s;) {
    char name[3] = {0};
    int n = 0;
    long v = 0;
    if (std::sscanf(s, "%2[a-z]%ld%n", name, &v, &n) != 2) usage("bad descriptor");
    const std::string k = name;
    if (k == "g")
      c.g = v;
    else if (k == "mb")
      c.mb = v;
    else if (k == "ic")
      c.ic = v;
    else if (k == "ih")
      c.ih = v;
    else if (k == "iw")
      c.iw = v, iw = true;
    else if (k == "oc")
      c.oc = v;
    else if (k == "oh")
      c.oh = v, oh = true;
    else if (k == "ow")
      c.ow = v, ow = true;
    else if (k == "kh")
      c.kh = v;
    else if (k == "kw")
      c.kw = v;
    else if (k == "sh")
      c.sh = v;
    else if (k == "sw")
      c.sw = v;
    else if (k == "ph")
      c.ph = v;
    else if (k == "pw")
      c.pw = v;
    else if (k == "dh")
      c.dh = v;
    else if (k == "dw")
      c.dw = v;
    else
      usage("unknown descriptor field");
    s += n;
  }
  if (!iw) c.iw = c.ih;
  auto out = [](long i, long k, long s, long p, long d) {
    return (i - ((k - 1) * (d + 1) + 1) + 2 * p) / s + 1;
  };
  if (!oh) c.oh = out(c.ih, c.kh, c.sh, c.ph, c.dh);
  if (!ow) c.ow = out(c.iw, c.kw, c.sw, c.pw, c.dw);
  return c;
}

int bits_of(const std::string& dt) { return dt == "f16" ? 11 : dt == "bf16" ? 8 : 24; }

cudnnDataType_t cudnn_type(const std::string& dt) {
  return dt == "f16" ? CUDNN_DATA_HALF : dt == "bf16" ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

// Host bytes of v in dt, and back.
void to_device_type(const std::string& dt, const std::vector<float>& v, std::vector<uint8_t>& out) {
  const size_t sz = dt == "f32" ? 4 : 2;
  out.resize(v.size() * sz);
  for (size_t i = 0; i < v.size(); ++i) {
    if (dt == "f32")
      std::memcpy(&out[i * 4], &v[i], 4);
    else if (dt == "f16") {
      _Float16 h = static_cast<_Float16>(v[i]);
      std::memcpy(&out[i * 2], &h, 2);
    } else {
      uint32_t b;
      std::memcpy(&b, &v[i], 4);
      b += 0x7fffu + ((b >> 16) & 1u);
      const uint16_t h = static_cast<uint16_t>(b >> 16);
      std::memcpy(&out[i * 2], &h, 2);
    }
  }
}

std::vector<float> from_device_type(const std::string& dt, const std::vector<uint8_t>& in) {
  const size_t sz = dt == "f32" ? 4 : 2;
  std::vector<float> v(in.size() / sz);
  for (size_t i = 0; i < v.size(); ++i) {
    if (dt == "f32")
      std::memcpy(&v[i], &in[i * 4], 4);
    else if (dt == "f16") {
      _Float16 h;
      std::memcpy(&h, &in[i * 2], 2);
      v[i] = static_cast<float>(h);
    } else {
      uint16_t h;
      std::memcpy(&h, &in[i * 2], 2);
      const uint32_t b = uint32_t(h) << 16;
      std::memcpy(&v[i], &b, 4);
    }
  }
  return v;
}

// Integers in [-m, m] from a 64-bit LCG: exact in every type and every summation order
// while k * m^2 stays below the accumulator's exact integers.
std::vector<float> fill(size_t n, long m, uint64_t seed) {
  std::vector<float> v(n);
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (auto& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = static_cast<float>(static_cast<long>((s >> 33) % uint64_t(2 * m + 1)) - m);
  }
  return v;
}

// convguard's fill (engines/fill.cc, seed 0), from its definition: element i of argument a
// (src 0, wei 1, dst 3) is an integer in [-m, m] drawn by splitmix64's finaliser from
// (a, i); m keeps k m^2 within the accumulator's exact integers for the direction's longest
// sum k (forward counts the bias term), and past that limit the values become sparse.
uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::vector<float> convguard_fill(size_t n, int arg, double k, const std::string& dt) {
  const double limit = dt == "f16" ? 2048 : 16777216, cap = dt == "f16" ? 4 : 16;
  const long m = long(std::clamp(std::floor(std::sqrt(limit / std::max(1.0, k))), 1.0, cap));
  const double density = k > limit ? std::max(limit / k, 1e-3) : 1.0;
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t h = splitmix(splitmix(uint64_t(arg)) ^ uint64_t(i));
    if (density < 1.0 && double(h >> 11) * 0x1.0p-53 >= density) continue;
    v[i] = float(long((h >> 7) % uint64_t(2 * m + 1)) - m);
  }
  return v;
}

struct Sums {
  std::vector<double> y, mag;
};

// The exact result and M in double, straight from the definition.
Sums reference(const Conv& c, const std::string& dir, const std::vector<float>& x,
               const std::vector<float>& w, const std::vector<float>& dy) {
  const long icg = c.ic / c.g, ocg = c.oc / c.g;
  Sums s;
  auto X = [&](long n, long ch, long h, long ww) {
    return ((n * c.ic + ch) * c.ih + h) * c.iw + ww;
  };
  auto Y = [&](long n, long ch, long h, long ww) {
    return ((n * c.oc + ch) * c.oh + h) * c.ow + ww;
  };
  auto W = [&](long o, long ch, long h, long ww) {
    return ((o * icg + ch) * c.kh + h) * c.kw + ww;
  };
  const size_t out = dir == "FWD_D"   ? size_t(c.mb * c.oc * c.oh * c.ow)
                     : dir == "BWD_D" ? size_t(c.mb * c.ic * c.ih * c.iw)
                                      : size_t(c.oc * icg * c.kh * c.kw);
  s.y.assign(out, 0), s.mag.assign(out, 0);
  // Every (output position, tap) pair, credited to the direction's output. Threads own
  // disjoint outputs: output channels (FWD_D, BWD_W) or input channels (BWD_D).
  const bool by_input = dir == "BWD_D";
  auto pair = [&](long n, long o, long ch, long kh, long kw) {
    const long g = o / ocg;
    for (long oh = 0; oh < c.oh; ++oh) {
      const long ih = oh * c.sh - c.ph + kh * (c.dh + 1);
      if (ih < 0 || ih >= c.ih) continue;
      for (long ow = 0; ow < c.ow; ++ow) {
        const long iw = ow * c.sw - c.pw + kw * (c.dw + 1);
        if (iw < 0 || iw >= c.iw) continue;
        const long xi = X(n, g * icg + ch, ih, iw), yi = Y(n, o, oh, ow), wi = W(o, ch, kh, kw);
        const double t = dir == "FWD_D"   ? double(x[xi]) * w[wi]
                         : dir == "BWD_W" ? double(x[xi]) * dy[yi]
                                          : double(dy[yi]) * w[wi];
        const long at = dir == "FWD_D" ? yi : dir == "BWD_W" ? wi : xi;
        s.y[at] += t, s.mag[at] += std::fabs(t);
      }
    }
  };
  const long owners = by_input ? c.ic : c.oc;
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (long own = t; own < owners; own += threads)
        for (long n = 0; n < c.mb; ++n)
          for (long kh = 0; kh < c.kh; ++kh)
            for (long kw = 0; kw < c.kw; ++kw) {
              if (by_input) {
                const long g = own / icg;
                for (long o = g * ocg; o < (g + 1) * ocg; ++o) pair(n, o, own % icg, kh, kw);
              } else {
                for (long ch = 0; ch < icg; ++ch) pair(n, own, ch, kh, kw);
              }
            }
    });
  for (auto& th : pool) th.join();
  return s;
}

struct Buffers {
  void *x = nullptr, *w = nullptr, *y = nullptr, *ws = nullptr;
};

// Legacy API: "<op>.<ENUM>.<math>".
void run_legacy(cudnnHandle_t h, const Conv& c, const std::string& dir, const std::string& dt,
                const std::string& algo, Buffers& b) {
  static const char* fwd[] = {
      "IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING",
      "WINOGRAD",      "WINOGRAD_NONFUSED"};
  static const char* bwd_data[] = {"ALGO_0",     "ALGO_1",   "FFT",
                                   "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const char* bwd_filter[] = {
      "ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
  const size_t d1 = algo.find('.'), d2 = algo.rfind('.');
  const std::string name = algo.substr(d1 + 1, d2 - d1 - 1), math = algo.substr(d2 + 1);
  const char** names = dir == "FWD_D" ? fwd : dir == "BWD_D" ? bwd_data : bwd_filter;
  const int count = dir == "FWD_D" ? 8 : dir == "BWD_D" ? 6 : 7;
  int a = -1;
  for (int i = 0; i < count; ++i)
    if (name == names[i]) a = i;
  if (a < 0) usage("unknown algorithm");
  const cudnnDataType_t t = cudnn_type(dt);
  cudnnTensorDescriptor_t xd, yd;
  cudnnFilterDescriptor_t wd;
  cudnnConvolutionDescriptor_t cd;
  CUDNN_OK(cudnnCreateTensorDescriptor(&xd));
  CUDNN_OK(cudnnCreateTensorDescriptor(&yd));
  CUDNN_OK(cudnnCreateFilterDescriptor(&wd));
  CUDNN_OK(cudnnCreateConvolutionDescriptor(&cd));
  CUDNN_OK(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, t, c.mb, c.ic, c.ih, c.iw));
  CUDNN_OK(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, t, c.mb, c.oc, c.oh, c.ow));
  CUDNN_OK(cudnnSetFilter4dDescriptor(wd, t, CUDNN_TENSOR_NCHW, c.oc, c.ic / c.g, c.kh, c.kw));
  CUDNN_OK(cudnnSetConvolution2dDescriptor(cd, c.ph, c.pw, c.sh, c.sw, c.dh + 1, c.dw + 1,
                                           CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  CUDNN_OK(cudnnSetConvolutionGroupCount(cd, c.g));
  const cudnnMathType_t m = math == "fma"                             ? CUDNN_FMA_MATH
                            : (math == "tf32" || math == "tensor_op") ? CUDNN_TENSOR_OP_MATH
                                                                      : CUDNN_DEFAULT_MATH;
  CUDNN_OK(cudnnSetConvolutionMathType(cd, m));
  size_t bytes = 0;
  const float one = 1, zero = 0;
  if (dir == "FWD_D") {
    CUDNN_OK(cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, cd, yd,
                                                     cudnnConvolutionFwdAlgo_t(a), &bytes));
    CUDA_OK(cudaMalloc(&b.ws, bytes + 1));
    CUDNN_OK(cudnnConvolutionForward(h, &one, xd, b.x, wd, b.w, cd, cudnnConvolutionFwdAlgo_t(a),
                                     b.ws, bytes, &zero, yd, b.y));
  } else if (dir == "BWD_D") {
    CUDNN_OK(cudnnGetConvolutionBackwardDataWorkspaceSize(
        h, wd, yd, cd, xd, cudnnConvolutionBwdDataAlgo_t(a), &bytes));
    CUDA_OK(cudaMalloc(&b.ws, bytes + 1));
    CUDNN_OK(cudnnConvolutionBackwardData(h, &one, wd, b.w, yd, b.y, cd,
                                          cudnnConvolutionBwdDataAlgo_t(a), b.ws, bytes, &zero, xd,
                                          b.x));
  } else {
    CUDNN_OK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
        h, xd, yd, cd, wd, cudnnConvolutionBwdFilterAlgo_t(a), &bytes));
    CUDA_OK(cudaMalloc(&b.ws, bytes + 1));
    CUDNN_OK(cudnnConvolutionBackwardFilter(h, &one, xd, b.x, yd, b.y, cd,
                                            cudnnConvolutionBwdFilterAlgo_t(a), b.ws, bytes, &zero,
                                            wd, b.w));
  }
}

cudnnBackendDescriptor_t make(cudnnBackendDescriptorType_t t) {
  cudnnBackendDescriptor_t d;
  CUDNN_OK(cudnnBackendCreateDescriptor(t, &d));
  return d;
}

void set(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t n, cudnnBackendAttributeType_t t,
         int64_t count, const void* v) {
  CUDNN_OK(cudnnBackendSetAttribute(d, n, t, count, v));
}

cudnnBackendDescriptor_t tensor(const int64_t dims[4], cudnnDataType_t t, int64_t uid) {
  const int64_t strides[4] = {dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1},
                align = 256;
  auto d = make(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  set(d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &t);
  set(d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
  set(d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
  set(d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
  set(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
  CUDNN_OK(cudnnBackendFinalize(d));
  return d;
}

const char* note_name(cudnnBackendNumericalNote_t n) {
  switch (n) {
    case CUDNN_NUMERICAL_NOTE_TENSOR_CORE: return "TENSOR_CORE";
    case CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS: return "DOWN_CONVERT_INPUTS";
    case CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION: return "REDUCED_PRECISION_REDUCTION";
    case CUDNN_NUMERICAL_NOTE_FFT: return "FFT";
    case CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC: return "NONDETERMINISTIC";
    case CUDNN_NUMERICAL_NOTE_WINOGRAD: return "WINOGRAD";
    case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_4x4: return "WINOGRAD_TILE_4x4";
    case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_6x6: return "WINOGRAD_TILE_6x6";
    case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_13x13: return "WINOGRAD_TILE_13x13";
    default: return "OTHER";
  }
}

// The numerical notes cuDNN declares for the engine (printed, so a finding's class can be
// checked against what convguard read): "-" for legacy algorithms, "none" for no notes.
std::string g_notes = "-";

std::string read_notes(cudnnBackendDescriptor_t engine) {
  cudnnBackendNumericalNote_t raw[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  int64_t n = 0;
  CUDNN_OK(cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE,
                                    CUDNN_TYPE_NUMERICAL_NOTE, CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &n,
                                    raw));
  std::string out;
  for (int64_t i = 0; i < n && i < CUDNN_NUMERICAL_NOTE_TYPE_COUNT; ++i)
    out += (out.empty() ? "" : ",") + std::string(note_name(raw[i]));
  return out.empty() ? "none" : out;
}

// Backend API: global engine index N with its default knobs. Grouped convolutions put
// the groups into the channel dims (the filter's second dim is ic/g).
void run_engine(cudnnHandle_t h, const Conv& c, const std::string& dir, const std::string& dt,
                long index, Buffers& b) {
  const cudnnDataType_t t = cudnn_type(dt), comp = CUDNN_DATA_FLOAT;
  const int64_t xd[4] = {c.mb, c.ic, c.ih, c.iw}, yd[4] = {c.mb, c.oc, c.oh, c.ow},
                wd[4] = {c.oc, c.ic / c.g, c.kh, c.kw};
  auto x = tensor(xd, t, 'x'), w = tensor(wd, t, 'w'), y = tensor(yd, t, 'y');
  auto conv = make(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  const int64_t dims = 2, pad[2] = {c.ph, c.pw}, dil[2] = {c.dh + 1, c.dw + 1},
                str[2] = {c.sh, c.sw};
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  set(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims);
  set(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp);
  set(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
  set(conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
  set(conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
  set(conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dil);
  set(conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, str);
  CUDNN_OK(cudnnBackendFinalize(conv));
  cudnnBackendDescriptor_t op;
  const float alpha = 1, beta = 0;
  if (dir == "FWD_D") {
    op = make(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
        &conv);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &w);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y);
  } else if (dir == "BWD_D") {
    op = make(CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
        &conv);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &w);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y);
  } else {
    op = make(CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
        &conv);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &w);
    set(op, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y);
  }
  CUDNN_OK(cudnnBackendFinalize(op));
  auto graph = make(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  set(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op);
  set(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
  CUDNN_OK(cudnnBackendFinalize(graph));
  auto engine = make(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  const int64_t gi = index;
  set(engine, CUDNN_ATTR_ENGINE_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph);
  set(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &gi);
  CUDNN_OK(cudnnBackendFinalize(engine));
  g_notes = read_notes(engine);
  auto cfg = make(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
  set(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &engine);
  CUDNN_OK(cudnnBackendFinalize(cfg));
  auto plan = make(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
  set(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
  set(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg);
  CUDNN_OK(cudnnBackendFinalize(plan));
  int64_t bytes = 0, n = 0;
  CUDNN_OK(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                    CUDNN_TYPE_INT64, 1, &n, &bytes));
  CUDA_OK(cudaMalloc(&b.ws, size_t(bytes) + 1));
  void* ptrs[3] = {b.x, b.w, b.y};
  const int64_t uids[3] = {'x', 'w', 'y'};
  auto pack = make(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  set(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs);
  set(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids);
  set(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &b.ws);
  CUDNN_OK(cudnnBackendFinalize(pack));
  CUDNN_OK(cudnnBackendExecute(h, plan, pack));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) usage("missing arguments");
  const std::string dir = argv[1], dt = argv[2], algo = argv[3];
  if (dir != "FWD_D" && dir != "BWD_D" && dir != "BWD_W")
    usage("DIR must be FWD_D, BWD_D or BWD_W");
  if (dt != "f32" && dt != "f16" && dt != "bf16") usage("DT must be f32, f16 or bf16");
  const Conv c = parse(argv[4]);
  double bound_m = 0, bound_abs = 0, normwise = -1;
  std::string fill_rule = "convguard";
  bool inputs_only = false;
  int unit_bits = bits_of(dt);
  for (int i = 5; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const double v = std::atof(argv[i + 1]);
    if (k == "--fill")
      fill_rule = argv[i + 1];
    else if (k == "--inputs-only")
      inputs_only = v != 0;
    else if (k == "--unit-bits")
      unit_bits = int(v);
    else if (k == "--bound-m")
      bound_m = v;
    else if (k == "--bound-abs")
      bound_abs = v;
    else if (k == "--normwise")
      normwise = v;
    else
      usage("unknown option");
  }
  if (fill_rule != "convguard" && fill_rule != "lcg") usage("--fill must be convguard or lcg");
  const long icg = c.ic / c.g;
  const double k = dir == "FWD_D"   ? double(icg * c.kh * c.kw)
                   : dir == "BWD_D" ? double(c.oc / c.g * c.kh * c.kw)
                                    : double(c.mb * c.oh * c.ow);
  const double limit = dt == "f16" ? 2048 : 16777216;
  const long m =
      std::max(1L, std::min(dt == "f16" ? 4L : 16L, long(std::floor(std::sqrt(limit / k)))));
  const size_t nx = size_t(c.mb * c.ic * c.ih * c.iw), nw = size_t(c.oc * icg * c.kh * c.kw),
               ny = size_t(c.mb * c.oc * c.oh * c.ow);
  const bool same = fill_rule == "convguard";
  const double kc = dir == "FWD_D" ? k + 1 : k;
  std::vector<float> x = same ? convguard_fill(nx, 0, kc, dt) : fill(nx, m, 1),
                     w = same ? convguard_fill(nw, 1, kc, dt) : fill(nw, m, 2),
                     dy = same ? convguard_fill(ny, 3, kc, dt) : fill(ny, m, 3);
  if (inputs_only) {
    auto sum = [](const std::vector<float>& v) {
      double s = 0;
      for (size_t i = 0; i < v.size(); ++i) s += double(i + 1) * v[i];
      return s;
    };
    std::printf("src=%.17g wei=%.17g dst=%.17g\n", sum(x), sum(w), sum(dy));
    return 0;
  }
  cudnnHandle_t h;
  CUDNN_OK(cudnnCreate(&h));
  Buffers b;
  const size_t sz = dt == "f32" ? 4 : 2;
  CUDA_OK(cudaMalloc(&b.x, nx * sz));
  CUDA_OK(cudaMalloc(&b.w, nw * sz));
  CUDA_OK(cudaMalloc(&b.y, ny * sz));
  std::vector<uint8_t> bytes;
  // Inputs in, the output poisoned with NaN (0xff bytes) so unwritten elements show.
  auto upload = [&](void* dst, const std::vector<float>& v) {
    to_device_type(dt, v, bytes);
    CUDA_OK(cudaMemcpy(dst, bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
  };
  void* out = dir == "FWD_D" ? b.y : dir == "BWD_D" ? b.x : b.w;
  const size_t nout = dir == "FWD_D" ? ny : dir == "BWD_D" ? nx : nw;
  if (dir != "BWD_D") upload(b.x, x);
  if (dir != "BWD_W") upload(b.w, w);
  if (dir != "FWD_D") upload(b.y, dy);
  CUDA_OK(cudaMemset(out, 0xff, nout * sz));
  if (algo.rfind("engine", 0) == 0)
    run_engine(h, c, dir, dt, std::atol(algo.c_str() + 6), b);
  else
    run_legacy(h, c, dir, dt, algo, b);
  CUDA_OK(cudaDeviceSynchronize());
  bytes.resize(nout * sz);
  CUDA_OK(cudaMemcpy(bytes.data(), out, bytes.size(), cudaMemcpyDeviceToHost));
  const std::vector<float> got = from_device_type(dt, bytes);
  const Sums ref = reference(c, dir, x, w, dy);
  const double u = std::ldexp(1.0, -unit_bits);
  double scale = 0, err2 = 0, floor2 = 0, mag2 = 0, max_abs = 0, max_rel = 0, max_over_m = 0;
  for (double v : ref.mag) scale = std::max(scale, v), mag2 += v * v;
  long nonfinite = 0, over = 0, inexact = 0;
  for (size_t i = 0; i < nout; ++i) {
    if (!std::isfinite(got[i])) {
      ++nonfinite;
      continue;
    }
    const double e = std::fabs(got[i] - ref.y[i]), fl = std::max(std::fabs(ref.y[i]), 1.0);
    max_abs = std::max(max_abs, e), max_rel = std::max(max_rel, e / fl);
    if (ref.mag[i] > 0) max_over_m = std::max(max_over_m, e / ref.mag[i]);
    err2 += e * e, floor2 += fl * fl;
    inexact += e > 2 * u * fl;
    over += e > 2 * u * fl + bound_m * ref.mag[i] + bound_abs;
  }
  const bool wrong =
      nonfinite > 0 ||
      (normwise >= 0 ? std::sqrt(err2) > 2 * u * std::sqrt(floor2) + normwise * std::sqrt(mag2)
                     : over > 0);
  std::printf(
      "status=ok fill=%s notes=%s unit_bits=%d verdict=%s n=%zu nonfinite=%ld inexact=%ld over_bound=%ld max_abs_err=%.6g "
      "max_rel_err=%.6g max_err_over_M=%.3g max_err_over_S=%.3g norm_err_over_M=%.3g S=%.6g\n",
      fill_rule.c_str(), g_notes.c_str(), unit_bits, wrong ? "wrong" : "ok", nout, nonfinite, inexact, over, max_abs, max_rel, max_over_m,
      scale > 0 ? max_abs / scale : 0.0, mag2 > 0 ? std::sqrt(err2 / mag2) : 0.0, scale);
  return 0;
}
