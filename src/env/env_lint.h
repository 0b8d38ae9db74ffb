// Lint of the environment a convolution library runs in, and a shell snippet that
// reproduces it elsewhere (`convguard env`, `convguard env --export`).
//
// Everything works on an EnvMap and EnvFacts passed in, so tests drive a fake environment.
// A `convguard env` command does, roughly:
//   EnvMap env = current_env();
//   EnvFacts facts;
//   facts.gpu_arch = <"gfx1010" / "sm_90" from an engine's fingerprint, if any>;
//   facts.libraries = scan_gpu_libraries(env["LD_LIBRARY_PATH"], {<torch/lib dir, if given>});
//   for (const LintFinding& f : lint_env(env, facts)) print f (or to_json(f) with --json);
//   with --export: std::cout << export_snippet(env);
#pragma once

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "model/environment.h"
#include "model/shell.h"

namespace convguard {

enum class Severity { error, warning, info };
/// "error", "warning", "info".
const char* to_string(Severity s);

/// One GPU runtime library found on disk.
struct LibraryFact {
  std::string library;  ///< "libcudnn", "libMIOpen", "libamdhip64" or "libcudart"
  std::string version;  ///< from the file name after ".so." ("9.1.0", "1.0.50700"); "" if none
  std::string origin;   ///< "LD_LIBRARY_PATH" or "framework"
  std::string path;     ///< the file that gave the version
};

/// What lint_env knows beyond the variables.
struct EnvFacts {
  /// The real GPU architecture if known: "gfx1010" (features after ':' are ignored),
  /// "sm_90". Empty when unknown.
  std::string gpu_arch;
  /// GPU libraries on the loader path and in the framework's own folder (e.g. torch/lib).
  std::vector<LibraryFact> libraries;
};

/// One lint result.
struct LintFinding {
  Severity severity = Severity::info;
  std::string rule;      ///< stable id, e.g. "miopen-find-enforce"
  std::string variable;  ///< e.g. "MIOPEN_FIND_ENFORCE"; "MIOPEN_DEBUG_CONV_*" for a family
  std::string value;     ///< the value as set (or a summary, e.g. of libraries)
  std::string reason;    ///< one line: what it does to convolutions
};

/// {"severity", "rule", "variable", "value", "reason"}.
nlohmann::json to_json(const LintFinding& f);

/// Runs every rule; findings in rule order (rule ids in brackets):
///  [miopen-find-enforce]      MIOPEN_FIND_ENFORCE = 3/4/5 or SEARCH/SEARCH_DB_UPDATE/DB_CLEAN:
///                             warning (a tuning search per new problem that looks like a hang;
///                             DB_CLEAN wipes tuning); other values: info.
///  [miopen-find-only-solver]  MIOPEN_DEBUG_FIND_ONLY_SOLVER set: warning.
///  [miopen-conv-families]     MIOPEN_DEBUG_CONV_{GEMM,IMPLICIT_GEMM,WINOGRAD,DIRECT,FFT} all
///                             disabled (0/false/no/off/disable(d)): error; some disabled: info.
///  [hsa-override-gfx]         HSA_OVERRIDE_GFX_VERSION set: warning when it differs from
///                             facts.gpu_arch or that is unknown, info when it matches,
///                             error when it is not MAJOR.MINOR.STEPPING.
///  [cuda-launch-blocking]     CUDA_LAUNCH_BLOCKING set and not 0: warning.
///  [nvidia-tf32-override]     NVIDIA_TF32_OVERRIDE set: info for 0 (TF32 off everywhere),
///                             warning for other values (only 0 is documented).
///  [cudnn-errata]             CUDNN_ERRATA_JSON_FILE set: warning; error if the file is missing.
///  [visible-devices]          CUDA_/HIP_/ROCR_VISIBLE_DEVICES set to "" or -1: error (no GPU).
///  [library-version]          a library on LD_LIBRARY_PATH whose version differs from the one
///                             the framework bundles: warning (one per library pair).
std::vector<LintFinding> lint_env(const EnvMap& env, const EnvFacts& facts);

/// Finds libcudnn.so*, libMIOpen.so*, libamdhip64.so*, libcudart.so* in each directory of
/// `ld_library_path` (':'-separated; empty entries skipped) with origin "LD_LIBRARY_PATH",
/// and in each of `framework_dirs` with origin "framework". One fact per library and folder:
/// the name with the longest version, or a bare .so resolved through its symlinks.
/// Folders that cannot be read are skipped.
std::vector<LibraryFact> scan_gpu_libraries(const std::string& ld_library_path,
                                            const std::vector<std::string>& framework_dirs);

/// Whether `name` belongs in export_snippet: MIOPEN_*, HSA_*, HIP_*, ROCM_*, ROCR_*, CUDA_*,
/// CUDNN_*, ONEDNN_*, DNNL_*, NVIDIA_TF32_OVERRIDE, LD_LIBRARY_PATH, OMP_NUM_THREADS.
bool is_relevant_variable(std::string_view name);

/// A POSIX sh snippet that recreates the relevant variables of `env`: a comment line,
/// `export NAME=value` (value quoted by shell_quote) per relevant variable (sorted; names that are not shell
/// identifiers are skipped), then one `unset` line for the variables the lint rules read
/// that `env` does not set, so the snippet also clears them where it is sourced.
std::string export_snippet(const EnvMap& env);

}  // namespace convguard
