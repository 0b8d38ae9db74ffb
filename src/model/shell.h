// POSIX shell quoting for every line convguard prints for a shell (repro lines, env exports).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace convguard {

/// `s` bare when it holds only characters no shell treats specially
/// ([A-Za-z0-9_./=:,+@%^-]), else in single quotes with each ' written as '\'' and each
/// byte that drives a terminal (ESC, BEL, CR, DEL...) as "$(printf '\ooo')" between the
/// quotes, so printing the line cannot rewrite a terminal. The result is one POSIX sh word
/// that expands to exactly `s` (any bytes but NUL).
std::string shell_quote(std::string_view s);
/// argv joined by spaces, each word quoted by shell_quote.
std::string shell_join(const std::vector<std::string>& argv);

}  // namespace convguard
