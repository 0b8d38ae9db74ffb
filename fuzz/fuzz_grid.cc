// libFuzzer: --grid specifications, expanded with a small cap so one input stays fast.
#include <cstdint>
#include <string_view>

#include "search/grid.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace convguard;
  GridStats stats;
  (void)expand_grid(std::string_view(reinterpret_cast<const char*>(data), size), Problem{}, &stats,
                    2000);
  return 0;
}
