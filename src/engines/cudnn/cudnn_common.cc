#include "engines/cudnn/cudnn_common.h"

#include <algorithm>

namespace convguard::cudnn {
namespace {

// Blocks kept for reuse; beyond this, released blocks are freed.
constexpr size_t kMaxCachedBytes = size_t{4} << 30;

std::string cudnn_last_error() {
  char buf[1024] = {};
  cudnnGetLastErrorString(buf, sizeof buf);
  return buf;
}

bool in_category(cudnnStatus_t s, int category) {
  return static_cast<int>(s) / 1000 * 1000 == category;
}

}  // namespace

bool is_sticky(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchTimeout:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorECCUncorrectable:
    case cudaErrorNvlinkUncorrectable:
    case cudaErrorContained:
    case cudaErrorExternalDevice:
    case cudaErrorTensorMemoryLeak:
    case cudaErrorUnknown:
      return true;
    default:
      return false;
  }
}

Status cuda_check(cudaError_t e, const std::string& what) {
  if (e == cudaSuccess) return Status::Ok();
  std::string text = what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  if (is_sticky(e)) return Status::DeviceLost(text);
  cudaGetLastError();  // clears a non-sticky error so it does not leak into the next call
  return Status::Error(text);
}

Status cudnn_check(cudnnStatus_t s, const std::string& what, bool declines_bad_param) {
  if (s == CUDNN_STATUS_SUCCESS) return Status::Ok();
  std::string detail = cudnn_last_error();
  std::string text = what + ": " + cudnnGetErrorString(s);
  if (!detail.empty()) text += " (" + detail + ")";
  if (in_category(s, CUDNN_STATUS_NOT_SUPPORTED)) return Status::Unsupported(text);
  if (declines_bad_param && in_category(s, CUDNN_STATUS_BAD_PARAM))
    return Status::Unsupported(text);
  if (in_category(s, CUDNN_STATUS_EXECUTION_FAILED)) {
    cudaError_t e = cudaDeviceSynchronize();
    if (e == cudaSuccess) e = cudaGetLastError();
    if (is_sticky(e)) return cuda_check(e, text);
  }
  return Status::Error(text);
}

DevicePool::~DevicePool() { trim(); }

Result<void*> DevicePool::acquire(size_t bytes, size_t* capacity) {
  bytes = (bytes + 255) / 256 * 256;
  // Best fit among cached blocks no more than twice the request (plus 1 MiB slack).
  auto best = free_.end();
  for (auto it = free_.begin(); it != free_.end(); ++it)
    if (it->bytes >= bytes && it->bytes <= 2 * bytes + (1 << 20) &&
        (best == free_.end() || it->bytes < best->bytes))
      best = it;
  if (best != free_.end()) {
    Block b = *best;
    free_.erase(best);
    cached_ -= b.bytes;
    *capacity = b.bytes;
    return b.ptr;
  }
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    trim();
    e = cudaMalloc(&p, bytes);
  }
  CG_RETURN_IF_ERROR(cuda_check(e, "cudaMalloc(" + std::to_string(bytes) + " bytes)"));
  *capacity = bytes;
  return p;
}

void DevicePool::release(void* ptr, size_t capacity) {
  if (ptr == nullptr) return;
  if (cached_ + capacity > kMaxCachedBytes) {
    cudaFree(ptr);
    return;
  }
  free_.push_back({ptr, capacity});
  cached_ += capacity;
}

void DevicePool::trim() {
  for (const Block& b : free_) cudaFree(b.ptr);
  free_.clear();
  cached_ = 0;
}

Context::~Context() {
  // After a lost device every call fails; the process is about to end anyway.
  if (!lost.ok()) return;
  pool.trim();
  if (scratch) cudaFree(scratch);
  if (handle) cudnnDestroy(handle);
  if (stream) cudaStreamDestroy(stream);
}

Status Context::note(Status s) {
  if (s.code() == Code::kDeviceLost && lost.ok()) lost = s;
  return s;
}

}  // namespace convguard::cudnn
