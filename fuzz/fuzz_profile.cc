// libFuzzer: safety profiles (JSON). A profile that loads shows and saves as JSON that
// loads again.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "convguard/profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace convguard;
  auto j = nlohmann::json::parse(reinterpret_cast<const char*>(data),
                                 reinterpret_cast<const char*>(data) + size, nullptr, false);
  if (j.is_discarded()) return 0;
  auto p = Profile::from_json(j);
  if (!p.ok()) return 0;
  (void)p->show();
  if (!Profile::from_json(p->to_json()).ok()) std::abort();
  return 0;
}
