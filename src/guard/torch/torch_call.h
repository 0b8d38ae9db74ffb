// One convolution call as PyTorch's dispatcher hands it over (aten::convolution and
// aten::convolution_backward), and the convguard problems it is.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "convguard/problem.h"
#include "convguard/status.h"

namespace convguard::torch_guard {

/// The geometry shared by a forward call and its backward.
struct ConvParams {
  std::vector<int64_t> stride, padding, dilation, output_padding;
  bool transposed = false;
  int64_t groups = 1;
};

/// A forward call: input (N, C, H, W), weight (OC, C/g, KH, KW), optional bias.
struct ForwardCall {
  at::Tensor input, weight;
  std::optional<at::Tensor> bias;
  ConvParams params;
};

/// A backward call: the gradients `mask` asks for (input, weight, bias).
struct BackwardCall {
  at::Tensor grad_output, input, weight;
  std::optional<std::vector<int64_t>> bias_sizes;
  ConvParams params;
  std::array<bool, 3> mask{};
};

/// The problem of a call in direction `dir` (FWD_D/FWD_B, BWD_D, BWD_W/BWD_WB): Unsupported,
/// with the reason, for what convguard cannot probe (transposed, not 2-D, other data types,
/// output padding); those run unguarded.
Result<Problem> problem_of(const at::Tensor& input, const at::Tensor& weight, const ConvParams& c,
                           Dir dir);

/// The directions a backward call computes: BWD_D for mask[0], BWD_W or BWD_WB for mask[1].
std::vector<Dir> backward_dirs(const std::array<bool, 3>& mask);

/// The memory format a problem's layout asks for.
at::MemoryFormat memory_format(Layout l);

}  // namespace convguard::torch_guard
