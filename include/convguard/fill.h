// benchdnn-style fills and comparison.
#pragma once

#include <cstdint>
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

/// Largest |value| fill_inputs writes for p: inputs are integers in [-m, m].
int fill_magnitude(const Problem& p);
/// Share of the elements fill_inputs draws rather than leaves 0 (below 1 only where the
/// accumulation length passes the data type's exact integers).
double fill_density(const Problem& p);
/// Mean square of the values fill_inputs writes for p (zeros of sparse fills included).
double fill_mean_square(const Problem& p);
/// The most product terms one output of the direction sums (bias included).
double accumulation_length(const Problem& p);

}  // namespace convguard
