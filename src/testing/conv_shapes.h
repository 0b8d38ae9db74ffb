// Convolution shapes the engine tests share: groups, depthwise, stride, dilation, asymmetric
// kernels, padding wider than the kernel's half, 1x1 with stride and mb > 1.
#pragma once

#include <cstdint>

#include "convguard/problem.h"

namespace convguard::testing {

struct Shape {
  const char* name;
  int64_t g, mb, ic, ih, iw, oc, kh, kw, sh, sw, ph, pw, dh, dw;
};

inline const Shape kShapes[] = {
    {"plain3x3", 1, 2, 16, 10, 10, 16, 3, 3, 1, 1, 1, 1, 0, 0},
    {"groups", 2, 1, 8, 9, 9, 12, 3, 3, 1, 1, 1, 1, 0, 0},
    {"depthwise", 16, 2, 16, 10, 10, 16, 3, 3, 1, 1, 1, 1, 0, 0},
    {"stride2", 1, 1, 8, 11, 11, 16, 3, 3, 2, 2, 1, 1, 0, 0},
    {"kernel1x3", 1, 1, 8, 7, 9, 8, 1, 3, 1, 1, 0, 1, 0, 0},
    {"kernel3x1", 1, 1, 8, 9, 7, 8, 3, 1, 1, 1, 1, 0, 0, 0},
    {"dilated", 1, 1, 8, 12, 12, 8, 3, 3, 1, 1, 2, 2, 1, 1},
    {"widepad", 1, 3, 4, 6, 6, 8, 3, 3, 1, 1, 2, 3, 0, 0},
    {"pointwise_s2", 1, 2, 32, 8, 8, 16, 1, 1, 2, 2, 0, 0, 0, 0},
};

/// The problem of shape `s` in that direction, layout and data type (oh, ow deduced).
inline Problem make_problem(const Shape& s, Dir dir, Layout layout, DataType dt) {
  Problem p;
  p.dir = dir, p.dt = dt, p.layout = layout;
  p.g = s.g, p.mb = s.mb, p.ic = s.ic, p.ih = s.ih, p.iw = s.iw, p.oc = s.oc;
  p.kh = s.kh, p.kw = s.kw, p.sh = s.sh, p.sw = s.sw, p.ph = s.ph, p.pw = s.pw;
  p.dh = s.dh, p.dw = s.dw;
  p.oh = conv_out_size(s.ih, s.kh, s.sh, s.ph, s.dh);
  p.ow = conv_out_size(s.iw, s.kw, s.sw, s.pw, s.dw);
  return p;
}

}  // namespace convguard::testing
