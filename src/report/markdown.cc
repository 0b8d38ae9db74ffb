#include "report/markdown.h"

#include <algorithm>

namespace convguard::report {
namespace {

bool is_control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

std::string table_text(std::string_view s, std::string_view escaped) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (is_control(c)) {
      out += ' ';
      continue;
    }
    if (escaped.find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string md_cell(std::string_view text) { return table_text(text, "\\`*[]<>&|"); }

std::string md_code(std::string_view text) {
  size_t run = 0, longest = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(longest + 1, '`');
  const bool pad = !text.empty() && (text.front() == '`' || text.back() == '`');
  return fence + (pad ? " " : "") + table_text(text, "|") + (pad ? " " : "") + fence;
}

}  // namespace convguard::report
