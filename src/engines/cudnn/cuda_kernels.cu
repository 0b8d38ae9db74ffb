#include "engines/cudnn/cuda_kernels.h"

namespace convguard::cuda {
namespace {

constexpr int kWordsPerBand = static_cast<int>(kBandBytes / sizeof(uint32_t));

__global__ void fill_bands_kernel(BandSet set) {
  auto* w = static_cast<uint32_t*>(set.band[blockIdx.x]);
  for (int i = threadIdx.x; i < kWordsPerBand; i += blockDim.x) w[i] = kBandWord;
}

__global__ void check_bands_kernel(BandSet set, int* first_bad) {
  const auto* w = static_cast<const uint32_t*>(set.band[blockIdx.x]);
  __shared__ int first;
  if (threadIdx.x == 0) first = kWordsPerBand;
  __syncthreads();
  for (int i = threadIdx.x; i < kWordsPerBand; i += blockDim.x)
    if (w[i] != kBandWord) atomicMin(&first, i);
  __syncthreads();
  if (threadIdx.x == 0)
    first_bad[blockIdx.x] = first == kWordsPerBand ? -1 : first * static_cast<int>(sizeof(uint32_t));
}

__global__ void spin_kernel(const volatile int* flag) {
  // The flag is never set: this kernel runs until its process is killed.
  while (*flag == 0) __nanosleep(1000);
}

__global__ void overrun_kernel(unsigned char* dst, int64_t bytes) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < bytes;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = 0;
}

}  // namespace

cudaError_t fill_bands(const BandSet& set, cudaStream_t stream) {
  if (set.count == 0) return cudaSuccess;
  fill_bands_kernel<<<set.count, 256, 0, stream>>>(set);
  return cudaGetLastError();
}

cudaError_t check_bands(const BandSet& set, int* first_bad_dev, cudaStream_t stream) {
  if (set.count == 0) return cudaSuccess;
  check_bands_kernel<<<set.count, 256, 0, stream>>>(set, first_bad_dev);
  return cudaGetLastError();
}

cudaError_t launch_spin(const volatile int* flag_dev, cudaStream_t stream) {
  spin_kernel<<<1, 1, 0, stream>>>(flag_dev);
  return cudaGetLastError();
}

cudaError_t launch_overrun(void* dst, int64_t bytes, cudaStream_t stream) {
  if (bytes <= 0) return cudaSuccess;
  overrun_kernel<<<1, 256, 0, stream>>>(static_cast<unsigned char*>(dst), bytes);
  return cudaGetLastError();
}

}  // namespace convguard::cuda
