#include "convguard/bounds.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "convguard/fill.h"

namespace convguard {
namespace {

constexpr double kLambda = 8;  // Higham-Mary: fails with probability <= 2k exp(-32) per output
constexpr int kF32Bits = 24, kTf32Bits = 11;
// Relative error of one radix-2 butterfly stage with accurate twiddles, in units of u:
// eta = mu + gamma_4 (sqrt 2 + mu) with mu = u (Higham, Accuracy and Stability, 24.1).
constexpr double kFftStageEta = 1 + 4 * (1.4142135623730951 + 1);

int winograd_tile(AlgoClass cls) {
  switch (cls) {
    case AlgoClass::winograd_4x4: return 4;
    case AlgoClass::winograd_13x13: return 13;
    default: return 6;  // unknown tiles: cuDNN's usual F(4x4,3x3) / F(2x2,5x5)
  }
}

bool is_winograd(AlgoClass cls) {
  return cls == AlgoClass::winograd || cls == AlgoClass::winograd_4x4 ||
         cls == AlgoClass::winograd_6x6 || cls == AlgoClass::winograd_13x13 ||
         cls == AlgoClass::winograd_tf32;
}

// Terms a Winograd or FFT algorithm sums in its transformed domain: the channels
// (FWD, BWD_D) or the minibatch (BWD_W); the spatial taps are in the transform.
double transformed_sum_length(const Problem& p) {
  switch (p.dir) {
    case Dir::FWD_D:
    case Dir::FWD_B: return double(p.ic / p.g);
    case Dir::BWD_D: return double(p.oc / p.g);
    case Dir::BWD_W:
    case Dir::BWD_WB: break;
  }
  return double(p.mb);
}

// Growth of one spatial dimension: a filter of r taps in a tile of n inputs.
double growth_1d(int n, int64_t r) {
  if (r <= 1) return 1;
  const int rr = static_cast<int>(std::min<int64_t>(r, n));
  return winograd_growth(std::max(1, n - rr + 1), rr);
}

// Solves V^T X = I for the n x n Toom-Cook matrix V (rows: points, last one infinity),
// returning B^T = V^-T. Gauss-Jordan with partial pivoting; n <= 16.
std::vector<std::vector<double>> inverse_transpose(std::vector<std::vector<double>> v) {
  const size_t n = v.size();
  std::vector<std::vector<double>> a(n, std::vector<double>(2 * n, 0));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) a[i][j] = v[j][i], a[i][n + j] = i == j;
  for (size_t c = 0; c < n; ++c) {
    size_t piv = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::fabs(a[r][c]) > std::fabs(a[piv][c])) piv = r;
    std::swap(a[c], a[piv]);
    const double d = a[c][c];
    for (double& x : a[c]) x /= d;
    for (size_t r = 0; r < n; ++r)
      if (r != c && a[r][c] != 0) {
        const double f = a[r][c];
        for (size_t j = 0; j < 2 * n; ++j) a[r][j] -= f * a[c][j];
      }
  }
  std::vector<std::vector<double>> out(n, std::vector<double>(n));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) out[i][j] = a[i][n + j];
  return out;
}

struct ArgStats {
  double max_rel = 0, max_ratio = 0, err2 = 0, floor2 = 0, mag2 = 0;
  int64_t mismatches = 0, nonfinite = 0, first_bad = -1, worst = -1;
  double first_bound = 0, worst_bound = 0;
  bool inexact = false, got_nonzero = false, ref_nonzero = false;
};

ArgStats check_arg(const ErrorModel& e, const ErrorModel& exact, const std::vector<float>& got,
                   const std::vector<float>& ref, const std::vector<float>* mag) {
  ArgStats s;
  double scale = 0;  // S = max M
  if (mag)
    for (float m : *mag) scale = std::max(scale, double(m)), s.mag2 += double(m) * m;
  const bool transform = is_transform_class(e.cls);
  const double transform_term = e.abs_term + e.c * e.u_acc * scale;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double g = got[i], r = ref[i];
    s.got_nonzero |= g != 0.0;
    s.ref_nonzero |= r != 0.0;
    if (!std::isfinite(g) || !std::isfinite(r)) {
      ++s.nonfinite;
      if (s.first_bad < 0) s.first_bad = static_cast<int64_t>(i);
      continue;
    }
    const double err = std::fabs(g - r), floor = std::max(std::fabs(r), 1.0);
    const double m = mag ? double((*mag)[i]) : 0.0;
    const double store = 2 * e.u_store * floor;
    const double bound = store + (transform ? transform_term : direct_term(e, m));
    s.max_rel = std::max(s.max_rel, err / floor);
    if (err / bound > s.max_ratio)
      s.max_ratio = err / bound, s.worst = int64_t(i), s.worst_bound = bound;
    s.err2 += err * err, s.floor2 += floor * floor;
    s.inexact |= err > 2 * exact.u_store * floor + direct_term(exact, m);
    if (err > bound) {
      if (s.first_bad < 0) s.first_bad = static_cast<int64_t>(i), s.first_bound = bound;
      ++s.mismatches;
    }
  }
  return s;
}

std::string describe(Arg a, const ErrorModel& e, const ArgStats& s, const std::vector<float>& got,
                     const std::vector<float>& ref) {
  const bool any = s.first_bad >= 0;  // normwise failures may have no element over its figure
  const size_t i = static_cast<size_t>(any ? s.first_bad : s.worst);
  const double g = got[i], r = ref[i];
  std::string m = fmt::format("{}[{}] got {:.9g} expected {:.9g}", to_string(a), i, g, r);
  if (std::isfinite(g) && std::isfinite(r))
    m += fmt::format(" (abs err {:.3g}, bound {:.3g}, rel err {:.3g})", std::fabs(g - r),
                     any ? s.first_bound : s.worst_bound,
                     std::fabs(g - r) / std::max(std::fabs(r), 1.0));
  // The bound's coefficients, so that a repro outside convguard can apply the same bound.
  const double top = std::max(e.fill_m, 1.0);
  const double mcoef = direct_term(e, top) / top;
  const bool transform = is_transform_class(e.cls);
  return m + fmt::format(
                 "; {} of {} elements exceed the {} bound (k {:g}, max err/bound {:.3g}; "
                 "bound 2u max(|y|,1) + {:.3g} M + {:.3g}{}, u 2^-{})",
                 s.mismatches + s.nonfinite, ref.size(), to_string(e.cls), e.k, s.max_ratio,
                 transform ? 0.0 : mcoef, e.abs_term,
                 e.normwise ? fmt::format(", normwise {:.3g} ||M||", e.c * e.u_acc) : "",
                 std::lround(-std::log2(e.u_store)));
}

}  // namespace

double unit_roundoff(int bits) { return std::ldexp(1.0, -bits); }

int significant_bits(DataType dt) {
  switch (dt) {
    case DataType::f16: return 11;
    case DataType::bf16: return 8;
    case DataType::f32: break;
  }
  return kF32Bits;
}

double accumulation_gamma(double k, double u) {
  return std::expm1(kLambda * std::sqrt(k) * u + k * u * u / (1 - u));
}

double winograd_growth(int m, int r) {
  static constexpr std::array<double, 15> kPoints = {0,  1,      -1,      2, -2, 0.5,  -0.5, 3,
                                                     -3, 1. / 3, -1. / 3, 4, -4, 0.25, -0.25};
  const int n = m + r - 1;
  if (n < 2 || n > int(kPoints.size()) + 1) return 1;
  // Rows of the Vandermonde matrices: a finite point p gives (1, p, p^2, ...), infinity
  // the leading coefficient. y = V_m^T diag(V_r g) V^-T d is F(m, r).
  auto vander = [&](int cols) {
    std::vector<std::vector<double>> v(n, std::vector<double>(cols, 0));
    for (int i = 0; i + 1 < n; ++i)
      for (int j = 0; j < cols; ++j) v[i][j] = std::pow(kPoints[i], j);
    v[n - 1][cols - 1] = 1;
    return v;
  };
  const auto at = vander(m), gm = vander(r), bt = inverse_transpose(vander(n));
  // A rounding of relative size delta at transformed point x reaches output o as
  // A^T[x][o] (G g)_x (B^T d)_x delta; with independent unit-variance g and d the
  // product's mean square is sum_j G[x][j]^2 * sum_l B^T[x][l]^2 (invariant under the
  // diagonal scaling that moves factors between G and B^T).
  double worst = 0;
  for (int o = 0; o < m; ++o) {
    double sum = 0;
    for (int x = 0; x < n; ++x) {
      double g2 = 0, b2 = 0;
      for (double v : gm[x]) g2 += v * v;
      for (double v : bt[x]) b2 += v * v;
      sum += at[x][o] * at[x][o] * g2 * b2;
    }
    worst = std::max(worst, std::sqrt(sum));
  }
  return worst;
}

bool is_transform_class(AlgoClass cls) { return is_winograd(cls) || cls == AlgoClass::fft; }

double direct_term(const ErrorModel& e, double m) {
  double t = 2 * e.u_input * m;
  if (m >= std::ldexp(1.0, e.acc_bits)) {
    // Past the accumulator's exact integers. A reduced-precision reduction is modelled
    // as a tree (split-K) reduction: each term passes through log2(k) roundings.
    const bool reduced_type = e.acc_bits < kF32Bits;
    const double steps = std::ceil(std::log2(std::max(e.k, 2.0)));
    t += (reduced_type ? steps * e.u_acc / (1 - steps * e.u_acc)
                       : accumulation_gamma(e.k, e.u_acc)) *
         m;
  }
  return t;
}

ErrorModel error_model(const Problem& p, AlgoClass cls) {
  ErrorModel e;
  e.cls = cls;
  e.u_store = unit_roundoff(significant_bits(p.dt));
  e.u_acc = unit_roundoff(kF32Bits);
  e.k = accumulation_length(p);
  e.fill_m = e.k * fill_magnitude(p) * fill_magnitude(p);
  const double kc = std::max(1.0, transformed_sum_length(p));
  if (cls == AlgoClass::reduced) {
    if (p.dt == DataType::f32) {
      // TF32 keeps 11 significant bits of each input; integers up to 2^11 pass exactly.
      if (fill_magnitude(p) > (1 << kTf32Bits)) e.u_input = unit_roundoff(kTf32Bits);
      // Results carry TF32's precision: on the H200 (cuDNN 9) engines with the
      // tensor-core note return f32 results rounded to 11 bits (2160 for 2161), an error
      // below what TF32 input rounding gives on general data (2 u_tf32 M_i >= u_tf32 |y_i|).
      e.u_store = unit_roundoff(kTf32Bits);
    } else {
      e.acc_bits = significant_bits(p.dt);
      e.u_acc = e.u_store;
    }
  } else if (cls == AlgoClass::fft) {
    e.normwise = true;
    // Forward transforms of both operands and one inverse, each log2(N) stages of a
    // 2-D FFT over the padded image, then the pointwise product and the channel sum.
    const double stages = std::ceil(std::log2(double(p.ih + 2 * p.ph))) +
                          std::ceil(std::log2(double(p.iw + 2 * p.pw)));
    e.c = 3 * stages * kFftStageEta + 1 + accumulation_gamma(kc, e.u_acc) / e.u_acc;
  } else if (is_winograd(cls)) {
    // Probabilistic, over the fills' distribution (independent, mean zero, mean square
    // q per input): each output is a sum over the transformed points and the k_c
    // channels of roundings delta * A^T (G g) (B^T d); its standard deviation is
    // sqrt(k_c) q beta_h beta_w times the rounding per path. A path passes two passes of
    // each transform (dot products of length <= n, filter r), the product, and a
    // partial sum of the channel reduction (mean square k_c/2 partial terms); TF32 adds
    // two roundings of the transformed operands. lambda standard deviations bound it.
    const int n = winograd_tile(cls);
    e.growth = growth_1d(n, p.kh) * growth_1d(n, p.kw);
    const double r = double(std::max(p.kh, p.kw));
    const double paths = 4 * n + 2 * r + 1 + kc / 2;
    if (cls == AlgoClass::winograd_tf32 && p.dt == DataType::f32)
      e.u_tf32 = unit_roundoff(kTf32Bits);
    e.abs_term = kLambda * std::sqrt(kc) * fill_mean_square(p) * e.growth *
                 std::sqrt(paths * e.u_acc * e.u_acc + 2 * e.u_tf32 * e.u_tf32);
  }
  return e;
}

bool needs_magnitudes(const Problem& p, AlgoClass cls) {
  const ErrorModel e = error_model(p, cls);
  if (e.normwise || e.u_input > 0) return true;
  // Every partial sum is bounded by M <= k * magnitude^2.
  return e.fill_m >= std::ldexp(1.0, e.acc_bits);
}

Comparison compare_outputs(const Problem& p, const ConvTensors& got, const ConvTensors& ref,
                           AlgoClass cls, const ConvTensors* mag) {
  const ErrorModel e = error_model(p, cls), exact = error_model(p, AlgoClass::exact);
  Comparison out;
  bool normwise_fail = false;
  for (Arg a : outputs_of(p.dir)) {
    const std::vector<float>& g = tensor(got, a);
    const std::vector<float>& r = tensor(ref, a);
    if (g.size() != r.size()) {
      out.mismatches += 1;
      if (out.message.empty())
        out.message =
            fmt::format("{} has {} elements, expected {}", to_string(a), g.size(), r.size());
      continue;
    }
    const std::vector<float>* m =
        mag && tensor(*mag, a).size() == r.size() ? &tensor(*mag, a) : nullptr;
    const ArgStats s = check_arg(e, exact, g, r, m);
    out.max_rel_err = std::max(out.max_rel_err, s.max_rel);
    out.inexact |= s.inexact;
    out.nonfinite += s.nonfinite;
    double ratio = s.max_ratio;
    bool arg_fails = s.mismatches > 0;
    std::string normwise;
    if (e.normwise) {
      const double bound = 2 * e.u_store * std::sqrt(s.floor2) + e.c * e.u_acc * std::sqrt(s.mag2);
      ratio = bound > 0 ? std::sqrt(s.err2) / bound : (s.err2 > 0 ? INFINITY : 0);
      arg_fails = ratio > 1;
      normwise_fail |= arg_fails;
      normwise =
          fmt::format("{} normwise error {:.3g} exceeds the fft bound {:.3g} (err/bound {:.3g}); ",
                      to_string(a), std::sqrt(s.err2), bound, ratio);
    }
    out.err_ratio = std::max(out.err_ratio, ratio);
    if (arg_fails || !e.normwise) out.mismatches += s.mismatches;
    if (s.ref_nonzero && !s.got_nonzero && !out.all_zero) {
      // Ahead of any element message: a kernel that never ran is the likelier story.
      out.all_zero = true;
      out.message = std::string("all-zero output not trusted: ") + to_string(a) +
                    " is all zero, the reference is not" +
                    (out.message.empty() ? "" : "; " + out.message);
    } else if ((arg_fails || s.nonfinite > 0) && out.message.empty()) {
      out.first_arg = a, out.first_bad = s.first_bad >= 0 ? s.first_bad : s.worst;
      out.message = normwise + describe(a, e, s, g, r);
    }
  }
  const bool fails = e.normwise ? normwise_fail : out.mismatches > 0;
  out.pass = !fails && out.nonfinite == 0 && !out.all_zero;
  return out;
}

}  // namespace convguard
