// The test double of the HIP runtime (libconvguard_fake_hip.so): "device" memory is host
// memory, one device whose properties come from the environment
// (CONVGUARD_FAKE_GFX, default gfx1010:xnack-).
#include <cstdlib>
#include <cstring>

#include "engines/miopen/testing/fake_hip_props.h"

namespace {
using hipError_t = int;
constexpr hipError_t kSuccess = 0, kInvalidValue = 1;
}  // namespace

extern "C" {

hipError_t hipGetDeviceCount(int* n) {
  *n = 1;
  return kSuccess;
}

hipError_t hipSetDevice(int d) { return d == 0 ? kSuccess : kInvalidValue; }

hipError_t hipGetDevicePropertiesR0600(void* prop, int d) {
  if (d != 0) return kInvalidValue;
  auto* p = static_cast<convguard::miopen::FakeDeviceProps*>(prop);
  std::memset(p, 0, sizeof(*p));
  std::strcpy(p->name, "convguard fake HIP device");
  const char* gfx = std::getenv("CONVGUARD_FAKE_GFX");
  std::strncpy(p->gcnArchName, gfx && *gfx ? gfx : "gfx1010:xnack-", sizeof(p->gcnArchName) - 1);
  return kSuccess;
}

hipError_t hipRuntimeGetVersion(int* v) {
  *v = 60242133;  // HIP's encoding: major * 10^7 + minor * 10^5 + patch
  return kSuccess;
}

hipError_t hipDriverGetVersion(int* v) { return hipRuntimeGetVersion(v); }

hipError_t hipMalloc(void** p, size_t n) {
  *p = std::malloc(n ? n : 1);
  return *p ? kSuccess : 2;  // hipErrorOutOfMemory
}

hipError_t hipFree(void* p) {
  std::free(p);
  return kSuccess;
}

hipError_t hipMemcpy(void* dst, const void* src, size_t n, int /*kind*/) {
  std::memcpy(dst, src, n);
  return kSuccess;
}

hipError_t hipDeviceSynchronize() { return kSuccess; }

const char* hipGetErrorString(hipError_t e) {
  return e == kSuccess ? "hipSuccess" : e == 2 ? "hipErrorOutOfMemory" : "hipErrorInvalidValue";
}

}  // extern "C"
