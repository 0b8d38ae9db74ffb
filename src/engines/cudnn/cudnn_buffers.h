// Device buffers with guard bands, and the host-side conversion between
// convguard's canonical float tensors and cuDNN's layouts and data types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "convguard/problem.h"
#include "convguard/status.h"
#include "engines/cudnn/cuda_kernels.h"
#include "engines/cudnn/cudnn_common.h"

namespace convguard::cudnn {

/// One device allocation laid out as [band][payload][band]; the payload starts
/// kBandBytes after the block start, so it keeps the block's 256-byte alignment.
class GuardedBuffer {
 public:
  GuardedBuffer() = default;
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;
  ~GuardedBuffer();

  /// Takes a block for `bytes` of payload from the context's pool. `label` names the
  /// buffer in oob messages ("dst", "workspace").
  Status allocate(Context* ctx, size_t bytes, std::string label);
  void* data() const { return base_ ? static_cast<char*>(base_) + cuda::kBandBytes : nullptr; }
  size_t bytes() const { return bytes_; }
  const std::string& label() const { return label_; }
  /// Adds this buffer's two bands to `set`.
  void add_bands(cuda::BandSet* set) const;

 private:
  Context* ctx_ = nullptr;
  void* base_ = nullptr;
  size_t capacity_ = 0, bytes_ = 0;
  std::string label_;
};

/// Fills the bands of `buffers` on the context's stream.
Status fill_bands(Context* ctx, const std::vector<const GuardedBuffer*>& buffers);
/// Checks the bands of `buffers`; a change gives Error("oob: <label> <before|after>
/// band changed at byte <n> of <bytes>").
Status check_bands(Context* ctx, const std::vector<const GuardedBuffer*>& buffers);

/// Converts a canonical float tensor of 4 dims (d0, d1, d2, d3) into device bytes
/// of `dt`, permuted to (d0, d2, d3, d1) when `nhwc` (activations and filters alike).
std::vector<unsigned char> pack(const std::vector<float>& src, const int64_t dims[4],
                                bool nhwc, DataType dt);
/// The inverse of pack.
void unpack(const std::vector<unsigned char>& bytes, const int64_t dims[4], bool nhwc,
            DataType dt, std::vector<float>* dst);

/// Round-to-nearest-even conversions (exposed for tests).
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);
uint16_t float_to_bf16(float f);
float bf16_to_float(uint16_t b);

}  // namespace convguard::cudnn
