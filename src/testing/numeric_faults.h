// Test-only: planted numerical faults, the defects a verifier must call `wrong` under
// every algorithm class's bound. Each computes the correct outputs with the ref engine
// (or, for the bf16 accumulator, from the definition) and breaks them the way a real
// kernel would.
#pragma once

#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "convguard/cpu_engines.h"
#include "convguard/fill.h"
#include "engines/terms.h"

namespace convguard::testing {

enum class NumericFault {
  flip_element,     ///< the largest output has its exponent's lowest bit flipped (x2 or /2)
  drop_halo_tap,    ///< the first row of one input channel is read as padding
  swap_channels,    ///< output channels 0 and 1 swapped
  bf16_accumulate,  ///< every partial sum rounded to bf16
  stale_output,     ///< the previous call's outputs returned
};

inline const char* to_string(NumericFault f) {
  switch (f) {
    case NumericFault::flip_element: return "flip_element";
    case NumericFault::drop_halo_tap: return "drop_halo_tap";
    case NumericFault::swap_channels: return "swap_channels";
    case NumericFault::bf16_accumulate: return "bf16_accumulate";
    case NumericFault::stale_output: return "stale_output";
  }
  return "?";
}

/// Outputs of p from the ref engine on the inputs in `t`, written into `t`.
inline Status ref_outputs(const Problem& p, ConvTensors& t) {
  auto e = make_ref_engine();
  CG_RETURN_IF_ERROR(e->init());
  auto prepared = e->prepare(p, kDefaultAlgo);
  if (!prepared.ok()) return prepared.status();
  auto ms = (*prepared)->execute(t, ExecOptions{});
  return ms.ok() ? Status::Ok() : ms.status();
}

/// The direction's outputs of p on the fills of `seed`, broken by `fault`. `previous` holds
/// the outputs a stale kernel returns (those of another seed).
inline Result<ConvTensors> faulty_outputs(const Problem& p, uint64_t seed, NumericFault fault,
                                          const ConvTensors& previous) {
  ConvTensors t;
  resize_for(p, t);
  fill_inputs(p, t, seed);
  if (fault == NumericFault::stale_output) return previous;
  if (fault == NumericFault::bf16_accumulate) {
    for (Arg a : outputs_of(p.dir)) {
      std::vector<float>& out = tensor(t, a);
      for (size_t i = 0; i < out.size(); ++i) {
        float acc = 0;
        for_each_term(p, t, a, static_cast<int64_t>(i),
                      [&](float x, float y) { acc = round_to(DataType::bf16, acc + x * y); });
        out[i] = round_to(p.dt, acc);
      }
    }
    return t;
  }
  if (fault == NumericFault::drop_halo_tap) {
    // Row 0 of channel 0 of image 0 of the first input (src, or diff_dst for BWD_D).
    const bool dy = p.dir == Dir::BWD_D;
    std::vector<float>& in = dy ? t.dst : t.src;
    const int64_t width = dy ? p.ow : p.iw;
    std::fill(in.begin(), in.begin() + width, 0.0f);
  }
  CG_RETURN_IF_ERROR(ref_outputs(p, t));
  for (Arg a : outputs_of(p.dir)) {
    std::vector<float>& out = tensor(t, a);
    if (fault == NumericFault::flip_element) {
      size_t big = 0;
      for (size_t i = 0; i < out.size(); ++i)
        if (std::fabs(out[i]) > std::fabs(out[big])) big = i;
      uint32_t bits;
      std::memcpy(&bits, &out[big], 4);
      bits ^= 1u << 23;
      std::memcpy(&out[big], &bits, 4);
    } else if (fault == NumericFault::swap_channels && a != Arg::bia) {
      // Channel blocks: dst/src (mb, c, h, w) image 0; wei (g, oc/g, ...) output channel 0 and 1.
      const int64_t block = a == Arg::dst   ? p.oh * p.ow
                            : a == Arg::src ? p.ih * p.iw
                                            : (p.ic / p.g) * p.kh * p.kw;
      std::swap_ranges(out.begin(), out.begin() + block, out.begin() + block);
    }
  }
  return t;
}

}  // namespace convguard::testing
