// Shared pieces of the cuDNN engine: the device context every prepared problem
// holds, and the mapping of CUDA and cuDNN return codes to Status.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "convguard/status.h"

namespace convguard::cudnn {

/// True for CUDA errors after which the context is unusable (illegal address,
/// launch failure, ...): the process must not touch the device again.
bool is_sticky(cudaError_t e);

/// Ok, or a Status naming `what` and the CUDA error. Sticky errors give kDeviceLost,
/// others kError.
Status cuda_check(cudaError_t e, const std::string& what);

/// Ok, or a Status naming `what`, the cuDNN status and cuDNN's last error text.
/// NOT_SUPPORTED* (and, with `declines_bad_param`, BAD_PARAM*: cuDNN refusing a
/// descriptor) give kUnsupported; EXECUTION_FAILED* probe the device for a sticky
/// CUDA error (kDeviceLost); everything else gives kError.
Status cudnn_check(cudnnStatus_t s, const std::string& what, bool declines_bad_param = false);

/// A cached device allocation: reused across problems of similar size, since
/// cudaMalloc/cudaFree per probe would dominate small probes.
class DevicePool {
 public:
  ~DevicePool();
  /// A block of at least `bytes` (256-byte aligned), or an Error/DeviceLost Status.
  Result<void*> acquire(size_t bytes, size_t* capacity);
  /// Returns a block taken with acquire(); kept for reuse up to a cache limit.
  void release(void* ptr, size_t capacity);
  /// Frees every cached block (after a failed allocation, to make room).
  void trim();

 private:
  struct Block {
    void* ptr;
    size_t bytes;
  };
  std::vector<Block> free_;
  size_t cached_ = 0;
};

/// The device state of one engine: handle, stream, buffer cache, and the latch that
/// records a lost device so that every later call fails fast.
struct Context {
  cudnnHandle_t handle = nullptr;
  cudaStream_t stream = nullptr;
  int* scratch = nullptr;  ///< device ints: band-check results and the hang flag
  DevicePool pool;
  Status lost;  ///< kDeviceLost once the device is gone

  ~Context();
  /// Records `s` when it is kDeviceLost; returns it unchanged.
  Status note(Status s);
};

}  // namespace convguard::cudnn
