// libFuzzer: benchdnn descriptors (parse_problem). A parsed problem prints to text that
// parses back to the same problem.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "convguard/problem.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace convguard;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = parse_problem(text);
  if (!p.ok()) return 0;
  auto back = parse_problem(to_string(*p));
  if (!back.ok() || to_string(*back) != to_string(*p)) std::abort();
  (void)p->flops();
  return 0;
}
