// What one prepared MIOpen convolution holds: its descriptors and its device buffers, the
// output and workspace ones inside guard bands.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "convguard/engine.h"
#include "engines/miopen/element.h"
#include "engines/miopen/miopen_api.h"

namespace convguard::miopen {

/// A HIP error as a Status: out of memory is an Error, anything else DeviceLost (HIP
/// errors after a faulting kernel are sticky).
Status hip_check(const Api& api, hipError_t e, const std::string& what);
/// A MIOpen status as a Status: NotImplemented, UnsupportedOp and BadParm (how MIOpen
/// declines a solver for a problem) are Unsupported when `declined_ok`, else Error.
Status miopen_check(const Api& api, miopenStatus_t s, const std::string& what,
                    bool declined_ok = false);

/// The tensor and convolution descriptors of a problem (x, w, y in MIOpen's terms, the
/// problem's data type and layout; dilation 1 = dense).
class Descriptors {
 public:
  explicit Descriptors(std::shared_ptr<const Api> api) : api_(std::move(api)) {}
  ~Descriptors();
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;

  Status create(const Problem& p);
  miopenTensorDescriptor_t x = nullptr, w = nullptr, y = nullptr;
  miopenTensorDescriptor_t b = nullptr;  ///< (1, oc, 1, 1) where the direction has a bias
  miopenTensorDescriptor_t of(Arg a) const {
    return a == Arg::src ? x : a == Arg::wei ? w : a == Arg::bia ? b : y;
  }
  miopenConvolutionDescriptor_t conv = nullptr;

 private:
  std::shared_ptr<const Api> api_;
};

/// Bytes of each guard band, and the byte they hold.
inline constexpr size_t kBandBytes = 4096;
inline constexpr unsigned char kBandByte = 0xa5;

/// One device allocation of a tensor (or workspace), optionally inside guard bands.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::shared_ptr<const Api> api) : api_(std::move(api)) {}
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  Status allocate(size_t bytes, bool banded);
  void* data() const { return bytes_ ? base_ + (banded_ ? kBandBytes : 0) : nullptr; }
  size_t bytes() const { return bytes_; }
  /// Writes the bands' pattern (no-op without bands).
  Status arm_bands();
  /// Empty when both bands are intact, else "oob: the guard band after <what> changed".
  Result<std::string> check_bands(const std::string& what) const;
  Status upload(const std::vector<unsigned char>& host);
  Status download(std::vector<unsigned char>& host) const;

 private:
  std::shared_ptr<const Api> api_;
  char* base_ = nullptr;
  size_t bytes_ = 0;
  bool banded_ = false;
};

/// An arg's sizes and strides in the problem's layout: the dims are always canonical
/// (n, c, h, w or k, c/g, r, s; the bias 1, k, 1, 1); nhwc moves the channel stride to 1.
struct TensorShape {
  int dims[4];
  int strides[4];
  int64_t elems() const { return int64_t(dims[0]) * dims[1] * dims[2] * dims[3]; }
};
TensorShape shape_of(const Problem& p, Arg a);
Elem elem_of(DataType dt);

/// Canonical floats to the device's bytes in `s`'s strides, and back.
std::vector<unsigned char> to_device_bytes(const std::vector<float>& v, const TensorShape& s,
                                           Elem e);
void from_device_bytes(const std::vector<unsigned char>& bytes, const TensorShape& s, Elem e,
                       std::vector<float>& v);

}  // namespace convguard::miopen
