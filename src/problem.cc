#include "convguard/problem.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace convguard {
namespace {

constexpr std::array kDirNames = {"FWD_D", "FWD_B", "BWD_D", "BWD_W", "BWD_WB"};
constexpr std::array kDtNames = {"f32", "f16", "bf16"};

std::string upper(std::string_view s) {
  std::string u(s);
  std::transform(u.begin(), u.end(), u.begin(), [](unsigned char c) { return std::toupper(c); });
  return u;
}

}  // namespace

const char* to_string(Dir d) { return kDirNames[static_cast<size_t>(d)]; }
const char* to_string(DataType t) { return kDtNames[static_cast<size_t>(t)]; }
const char* to_string(Layout l) { return l == Layout::nchw ? "nchw" : "nhwc"; }

Result<Dir> parse_dir(std::string_view s, std::string_view field) {
  const std::string u = upper(s);
  for (size_t i = 0; i < kDirNames.size(); ++i)
    if (u == kDirNames[i]) return static_cast<Dir>(i);
  return Status::Invalid("invalid " + std::string(field) + "=" + std::string(s) +
                         ": expected FWD_D, FWD_B, BWD_D, BWD_W or BWD_WB");
}

Result<DataType> parse_dt(std::string_view s, std::string_view field) {
  for (size_t i = 0; i < kDtNames.size(); ++i)
    if (s == kDtNames[i]) return static_cast<DataType>(i);
  return Status::Invalid("invalid " + std::string(field) + "=" + std::string(s) +
                         ": expected f32, f16 or bf16");
}

Result<Layout> parse_layout(std::string_view s, std::string_view field) {
  if (s == "nchw" || s == "abx" || s == "abcd") return Layout::nchw;
  if (s == "nhwc" || s == "axb" || s == "acdb") return Layout::nhwc;
  return Status::Invalid("invalid " + std::string(field) + "=" + std::string(s) +
                         ": expected nchw (abx) or nhwc (axb)");
}

int dt_size(DataType t) { return t == DataType::f32 ? 4 : 2; }

}  // namespace convguard
