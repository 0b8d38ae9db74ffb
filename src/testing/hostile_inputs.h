// Test-only: inputs a hostile user tried (issue 15), shared by the unit and command tests.
#pragma once

#include <string>

namespace convguard::testing {

/// One batch line of 2,000 values each of --dir, --dt and --stag before a descriptor:
/// 8,000,000,000 problems if expanded.
inline std::string huge_knob_line() {
  std::string dirs, dts, tags;
  for (int i = 0; i < 2000; ++i) {
    dirs += std::string(i ? "," : "") + "FWD_D";
    dts += std::string(i ? "," : "") + "f32";
    tags += std::string(i ? "," : "") + "nchw";
  }
  return "--dir=" + dirs + " --dt=" + dts + " --stag=" + tags + " mb1ic4ih8oc4kh3";
}

}  // namespace convguard::testing
