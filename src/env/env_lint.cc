// Environment lint and export (contract in env_lint.h).
#include "env/env_lint.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

namespace convguard {

namespace {

namespace fs = std::filesystem;
using Findings = std::vector<LintFinding>;

constexpr std::array<const char*, 4> kGpuLibraries = {"libcudnn", "libMIOpen", "libamdhip64",
                                                      "libcudart"};
constexpr std::array<const char*, 5> kConvFamilies = {"GEMM", "IMPLICIT_GEMM", "WINOGRAD", "DIRECT",
                                                      "FFT"};
constexpr std::array<const char*, 3> kVisibleDevices = {
    "CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"};

std::string upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

std::optional<std::string> get(const EnvMap& env, const std::string& name) {
  auto it = env.find(name);
  if (it == env.end()) return std::nullopt;
  return it->second;
}

void add(Findings& out, Severity s, std::string rule, std::string var, std::string value,
         std::string reason) {
  out.push_back({s, std::move(rule), std::move(var), std::move(value), std::move(reason)});
}

void lint_find_enforce(const EnvMap& env, Findings& out) {
  auto v = get(env, "MIOPEN_FIND_ENFORCE");
  if (!v || v->empty()) return;
  const std::string u = upper(*v);
  const char* rule = "miopen-find-enforce";
  if (u == "3" || u == "4" || u == "SEARCH" || u == "SEARCH_DB_UPDATE") {
    add(out, Severity::warning, rule, "MIOPEN_FIND_ENFORCE", *v,
        "MIOpen runs a full tuning search for every new problem: first calls take minutes to "
        "tens of minutes and look like a hang (the seed's 33-minute \"hang\")");
  } else if (u == "5" || u == "DB_CLEAN") {
    add(out, Severity::warning, rule, "MIOPEN_FIND_ENFORCE", *v,
        "MIOpen deletes the tuning results of every problem it sees from the user perf-db: "
        "later runs lose their tuning and search again");
  } else {
    add(out, Severity::info, rule, "MIOPEN_FIND_ENFORCE", *v,
        "MIOpen's find mode is overridden; results and first-call times may differ");
  }
}

void lint_find_only_solver(const EnvMap& env, Findings& out) {
  auto v = get(env, "MIOPEN_DEBUG_FIND_ONLY_SOLVER");
  if (!v || v->empty()) return;
  add(out, Severity::warning, "miopen-find-only-solver", "MIOPEN_DEBUG_FIND_ONLY_SOLVER", *v,
      "MIOpen's find considers only this solver, and the narrowed choice is written to the "
      "find-db that later runs read even without the variable");
}

bool disabled(const std::string& v) {
  const std::string u = upper(v);
  return u == "0" || u == "FALSE" || u == "NO" || u == "OFF" || u == "DISABLE" || u == "DISABLED";
}

void lint_conv_families(const EnvMap& env, Findings& out) {
  std::vector<std::string> off;
  for (const char* family : kConvFamilies) {
    const std::string name = fmt::format("MIOPEN_DEBUG_CONV_{}", family);
    auto v = get(env, name);
    if (v && disabled(*v)) off.push_back(fmt::format("{}={}", name, *v));
  }
  if (off.empty()) return;
  const std::string value = fmt::format("{}", fmt::join(off, " "));
  if (off.size() == kConvFamilies.size()) {
    add(out, Severity::error, "miopen-conv-families", "MIOPEN_DEBUG_CONV_*", value,
        "every MIOpen convolution solver family is disabled: no algorithm is left and "
        "convolutions fail");
  } else {
    add(out, Severity::info, "miopen-conv-families", "MIOPEN_DEBUG_CONV_*", value,
        "some MIOpen solver families are disabled: algorithm choices and timings reflect the "
        "rest only");
  }
}

// "10.3.0" -> "gfx1030", "9.0.10" -> "gfx90a"; nullopt if not MAJOR.MINOR.STEPPING.
std::optional<std::string> gfx_of_override(const std::string& v) {
  std::istringstream in(v);
  int major = -1, minor = -1, stepping = -1;
  char d1 = 0, d2 = 0;
  if (!(in >> major >> d1 >> minor >> d2 >> stepping) || d1 != '.' || d2 != '.' || !in.eof())
    return std::nullopt;
  if (major < 0 || minor < 0 || minor > 15 || stepping < 0 || stepping > 15) return std::nullopt;
  return fmt::format("gfx{}{:x}{:x}", major, minor, stepping);
}

void lint_hsa_override(const EnvMap& env, const EnvFacts& facts, Findings& out) {
  auto v = get(env, "HSA_OVERRIDE_GFX_VERSION");
  if (!v || v->empty()) return;
  const char* rule = "hsa-override-gfx";
  const char* var = "HSA_OVERRIDE_GFX_VERSION";
  auto gfx = gfx_of_override(*v);
  if (!gfx) {
    add(out, Severity::error, rule, var, *v, "not a MAJOR.MINOR.STEPPING version such as 10.3.0");
    return;
  }
  const std::string real = facts.gpu_arch.substr(0, facts.gpu_arch.find(':'));
  if (real.empty()) {
    add(out, Severity::warning, rule, var, *v,
        fmt::format("the ROCm runtime treats the GPU as {}; the real architecture is unknown "
                    "here, and kernels built for another one can hang or compute wrong results",
                    *gfx));
  } else if (real != *gfx) {
    add(out, Severity::warning, rule, var, *v,
        fmt::format("the ROCm runtime treats the {} GPU as {}: kernels built for {} can hang, "
                    "fault or compute wrong results on {}",
                    real, *gfx, *gfx, real));
  } else {
    add(out, Severity::info, rule, var, *v,
        fmt::format("matches the real architecture {}: no effect", real));
  }
}

void lint_cuda(const EnvMap& env, Findings& out) {
  if (auto v = get(env, "CUDA_LAUNCH_BLOCKING"); v && !v->empty() && *v != "0") {
    add(out, Severity::warning, "cuda-launch-blocking", "CUDA_LAUNCH_BLOCKING", *v,
        "every CUDA launch waits for the kernel: timings, overlap and where a hang shows up "
        "differ from normal runs");
  }
  if (auto v = get(env, "NVIDIA_TF32_OVERRIDE"); v && !v->empty()) {
    if (*v == "0") {
      add(out, Severity::info, "nvidia-tf32-override", "NVIDIA_TF32_OVERRIDE", *v,
          "TF32 is off in every NVIDIA library: f32 convolutions are full precision but "
          "slower, and differ from runs without it");
    } else {
      add(out, Severity::warning, "nvidia-tf32-override", "NVIDIA_TF32_OVERRIDE", *v,
          "only the value 0 (TF32 off everywhere) is documented; this value does not do what "
          "it seems to");
    }
  }
}

void lint_cudnn_errata(const EnvMap& env, Findings& out) {
  auto v = get(env, "CUDNN_ERRATA_JSON_FILE");
  if (!v || v->empty()) return;
  std::error_code ec;
  if (!fs::is_regular_file(*v, ec)) {
    add(out, Severity::error, "cudnn-errata", "CUDNN_ERRATA_JSON_FILE", *v,
        "the errata file does not exist: the engine filter it was meant to apply is not applied");
  } else {
    add(out, Severity::warning, "cudnn-errata", "CUDNN_ERRATA_JSON_FILE", *v,
        "cuDNN blocks the engines this errata file lists: algorithm lists and results differ "
        "from a default setup");
  }
}

void lint_visible_devices(const EnvMap& env, Findings& out) {
  for (const char* name : kVisibleDevices) {
    auto v = get(env, name);
    if (!v || (!v->empty() && *v != "-1")) continue;
    add(out, Severity::error, "visible-devices", name, *v,
        v->empty() ? "set but empty: no GPU is visible and every GPU engine fails to start"
                   : "-1 hides every GPU: every GPU engine fails to start");
  }
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) parts.push_back(part);
  return parts;
}

// "9.1.0" against "9": equal where both have components; differ on the first that differs.
bool versions_differ(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return false;
  auto pa = split(a, '.'), pb = split(b, '.');
  for (size_t i = 0; i < std::min(pa.size(), pb.size()); ++i)
    if (pa[i] != pb[i]) return true;
  return false;
}

void lint_library_versions(const EnvFacts& facts, Findings& out) {
  for (const LibraryFact& fw : facts.libraries) {
    if (fw.origin != "framework") continue;
    for (const LibraryFact& lp : facts.libraries) {
      if (lp.origin != "LD_LIBRARY_PATH" || lp.library != fw.library) continue;
      if (!versions_differ(lp.version, fw.version)) continue;
      add(out, Severity::warning, "library-version", "LD_LIBRARY_PATH",
          fmt::format("{} {} ({}) vs {} bundled ({})", lp.library, lp.version, lp.path, fw.version,
                      fw.path),
          fmt::format("two {} versions: which one loads depends on the framework's RPATH and "
                      "load order, so a run may not use the version its label claims",
                      lp.library));
    }
  }
}

// Version after ".so." in a file name, or nullopt if `file` is not `lib`.so[.version].
std::optional<std::string> version_in_name(const std::string& file, const std::string& lib) {
  const std::string stem = lib + ".so";
  if (file == stem) return std::string();
  if (file.rfind(stem + ".", 0) != 0) return std::nullopt;
  return file.substr(stem.size() + 1);
}

std::optional<LibraryFact> scan_dir_for(const std::string& dir, const std::string& lib,
                                        const std::string& origin) {
  std::optional<LibraryFact> best;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    auto version = version_in_name(file, lib);
    if (!version) continue;
    std::string path = entry.path().string();
    if (version->empty()) {
      // A bare .so is usually a symlink to the versioned file.
      fs::path real = fs::canonical(entry.path(), ec);
      if (ec) continue;
      version = version_in_name(real.filename().string(), lib).value_or("");
      path = real.string();
    }
    if (!best || version->size() > best->version.size())
      best = LibraryFact{lib, *version, origin, path};
  }
  return best;
}

void scan_dir(const std::string& dir, const std::string& origin, std::vector<LibraryFact>& out) {
  for (const char* lib : kGpuLibraries)
    if (auto fact = scan_dir_for(dir, lib, origin)) out.push_back(*fact);
}

bool is_shell_name(std::string_view n) {
  if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

}  // namespace

const char* to_string(Severity s) {
  switch (s) {
    case Severity::error:
      return "error";
    case Severity::warning:
      return "warning";
    case Severity::info:
      return "info";
  }
  return "?";
}

nlohmann::json to_json(const LintFinding& f) {
  return {{"severity", to_string(f.severity)},
          {"rule", f.rule},
          {"variable", f.variable},
          {"value", f.value},
          {"reason", f.reason}};
}

std::vector<LintFinding> lint_env(const EnvMap& env, const EnvFacts& facts) {
  Findings out;
  lint_find_enforce(env, out);
  lint_find_only_solver(env, out);
  lint_conv_families(env, out);
  lint_hsa_override(env, facts, out);
  lint_cuda(env, out);
  lint_cudnn_errata(env, out);
  lint_visible_devices(env, out);
  lint_library_versions(facts, out);
  return out;
}

std::vector<LibraryFact> scan_gpu_libraries(const std::string& ld_library_path,
                                            const std::vector<std::string>& framework_dirs) {
  std::vector<LibraryFact> out;
  for (const std::string& dir : split(ld_library_path, ':'))
    if (!dir.empty()) scan_dir(dir, "LD_LIBRARY_PATH", out);
  for (const std::string& dir : framework_dirs)
    if (!dir.empty()) scan_dir(dir, "framework", out);
  return out;
}

bool is_relevant_variable(std::string_view name) {
  static constexpr std::array<std::string_view, 9> kPrefixes = {
      "MIOPEN_", "HSA_", "HIP_", "ROCM_", "ROCR_", "CUDA_", "CUDNN_", "ONEDNN_", "DNNL_"};
  static constexpr std::array<std::string_view, 3> kNames = {"NVIDIA_TF32_OVERRIDE",
                                                             "LD_LIBRARY_PATH", "OMP_NUM_THREADS"};
  if (std::find(kNames.begin(), kNames.end(), name) != kNames.end()) return true;
  return std::any_of(kPrefixes.begin(), kPrefixes.end(),
                     [&](std::string_view p) { return name.starts_with(p); });
}

std::string export_snippet(const EnvMap& env) {
  std::string out = "# convguard env --export: the variables that affect GPU convolutions\n";
  for (const auto& [name, value] : env) {
    if (is_relevant_variable(name) && is_shell_name(name))
      out += fmt::format("export {}={}\n", name, shell_quote(value));
  }
  std::vector<std::string> unset;
  for (std::string name :
       {"MIOPEN_FIND_ENFORCE", "MIOPEN_DEBUG_FIND_ONLY_SOLVER", "HSA_OVERRIDE_GFX_VERSION",
        "CUDA_LAUNCH_BLOCKING", "NVIDIA_TF32_OVERRIDE", "CUDNN_ERRATA_JSON_FILE",
        "CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"})
    if (!env.count(name)) unset.push_back(name);
  for (const char* family : kConvFamilies) {
    std::string name = fmt::format("MIOPEN_DEBUG_CONV_{}", family);
    if (!env.count(name)) unset.push_back(name);
  }
  if (!unset.empty()) out += fmt::format("unset {}\n", fmt::join(unset, " "));
  return out;
}

}  // namespace convguard
