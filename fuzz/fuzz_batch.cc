// libFuzzer: benchdnn batch files (knob lines, lists, descriptors; no includes).
#include <cstdint>
#include <string_view>

#include "convguard/problem.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace convguard;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // --batch= includes name files; the fuzzer's lines must not wander the file system.
  if (text.find("--batch=") != std::string_view::npos) return 0;
  (void)parse_batch_text(text, Knobs{}, "", "fuzz");
  return 0;
}
