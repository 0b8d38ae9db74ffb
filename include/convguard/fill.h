// benchdnn-style fills and comparison.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "convguard/engine.h"
#include "convguard/problem.h"

namespace convguard {

/// Fills the direction's inputs of `t` (sized by resize_for) with deterministic
/// integer values chosen so that exact algorithms give exact f32 results; values
/// depend only on (problem, arg, seed, element index), never on thread count.
void fill_inputs(const Problem& p, ConvTensors& t, uint64_t seed = 0);

/// The values fill_inputs writes into elements [begin, end) of `a`, stored at out[0..).
/// Any split of an arg into ranges gives the same values as one fill_inputs call.
void fill_range(const Problem& p, Arg a, uint64_t seed, int64_t begin, int64_t end, float* out);

/// `v` rounded to the nearest value of `dt` (ties to even); NaN stays NaN.
float round_to(DataType dt, float v);

/// Writes a NaN poison into the direction's outputs, so unwritten elements never pass.
void poison_outputs(const Problem& p, ConvTensors& t);

struct Tolerance {
  double rel = 0;  ///< allowed |got - ref| / max(|ref|, 1)
};
/// Tolerance per data type and algorithm class.
Tolerance tolerance_for(DataType dt, AlgoClass cls);

struct Comparison {
  bool pass = false;
  double max_rel_err = 0;
  int64_t mismatches = 0;
  int64_t nonfinite = 0;  ///< NaN/Inf in the result (poison left or computed)
  bool all_zero = false;  ///< the result is all zero while the reference is not: not trusted
  std::string message;    ///< first failure, e.g. "dst[12]=3 ref=4 (rel 0.25)"
};
/// Compares every output arg of the direction.
Comparison compare_outputs(const Problem& p, const ConvTensors& got, const ConvTensors& ref,
                           Tolerance tol);

}  // namespace convguard
