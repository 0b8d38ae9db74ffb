#include "model/shell.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace convguard {

namespace {

// Bytes that drive a terminal when printed (ESC, BEL, CR...); newline and tab only move.
bool drives_terminal(unsigned char c) { return (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f; }

}  // namespace

std::string shell_quote(std::string_view s) {
  const bool safe = !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || std::string_view("_./=:,+@%^-").find(c) != std::string_view::npos;
  });
  if (safe) return std::string(s);
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else if (drives_terminal(static_cast<unsigned char>(c))) {
      // Written as "$(printf '\ooo')" between the quotes: still one word, the same byte,
      // and the printed line cannot drive a terminal.
      q += fmt::format("'\"$(printf '\\{:03o}')\"'", static_cast<unsigned char>(c));
    } else {
      q += c;
    }
  }
  return q + "'";
}

std::string shell_join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + shell_quote(a);
  return out;
}

}  // namespace convguard
