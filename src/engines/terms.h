// The product terms that one output element of a convolution sums, enumerated
// directly from the definition. Written apart from the ref engine on purpose: the
// second opinion (second_opinion.h) and the planted faults of the tests must not share
// its index arithmetic, so that a mistake there cannot confirm itself.
#pragma once

#include <cstdint>

#include "convguard/engine.h"
#include "convguard/problem.h"

namespace convguard {

/// Calls f(a, b) for every product a*b that output element `i` of arg `out` sums, in
/// canonical layouts (engine.h), reading the direction's inputs from `in`. A bias
/// contributes f(bias, 1). Element order follows the definition, not any library's.
template <class F>
void for_each_term(const Problem& p, const ConvTensors& in, Arg out, int64_t i, F&& f) {
  const int64_t icg = p.ic / p.g, ocg = p.oc / p.g;
  auto src_at = [&](int64_t n, int64_t c, int64_t h, int64_t w) {
    return in.src[static_cast<size_t>(((n * p.ic + c) * p.ih + h) * p.iw + w)];
  };
  auto dst_at = [&](int64_t n, int64_t c, int64_t h, int64_t w) {
    return in.dst[static_cast<size_t>(((n * p.oc + c) * p.oh + h) * p.ow + w)];
  };
  auto wei_at = [&](int64_t oc, int64_t c, int64_t h, int64_t w) {
    return in.wei[static_cast<size_t>(((oc * icg + c) * p.kh + h) * p.kw + w)];
  };
  // Input row/column that tap k of output position o reads, or -1 outside the image.
  auto in_pos = [](int64_t o, int64_t k, int64_t s, int64_t pad, int64_t d, int64_t size) {
    const int64_t x = o * s - pad + k * (d + 1);
    return x >= 0 && x < size ? x : -1;
  };
  switch (out) {
    case Arg::dst: {
      const int64_t ow = i % p.ow, oh = i / p.ow % p.oh, oc = i / (p.ow * p.oh) % p.oc,
                    n = i / (p.ow * p.oh * p.oc), g = oc / ocg;
      for (int64_t c = 0; c < icg; ++c)
        for (int64_t kh = 0; kh < p.kh; ++kh)
          for (int64_t kw = 0; kw < p.kw; ++kw) {
            const int64_t ih = in_pos(oh, kh, p.sh, p.ph, p.dh, p.ih);
            const int64_t iw = in_pos(ow, kw, p.sw, p.pw, p.dw, p.iw);
            if (ih >= 0 && iw >= 0) f(src_at(n, g * icg + c, ih, iw), wei_at(oc, c, kh, kw));
          }
      if (p.has_bias()) f(in.bia[static_cast<size_t>(oc)], 1.0f);
      return;
    }
    case Arg::src: {
      const int64_t iw = i % p.iw, ih = i / p.iw % p.ih, ic = i / (p.iw * p.ih) % p.ic,
                    n = i / (p.iw * p.ih * p.ic), g = ic / icg, c = ic % icg;
      // Every (output position, tap) pair whose tap lands on (ih, iw).
      auto out_pos = [](int64_t x, int64_t k, int64_t s, int64_t pad, int64_t d, int64_t size) {
        const int64_t t = x + pad - k * (d + 1);
        return t >= 0 && t % s == 0 && t / s < size ? t / s : -1;
      };
      for (int64_t o = 0; o < ocg; ++o)
        for (int64_t kh = 0; kh < p.kh; ++kh) {
          const int64_t oh = out_pos(ih, kh, p.sh, p.ph, p.dh, p.oh);
          if (oh < 0) continue;
          for (int64_t kw = 0; kw < p.kw; ++kw) {
            const int64_t ow = out_pos(iw, kw, p.sw, p.pw, p.dw, p.ow);
            if (ow >= 0) f(dst_at(n, g * ocg + o, oh, ow), wei_at(g * ocg + o, c, kh, kw));
          }
        }
      return;
    }
    case Arg::wei: {
      const int64_t kw = i % p.kw, kh = i / p.kw % p.kh, c = i / (p.kw * p.kh) % icg,
                    oc = i / (p.kw * p.kh * icg), g = oc / ocg;
      for (int64_t n = 0; n < p.mb; ++n)
        for (int64_t oh = 0; oh < p.oh; ++oh) {
          const int64_t ih = in_pos(oh, kh, p.sh, p.ph, p.dh, p.ih);
          if (ih < 0) continue;
          for (int64_t ow = 0; ow < p.ow; ++ow) {
            const int64_t iw = in_pos(ow, kw, p.sw, p.pw, p.dw, p.iw);
            if (iw >= 0) f(src_at(n, g * icg + c, ih, iw), dst_at(n, oc, oh, ow));
          }
        }
      return;
    }
    case Arg::bia:
      for (int64_t n = 0; n < p.mb; ++n)
        for (int64_t oh = 0; oh < p.oh; ++oh)
          for (int64_t ow = 0; ow < p.ow; ++ow) f(dst_at(n, i, oh, ow), 1.0f);
      return;
  }
}

}  // namespace convguard
