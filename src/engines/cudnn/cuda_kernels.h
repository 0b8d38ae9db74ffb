// Small CUDA kernels the cuDNN engine needs beside cuDNN: guard bands, a kernel
// that never ends (fault injection), and a deliberate overrun for tests.
// Plain C++ interface, so that files built by the host compiler can call them.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

namespace convguard::cuda {

/// Guard bands are this many bytes and hold kBandWord repeated.
inline constexpr size_t kBandBytes = 4096;
inline constexpr uint32_t kBandWord = 0x5AA5C33Cu;
inline constexpr int kMaxBands = 16;

/// Up to kMaxBands device pointers to bands of kBandBytes each (4-byte aligned).
struct BandSet {
  void* band[kMaxBands] = {};
  int count = 0;
};

/// Writes the pattern into every band of `set` on `stream`.
cudaError_t fill_bands(const BandSet& set, cudaStream_t stream);

/// Checks every band on `stream`; `first_bad_dev` (device, count ints) receives for each
/// band the byte offset of the first changed word, or -1. The caller copies it back.
cudaError_t check_bands(const BandSet& set, int* first_bad_dev, cudaStream_t stream);

/// Launches a kernel on `stream` that spins until *flag_dev becomes nonzero; nothing
/// ever sets it.
cudaError_t launch_spin(const volatile int* flag_dev, cudaStream_t stream);

/// Writes `bytes` bytes of 0x00 starting at `dst` (a test's deliberate overrun).
cudaError_t launch_overrun(void* dst, int64_t bytes, cudaStream_t stream);

}  // namespace convguard::cuda
