// The test double's descriptors and its one convolution: a plain direct loop over host
// memory through the descriptors' strides, in float, for every direction (fake_miopen.cc).
#pragma once

#include <cstdint>
#include <vector>

#include "engines/miopen/element.h"

namespace convguard::miopen::fake {

/// A tensor descriptor: element type, dims in MIOpen's order (n, c, h, w or k, c/g, r, s)
/// and their strides.
struct Tensor {
  Elem elem = Elem::f32;
  int dims[4] = {}, strides[4] = {};
  int64_t extent() const {  // elements up to the last one + 1
    int64_t e = 1;
    for (int i = 0; i < 4; ++i) e += int64_t(dims[i] - 1) * strides[i];
    return e;
  }
  int64_t at(int a, int b, int c, int d) const {
    return int64_t(a) * strides[0] + int64_t(b) * strides[1] + int64_t(c) * strides[2] +
           int64_t(d) * strides[3];
  }
};

/// A convolution descriptor (dilation 1 = dense).
struct Conv {
  int pad[2] = {}, stride[2] = {1, 1}, dil[2] = {1, 1}, groups = 1, find_mode = 5;
};

/// Directions as MIOpenDriver's -F bits.
enum Dir { kFwd = 1, kBwdData = 2, kBwdWeights = 4 };

// x, w, y of one convolution, whatever the direction's argument order.
struct Problem {
  const Tensor *x, *w, *y;
  const Conv* conv;
  Dir dir;
};

inline std::vector<float> load(const Tensor& t, const void* data) {
  std::vector<float> v(size_t(t.dims[0]) * t.dims[1] * t.dims[2] * t.dims[3]);
  size_t i = 0;
  for (int a = 0; a < t.dims[0]; ++a)
    for (int b = 0; b < t.dims[1]; ++b)
      for (int c = 0; c < t.dims[2]; ++c)
        for (int d = 0; d < t.dims[3]; ++d) v[i++] = load_elem(t.elem, data, t.at(a, b, c, d));
  return v;
}

inline void store(const Tensor& t, void* data, const std::vector<float>& v) {
  size_t i = 0;
  for (int a = 0; a < t.dims[0]; ++a)
    for (int b = 0; b < t.dims[1]; ++b)
      for (int c = 0; c < t.dims[2]; ++c)
        for (int d = 0; d < t.dims[3]; ++d) store_elem(t.elem, data, t.at(a, b, c, d), v[i++]);
}

// Calls f(x_index, w_index, y_index) for every product term of the convolution, indices
// into canonical (dense NCHW / KCRS) arrays.
template <class F>
void for_each_term(const Problem& p, F&& f) {
  const Tensor &x = *p.x, &w = *p.w, &y = *p.y;
  const Conv& c = *p.conv;
  const int N = x.dims[0], C = x.dims[1], H = x.dims[2], W = x.dims[3];
  const int K = y.dims[1], OH = y.dims[2], OW = y.dims[3], R = w.dims[2], S = w.dims[3];
  const int cg = C / c.groups, kg = K / c.groups;
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow)
          for (int ci = 0; ci < cg; ++ci)
            for (int r = 0; r < R; ++r)
              for (int s = 0; s < S; ++s) {
                const int ih = oh * c.stride[0] - c.pad[0] + r * c.dil[0];
                const int iw = ow * c.stride[1] - c.pad[1] + s * c.dil[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int ch = k / kg * cg + ci;
                f(((int64_t(n) * C + ch) * H + ih) * W + iw,
                  ((int64_t(k) * cg + ci) * R + r) * S + s,
                  ((int64_t(n) * K + k) * OH + oh) * OW + ow);
              }
}

// The convolution of `p`: reads the direction's inputs, writes its output.
inline void compute(const Problem& p, const void* x, const void* w, void* y) {
  const Tensor& out = p.dir == kFwd ? *p.y : p.dir == kBwdData ? *p.x : *p.w;
  void* out_data = p.dir == kFwd       ? y
                   : p.dir == kBwdData ? const_cast<void*>(x)
                                       : const_cast<void*>(w);
  std::vector<float> xs = p.dir == kBwdData ? std::vector<float>() : load(*p.x, x);
  std::vector<float> ws = p.dir == kBwdWeights ? std::vector<float>() : load(*p.w, w);
  std::vector<float> ys = p.dir == kFwd ? std::vector<float>() : load(*p.y, y);
  std::vector<float> acc(size_t(out.dims[0]) * out.dims[1] * out.dims[2] * out.dims[3], 0.0f);
  for_each_term(p, [&](int64_t xi, int64_t wi, int64_t yi) {
    if (p.dir == kFwd)
      acc[yi] += xs[xi] * ws[wi];
    else if (p.dir == kBwdData)
      acc[xi] += ys[yi] * ws[wi];
    else
      acc[wi] += ys[yi] * xs[xi];
  });
  store(out, out_data, acc);
}

}  // namespace convguard::miopen::fake
