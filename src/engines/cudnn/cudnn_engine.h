// The cuDNN engine: NVIDIA's convolutions on the first CUDA device, every legacy
// algorithm crossed with its math modes and cuDNN 9's backend engines, each
// individually selectable, with guard-banded device buffers.
// Built only when CUDA and cuDNN are found (CONVGUARD_HAVE_CUDNN is then defined).
#pragma once

#include <cstdint>
#include <memory>

#include "convguard/engine.h"
#include "convguard/status.h"

namespace convguard {

/// `cudnn`: algorithms are named "<dir>.<ALGO>.<math>" for the legacy API
/// (e.g. "fwd.IMPLICIT_PRECOMP_GEMM.tf32", "bwd_data.ALGO_1.fma", "bwd_filter.FFT.default";
/// math: default | tf32 (f32) or tensor_op (f16/bf16) | fma), "engine<N>" for the backend
/// API's global engine N with default knobs, and "default" for the legacy heuristic's
/// top choice (it resolves to the legacy name). Bias (FWD_B, BWD_WB) is added with
/// cudnnAddTensor / computed with cudnnConvolutionBackwardBias after the convolution.
/// A guard-band change in any device buffer makes execute() return an Error whose
/// message starts with "oob:". Never fails today; a Result for future checks.
Result<std::unique_ptr<Engine>> make_cudnn_engine();
}  // namespace convguard
