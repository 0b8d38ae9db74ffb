// Markdown text from strings a user, a library or a store supplied (names, messages,
// fingerprints): it reads as the same characters and never as markup, HTML or a link.
#pragma once

#include <string>
#include <string_view>

namespace convguard::report {

/// `text` for a markdown table cell or line: \ ` * [ ] < > & | backslash-escaped (so a
/// name cannot open a tag, an entity, a link or a code span, nor end the cell), control
/// bytes as spaces (they cannot reach a terminal that shows the file).
std::string md_cell(std::string_view text);

/// `text` as a code span inside a table cell: a fence one backtick longer than any run
/// inside, | escaped (a bare one ends the cell even there), control bytes as spaces.
std::string md_code(std::string_view text);

}  // namespace convguard::report
