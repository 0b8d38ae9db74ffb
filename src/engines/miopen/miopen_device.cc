// Descriptors, guard-banded device buffers and the host <-> device element conversion.
#include "engines/miopen/miopen_device.h"

#include <algorithm>

namespace convguard::miopen {

Status hip_check(const Api& api, hipError_t e, const std::string& what) {
  if (e == 0) return Status::Ok();
  const std::string msg = "miopen: " + what + ": " + api.hipGetErrorString(e);
  constexpr hipError_t kOutOfMemory = 2;
  return e == kOutOfMemory ? Status::Error(msg) : Status::DeviceLost(msg);
}

Status miopen_check(const Api& api, miopenStatus_t s, const std::string& what, bool declined_ok) {
  if (s == miopenStatusSuccess) return Status::Ok();
  const std::string msg = "miopen: " + what + ": " + api.GetErrorString(s);
  constexpr miopenStatus_t kBadParm = 3;
  const bool declined =
      s == miopenStatusNotImplemented || s == miopenStatusUnsupportedOp || s == kBadParm;
  return declined && declined_ok ? Status::Unsupported(msg) : Status::Error(msg);
}

Elem elem_of(DataType dt) {
  switch (dt) {
    case DataType::f32: return Elem::f32;
    case DataType::f16: return Elem::f16;
    case DataType::bf16: return Elem::bf16;
  }
  return Elem::f32;
}

TensorShape shape_of(const Problem& p, Arg a) {
  TensorShape s{};
  const int cg = static_cast<int>(p.ic / p.g);
  auto set = [&](int64_t n, int64_t c, int64_t h, int64_t w) {
    s.dims[0] = int(n), s.dims[1] = int(c), s.dims[2] = int(h), s.dims[3] = int(w);
  };
  if (a == Arg::src)
    set(p.mb, p.ic, p.ih, p.iw);
  else if (a == Arg::wei)
    set(p.oc, cg, p.kh, p.kw);
  else if (a == Arg::bia)
    set(1, p.oc, 1, 1);
  else
    set(p.mb, p.oc, p.oh, p.ow);
  const int c = s.dims[1], h = s.dims[2], w = s.dims[3];
  if (p.layout == Layout::nhwc) {
    s.strides[0] = c * h * w, s.strides[1] = 1, s.strides[2] = w * c, s.strides[3] = c;
  } else {
    s.strides[0] = c * h * w, s.strides[1] = h * w, s.strides[2] = w, s.strides[3] = 1;
  }
  return s;
}

namespace {

// Calls f(canonical index, strided index) for every element of s.
template <class F>
void for_each_element(const TensorShape& s, F&& f) {
  int64_t i = 0;
  for (int a = 0; a < s.dims[0]; ++a)
    for (int b = 0; b < s.dims[1]; ++b)
      for (int c = 0; c < s.dims[2]; ++c)
        for (int d = 0; d < s.dims[3]; ++d)
          f(i++, int64_t(a) * s.strides[0] + int64_t(b) * s.strides[1] + int64_t(c) * s.strides[2] +
                     int64_t(d) * s.strides[3]);
}

}  // namespace

std::vector<unsigned char> to_device_bytes(const std::vector<float>& v, const TensorShape& s,
                                           Elem e) {
  std::vector<unsigned char> out(static_cast<size_t>(s.elems()) * elem_size(e));
  for_each_element(s, [&](int64_t i, int64_t at) { store_elem(e, out.data(), at, v[size_t(i)]); });
  return out;
}

void from_device_bytes(const std::vector<unsigned char>& bytes, const TensorShape& s, Elem e,
                       std::vector<float>& v) {
  v.resize(static_cast<size_t>(s.elems()));
  for_each_element(s,
                   [&](int64_t i, int64_t at) { v[size_t(i)] = load_elem(e, bytes.data(), at); });
}

Descriptors::~Descriptors() {
  for (miopenTensorDescriptor_t t : {x, w, y, b})
    if (t) api_->DestroyTensorDescriptor(t);
  if (conv) api_->DestroyConvolutionDescriptor(conv);
}

Status Descriptors::create(const Problem& p) {
  const miopenDataType_t dt = p.dt == DataType::f16    ? miopenHalf
                              : p.dt == DataType::bf16 ? miopenBFloat16
                                                       : miopenFloat;
  const std::pair<miopenTensorDescriptor_t*, Arg> tensors[] = {
      {&x, Arg::src}, {&w, Arg::wei}, {&y, Arg::dst}, {&b, Arg::bia}};
  for (auto [desc, arg] : tensors) {
    if (arg == Arg::bia && !p.has_bias()) continue;
    CG_RETURN_IF_ERROR(
        miopen_check(*api_, api_->CreateTensorDescriptor(desc), "miopenCreateTensorDescriptor"));
    const TensorShape s = shape_of(p, arg);
    CG_RETURN_IF_ERROR(
        miopen_check(*api_, api_->SetTensorDescriptor(*desc, dt, 4, s.dims, s.strides),
                     std::string("miopenSetTensorDescriptor(") + to_string(arg) + ")", true));
  }
  CG_RETURN_IF_ERROR(miopen_check(*api_, api_->CreateConvolutionDescriptor(&conv),
                                  "miopenCreateConvolutionDescriptor"));
  const int pad[2] = {int(p.ph), int(p.pw)}, stride[2] = {int(p.sh), int(p.sw)};
  const int dilation[2] = {int(p.dh + 1), int(p.dw + 1)};
  CG_RETURN_IF_ERROR(miopen_check(
      *api_, api_->InitConvolutionNdDescriptor(conv, 2, pad, stride, dilation, miopenConvolution),
      "miopenInitConvolutionNdDescriptor", true));
  return miopen_check(*api_, api_->SetConvolutionGroupCount(conv, int(p.g)),
                      "miopenSetConvolutionGroupCount", true);
}

DeviceBuffer::~DeviceBuffer() {
  if (base_) api_->hipFree(base_);
}

Status DeviceBuffer::allocate(size_t bytes, bool banded) {
  bytes_ = bytes;
  banded_ = banded;
  if (bytes == 0) return Status::Ok();
  const size_t total = bytes + (banded ? 2 * kBandBytes : 0);
  void* p = nullptr;
  CG_RETURN_IF_ERROR(hip_check(*api_, api_->hipMalloc(&p, total),
                               "hipMalloc(" + std::to_string(total) + " bytes)"));
  base_ = static_cast<char*>(p);
  return arm_bands();
}

Status DeviceBuffer::arm_bands() {
  if (!banded_ || !base_) return Status::Ok();
  const std::vector<unsigned char> band(kBandBytes, kBandByte);
  CG_RETURN_IF_ERROR(
      hip_check(*api_, api_->hipMemcpy(base_, band.data(), kBandBytes, hipMemcpyHostToDevice),
                "hipMemcpy(band)"));
  return hip_check(
      *api_,
      api_->hipMemcpy(base_ + kBandBytes + bytes_, band.data(), kBandBytes, hipMemcpyHostToDevice),
      "hipMemcpy(band)");
}

Result<std::string> DeviceBuffer::check_bands(const std::string& what) const {
  if (!banded_ || !base_) return std::string();
  std::vector<unsigned char> before(kBandBytes), after(kBandBytes);
  CG_RETURN_IF_ERROR(
      hip_check(*api_, api_->hipMemcpy(before.data(), base_, kBandBytes, hipMemcpyDeviceToHost),
                "hipMemcpy(band)"));
  CG_RETURN_IF_ERROR(hip_check(
      *api_,
      api_->hipMemcpy(after.data(), base_ + kBandBytes + bytes_, kBandBytes, hipMemcpyDeviceToHost),
      "hipMemcpy(band)"));
  auto changed = [](const std::vector<unsigned char>& b) {
    return std::any_of(b.begin(), b.end(), [](unsigned char c) { return c != kBandByte; });
  };
  std::string bad = changed(before) ? "before" : "";
  if (changed(after)) bad += bad.empty() ? "after" : " and after";
  return bad.empty() ? bad : "oob: the guard band " + bad + " " + what + " changed";
}

Status DeviceBuffer::upload(const std::vector<unsigned char>& host) {
  if (host.size() != bytes_) return Status::Error("miopen: upload of a wrongly sized buffer");
  if (bytes_ == 0) return Status::Ok();
  return hip_check(*api_, api_->hipMemcpy(data(), host.data(), bytes_, hipMemcpyHostToDevice),
                   "hipMemcpy(host to device)");
}

Status DeviceBuffer::download(std::vector<unsigned char>& host) const {
  host.resize(bytes_);
  if (bytes_ == 0) return Status::Ok();
  return hip_check(*api_, api_->hipMemcpy(host.data(), data(), bytes_, hipMemcpyDeviceToHost),
                   "hipMemcpy(device to host)");
}

}  // namespace convguard::miopen
