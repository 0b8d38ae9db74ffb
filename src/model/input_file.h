// Reading a file the user named: the one rule for every input path (batch files, quirk
// files, profiles): a missing, unreadable or non-regular path is invalid input naming it.
#pragma once

#include <string>
#include <string_view>

#include "convguard/status.h"

namespace convguard {

/// The contents of the regular file `path`. Invalid ("<what> <path>: <why>") when it is
/// missing, a directory, a FIFO or device (never opened, so never waited on), unreadable,
/// or larger than 1 GiB.
Result<std::string> read_input_file(const std::string& path, std::string_view what);

/// Invalid ("<what> <path>: is a directory") when `path` names an existing directory, so
/// a writer fails before it leaves a temporary file beside it.
Status check_output_path(const std::string& path, std::string_view what);

}  // namespace convguard
