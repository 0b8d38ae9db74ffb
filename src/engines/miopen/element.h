// Elements of MIOpen's data types as raw bits, shared by the engine (host <-> device
// copies) and its test double: f32, f16 (IEEE half) and bf16 (top half of an f32).
#pragma once

#include <cstdint>
#include <cstring>

namespace convguard::miopen {

enum class Elem { f32, f16, bf16 };

inline size_t elem_size(Elem e) { return e == Elem::f32 ? 4 : 2; }

inline float load_elem(Elem e, const void* base, int64_t i) {
  if (e == Elem::f32) {
    float v;
    std::memcpy(&v, static_cast<const char*>(base) + 4 * i, 4);
    return v;
  }
  uint16_t b;
  std::memcpy(&b, static_cast<const char*>(base) + 2 * i, 2);
  if (e == Elem::f16) {
    _Float16 h;
    std::memcpy(&h, &b, 2);
    return static_cast<float>(h);
  }
  const uint32_t u = uint32_t{b} << 16;
  float v;
  std::memcpy(&v, &u, 4);
  return v;
}

inline void store_elem(Elem e, void* base, int64_t i, float v) {
  char* at = static_cast<char*>(base);
  if (e == Elem::f32) {
    std::memcpy(at + 4 * i, &v, 4);
    return;
  }
  uint16_t b;
  if (e == Elem::f16) {
    const _Float16 h = static_cast<_Float16>(v);
    std::memcpy(&b, &h, 2);
  } else {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    // Round to nearest even; a NaN keeps a quiet NaN's bits.
    b = (u & 0x7fffffffu) > 0x7f800000u ? uint16_t((u >> 16) | 0x40)
                                        : uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
  std::memcpy(at + 2 * i, &b, 2);
}

}  // namespace convguard::miopen
