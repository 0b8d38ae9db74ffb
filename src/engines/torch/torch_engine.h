// The torch engine: convolutions through the PyTorch (libtorch) this build found, on
// its first CUDA/HIP device or on the CPU, with the knobs a PyTorch user can set as
// the algorithms. Built only when Torch is found (CONVGUARD_HAVE_TORCH is then defined).
#pragma once

#include <memory>

#include "convguard/engine.h"
#include "convguard/status.h"

namespace convguard {

/// `torch`: at::convolution for FWD_D/FWD_B and at::convolution_backward for
/// BWD_D/BWD_W/BWD_WB, in the problem's data type, channels_last for nhwc problems.
/// Algorithms are PyTorch's global knobs, each set around one Prepared's calls and
/// restored after: default, cudnn.benchmark, cudnn.deterministic, cudnn.off, tf32.off
/// (CUDA with cuDNN), miopen.immediate (ROCm with MIOpen), mkldnn.off (CPU),
/// channels_last. Never fails today; a Result for future checks.
Result<std::unique_ptr<Engine>> make_torch_engine();

}  // namespace convguard
