#include "engines/cudnn/cudnn_buffers.h"

#include <cmath>
#include <cstring>

namespace convguard::cudnn {

GuardedBuffer::~GuardedBuffer() {
  if (ctx_ && base_) ctx_->pool.release(base_, capacity_);
}

Status GuardedBuffer::allocate(Context* ctx, size_t bytes, std::string label) {
  ctx_ = ctx;
  label_ = std::move(label);
  bytes_ = bytes;
  size_t payload = (bytes + 255) / 256 * 256;
  auto block = ctx->pool.acquire(payload + 2 * cuda::kBandBytes, &capacity_);
  if (!block.ok()) return ctx->note(block.status());
  base_ = *block;
  return Status::Ok();
}

void GuardedBuffer::add_bands(cuda::BandSet* set) const {
  if (!base_ || set->count + 2 > cuda::kMaxBands) return;
  set->band[set->count++] = base_;
  // The after-band starts right after the payload, rounded up to 4 bytes.
  size_t after = cuda::kBandBytes + (bytes_ + 3) / 4 * 4;
  set->band[set->count++] = static_cast<char*>(base_) + after;
}

Status fill_bands(Context* ctx, const std::vector<const GuardedBuffer*>& buffers) {
  cuda::BandSet set;
  for (const GuardedBuffer* b : buffers) b->add_bands(&set);
  return ctx->note(cuda_check(cuda::fill_bands(set, ctx->stream), "guard band fill"));
}

Status check_bands(Context* ctx, const std::vector<const GuardedBuffer*>& buffers) {
  cuda::BandSet set;
  for (const GuardedBuffer* b : buffers) b->add_bands(&set);
  CG_RETURN_IF_ERROR(
      ctx->note(cuda_check(cuda::check_bands(set, ctx->scratch, ctx->stream), "guard band check")));
  int first_bad[cuda::kMaxBands];
  CG_RETURN_IF_ERROR(
      ctx->note(cuda_check(cudaMemcpyAsync(first_bad, ctx->scratch, sizeof(int) * set.count,
                                           cudaMemcpyDeviceToHost, ctx->stream),
                           "guard band read-back")));
  CG_RETURN_IF_ERROR(ctx->note(cuda_check(cudaStreamSynchronize(ctx->stream), "guard band sync")));
  for (int i = 0; i < set.count; ++i) {
    if (first_bad[i] < 0) continue;
    const GuardedBuffer* b = buffers[i / 2];
    return Status::Error("oob: " + b->label() + (i % 2 ? " after" : " before") +
                         " band changed at byte " + std::to_string(first_bad[i]) + " of " +
                         std::to_string(cuda::kBandBytes) + " (buffer of " +
                         std::to_string(b->bytes()) + " bytes)");
  }
  return Status::Ok();
}

uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (std::isnan(f)) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7FFF + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

float bf16_to_float(uint16_t b) {
  uint32_t u = uint32_t{b} << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000, exp = (u >> 23) & 0xFF, man = u & 0x7FFFFF;
  if (exp == 0xFF) return static_cast<uint16_t>(sign | 0x7C00 | (man ? 0x200 : 0));
  int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7C00);
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    man |= 0x800000;
    int shift = 14 - e;
    uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(e) << 10) | (man >> 13), rem = man & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;  // may carry into the exponent
  return static_cast<uint16_t>(sign | half);
}

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t{h & 0x8000u} << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF;
  float mag;
  if (exp == 0) mag = std::ldexp(static_cast<float>(man), -24);
  else if (exp == 31) mag = man ? NAN : INFINITY;
  else mag = std::ldexp(static_cast<float>(man | 0x400), static_cast<int>(exp) - 25);
  uint32_t u;
  std::memcpy(&u, &mag, 4);
  u |= sign;
  std::memcpy(&mag, &u, 4);
  return mag;
}

namespace {

// Index in the device layout of canonical element (a, b, c, d).
inline int64_t device_index(const int64_t n[4], bool nhwc, int64_t a, int64_t b, int64_t c,
                            int64_t d) {
  return nhwc ? ((a * n[2] + c) * n[3] + d) * n[1] + b : ((a * n[1] + b) * n[2] + c) * n[3] + d;
}

void store(unsigned char* out, int64_t i, float v, DataType dt) {
  if (dt == DataType::f32) {
    std::memcpy(out + 4 * i, &v, 4);
    return;
  }
  uint16_t h = dt == DataType::f16 ? float_to_half(v) : float_to_bf16(v);
  std::memcpy(out + 2 * i, &h, 2);
}

float load(const unsigned char* in, int64_t i, DataType dt) {
  if (dt == DataType::f32) {
    float v;
    std::memcpy(&v, in + 4 * i, 4);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, in + 2 * i, 2);
  return dt == DataType::f16 ? half_to_float(h) : bf16_to_float(h);
}

}  // namespace

std::vector<unsigned char> pack(const std::vector<float>& src, const int64_t n[4], bool nhwc,
                                DataType dt) {
  std::vector<unsigned char> out(src.size() * static_cast<size_t>(dt_size(dt)));
  int64_t i = 0;
  for (int64_t a = 0; a < n[0]; ++a)
    for (int64_t b = 0; b < n[1]; ++b)
      for (int64_t c = 0; c < n[2]; ++c)
        for (int64_t d = 0; d < n[3]; ++d) store(out.data(), device_index(n, nhwc, a, b, c, d),
                                                 src[static_cast<size_t>(i++)], dt);
  return out;
}

void unpack(const std::vector<unsigned char>& bytes, const int64_t n[4], bool nhwc, DataType dt,
            std::vector<float>* dst) {
  dst->resize(static_cast<size_t>(n[0] * n[1] * n[2] * n[3]));
  int64_t i = 0;
  for (int64_t a = 0; a < n[0]; ++a)
    for (int64_t b = 0; b < n[1]; ++b)
      for (int64_t c = 0; c < n[2]; ++c)
        for (int64_t d = 0; d < n[3]; ++d)
          (*dst)[static_cast<size_t>(i++)] =
              load(bytes.data(), device_index(n, nhwc, a, b, c, d), dt);
}

}  // namespace convguard::cudnn
