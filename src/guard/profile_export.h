// A profile's failures in formats that frameworks read without convguard: cuDNN
// frontend errata JSON (PyTorch, TensorFlow: CUDNN_ERRATA_JSON_FILE), XLA's algorithm
// deny list text proto (--xla_gpu_algorithm_denylist_path) and MIOpen's environment
// switches. Each output says, in its own comment syntax, what of the profile it could
// not express.
#pragma once

#include <string>
#include <string_view>

#include "convguard/profile.h"
#include "convguard/status.h"

namespace convguard {

enum class ExportFormat { cudnn_errata, xla_denylist, miopen_env };

/// "cudnn-errata", "xla-denylist" or "miopen-env"; Invalid naming the value otherwise.
Result<ExportFormat> parse_export_format(std::string_view name);

struct ExportOptions {
  /// cudnn-errata: rules for every cuDNN version rather than the fingerprint's alone. The
  /// frontend compares the version a framework was compiled against (PyTorch 2.11's own
  /// cuDNN 9.19), not the cuDNN convguard probed, so a profile of the system's cuDNN blocks
  /// nothing in a framework that carries another.
  bool any_cudnn_version = false;
};

/// The profile's fail rules in `format`:
///  - cudnn-errata: one rule per failing backend engine ("engineN") and shape, limited to
///    the fingerprint's cuDNN version; extra "comment" keys (ignored by readers) explain.
///  - xla-denylist: an AlgorithmDenylist with one entry per failing shape and algorithm
///    (engines and legacy algorithms), for the fingerprint's compute capability and cuDNN.
///  - miopen-env: `export MIOPEN_DEBUG_CONV_<FAMILY>=0` for each solver family a failing
///    algorithm names; process-wide, so broader than the failures.
std::string export_profile(const Profile& profile, ExportFormat format,
                           const ExportOptions& options = {});

}  // namespace convguard
