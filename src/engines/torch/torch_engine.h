// The torch engine: convolutions through the PyTorch (libtorch) this build found, on
// its first CUDA/HIP device or on the CPU, with the knobs a PyTorch user can set as
// the algorithms. Built only when Torch is found (CONVGUARD_HAVE_TORCH is then defined).
#pragma once

#include <memory>

#include "convguard/engine.h"
#include "convguard/probe.h"
#include "convguard/status.h"

namespace convguard {

/// `torch`: at::convolution for FWD_D/FWD_B and at::convolution_backward for
/// BWD_D/BWD_W/BWD_WB, in the problem's data type, channels_last for nhwc problems.
/// Algorithms are PyTorch's global knobs, each set around one Prepared's calls and
/// restored after: default, cudnn.benchmark, cudnn.deterministic, cudnn.off, tf32.off
/// (CUDA with cuDNN), miopen.immediate (ROCm with MIOpen), mkldnn.off (CPU),
/// channels_last. Never fails today; a Result for future checks.
Result<std::unique_ptr<Engine>> make_torch_engine();

/// `torch-cpu`: PyTorch's own CPU kernels computing in f32 whatever the problem's data type,
/// the outputs rounded to it once (as ref computes f16/bf16 problems): a reference for the
/// torch engine on a GPU, in the worker that has libtorch loaded.
std::unique_ptr<Engine> make_torch_cpu_reference();

/// The reference for probes of `judged_engine` in a process that has libtorch loaded:
/// ref for small problems and, where the engine under test runs on a GPU, torch-cpu for
/// large ones; where it runs on the CPU, ref for every size (torch-cpu would judge
/// itself). Never Debian's oneDNN: libtorch carries its own oneDNN, whose definitions of
/// oneDNN's inline statics (the call_once of gemm_info_t::jit_init) take the place of
/// the system library's at load time, after which the system library's GEMM-based
/// convolutions fail with "could not execute a primitive".
std::unique_ptr<Reference> make_torch_worker_reference(const std::string& judged_engine);

}  // namespace convguard
