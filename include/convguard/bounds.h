// Error bounds per data type, accumulation length and algorithm class, and the
// comparison of results against them. docs/NUMERICS.md derives every term.
#pragma once

#include <string>

#include "convguard/engine.h"
#include "convguard/problem.h"

namespace convguard {

/// Unit roundoff of a floating-point type with `bits` significant bits: 2^-bits.
double unit_roundoff(int bits);
/// Significant bits (implicit bit included) of a data type: f32 24, f16 11, bf16 8.
int significant_bits(DataType dt);

/// The error model of one algorithm class on one problem. With y the exact result,
/// M = conv(|inputs|) (the sum of |a*b| over the terms feeding an output) and
/// S = max M over the output tensor, an output passes when
///   elementwise: |got_i - ref_i| <= 2 u_store max(|y_i|, 1) + E_i
///   normwise (fft): ||got - ref||_2 <= 2 u_store ||max(|y|, 1)||_2 + c u_acc ||M||_2
/// where E_i = 2 u_input M_i + [M_i >= 2^acc_bits] gamma(k, u_acc) M_i for direct
/// classes and E = abs_term (a probabilistic bound over the fills' distribution, the
/// same for every output) for Winograd.
struct ErrorModel {
  AlgoClass cls = AlgoClass::exact;
  double u_store = 0;  ///< unit roundoff of the data type (the final rounding)
  double u_input =
      0;  ///< rounding of inputs into the compute type; 0 where the fills are exact in it
  double u_acc = 0;       ///< unit roundoff of the accumulation
  int acc_bits = 24;      ///< integer partial sums below 2^acc_bits are exact in the accumulator
  double k = 1;           ///< accumulation length: the terms that feed one output
  double fill_m = 0;      ///< the fills' bound on M: k * magnitude^2
  double c = 0;           ///< FFT constant multiplying u_acc ||M||_2
  double u_tf32 = 0;      ///< winograd_tf32: TF32 rounding of the transformed operands
  double growth = 1;      ///< Winograd: beta_h beta_w, the transforms' RMS path gain
  double abs_term = 0;    ///< Winograd: the computation bound E, the same for every output
  bool normwise = false;  ///< fft: judged in the 2-norm over each output tensor
};
ErrorModel error_model(const Problem& p, AlgoClass cls);

/// Winograd and FFT classes: their computation term is the transform's, the same for every
/// output (abs_term + c u_acc S), not the direct classes' E_i.
bool is_transform_class(AlgoClass cls);

/// The computation term E_i of a direct class's elementwise bound for an output whose
/// M_i is m: 2 u_input m, plus the accumulation's rounding once m passes 2^acc_bits.
double direct_term(const ErrorModel& e, double m);

/// gamma(k, u) of the accumulation term: Higham and Mary's probabilistic bound
/// exp(lambda sqrt(k) u + k u^2 / (1 - u)) - 1 with lambda = 8.
double accumulation_gamma(double k, double u);

/// RMS path gain beta of a 1-D Winograd F(m, r) with the standard Toom-Cook points
/// (0, 1, -1, 2, -2, 1/2, -1/2, ...): max over outputs o of
/// sqrt(sum_x A^T[x][o]^2 |G[x]|_2^2 |B^T[x]|_2^2).
double winograd_growth(int m, int r);

/// Whether compare_outputs needs M (the magnitudes) for this class on p; when not,
/// the fills' own bound on M proves every accumulation term zero.
bool needs_magnitudes(const Problem& p, AlgoClass cls);

struct Comparison {
  bool pass = false;
  double max_rel_err = 0;  ///< max |got - ref| / max(|ref|, 1): the elementwise figure
  double err_ratio = 0;    ///< error / bound: elementwise max, or normwise for fft; <= 1 passes
  bool inexact = false;    ///< the error exceeds what the exact class allows
  int64_t mismatches = 0;  ///< elements over their elementwise bound
  int64_t nonfinite = 0;   ///< NaN/Inf in the result (poison left or computed)
  bool all_zero = false;   ///< the result is all zero while the reference is not: not trusted
  int64_t first_bad = -1;  ///< first element over its bound in `first_arg`
  Arg first_arg = Arg::dst;
  std::string message;  ///< first failure with its elementwise figures
};

/// Compares every output arg of the direction against the class's bound. `mag` holds
/// M for each output (conv of the absolute inputs); it may be null when
/// needs_magnitudes(p, cls) is false.
Comparison compare_outputs(const Problem& p, const ConvTensors& got, const ConvTensors& ref,
                           AlgoClass cls, const ConvTensors* mag);

}  // namespace convguard
