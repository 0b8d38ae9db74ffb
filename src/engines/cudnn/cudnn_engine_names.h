// The names convguard gives cuDNN's backend engines as algorithms ("engine12"). No cuDNN
// header is needed: the profile export reads these names where cuDNN is not built.
#pragma once

#include <charconv>
#include <string>
#include <string_view>

namespace convguard::cudnn {

/// Parses "engine<N>"; -1 where the name is not of that form.
inline int parse_engine_name(std::string_view name) {
  constexpr std::string_view kPrefix = "engine";
  if (name.substr(0, kPrefix.size()) != kPrefix || name.size() == kPrefix.size()) return -1;
  const std::string_view digits = name.substr(kPrefix.size());
  int index = -1;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  return ec == std::errc() && end == digits.data() + digits.size() ? index : -1;
}

inline std::string engine_name(int index) { return "engine" + std::to_string(index); }

}  // namespace convguard::cudnn
