// libFuzzer: quirk files (JSON rules for the simulated engine).
#include <cstdint>
#include <string_view>

#include "convguard/sim.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace convguard;
  (void)parse_quirks(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  return 0;
}
