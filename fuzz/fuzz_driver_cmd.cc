// libFuzzer: MIOpenDriver command lines.
#include <cstdint>
#include <string_view>

#include "convguard/problem.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace convguard;
  (void)parse_driver_cmd(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
