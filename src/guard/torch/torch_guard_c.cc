// The torch guard's C interface, for python/convguard/torch.py (ctypes): the library needs no
// Python headers and links only libtorch, which the Python process has loaded already.
#include <string>

#include <nlohmann/json.hpp>

#include "guard/torch/torch_guard.h"

namespace {

thread_local std::string last;  // what the last call returned, valid until the next one

const char* keep(std::string s) {
  last = std::move(s);
  return last.c_str();
}

}  // namespace

extern "C" {

/// Opens a guard with the options (JSON, see TorchGuardOptions) and installs it under
/// PyTorch's dispatcher. Returns null, or the error message.
__attribute__((visibility("default"))) const char* convguard_torch_guard_install(const char* options_json) {
  try {
    auto j = nlohmann::json::parse(options_json ? options_json : "", nullptr, false);
    if (j.is_discarded()) return keep("torch guard: options are not JSON");
    auto opt = convguard::torch_guard::TorchGuardOptions::from_json(j);
    if (!opt.ok()) return keep(opt.status().message());
    auto s = convguard::torch_guard::install(*opt);
    return s.ok() ? nullptr : keep(s.message());
  } catch (const std::exception& e) {
    return keep(std::string("torch guard: ") + e.what());
  }
}

/// Restores PyTorch's own kernels and closes the guard.
__attribute__((visibility("default"))) void convguard_torch_guard_uninstall() {
  convguard::torch_guard::uninstall();
}

/// The installed guard's routes as a JSON array ("null" when none is installed).
__attribute__((visibility("default"))) const char* convguard_torch_guard_routes() {
  return keep(convguard::torch_guard::installed_routes().dump());
}

/// Routes the problems (a JSON array of problem keys) now, learning those the installed guard's
/// profile does not know. Returns {"ok": true} or {"error": message}.
__attribute__((visibility("default"))) const char* convguard_torch_guard_learn(const char* keys_json) {
  try {
    auto j = nlohmann::json::parse(keys_json ? keys_json : "", nullptr, false);
    if (j.is_discarded() || !j.is_array()) return keep(R"({"error": "torch guard: problems are not a JSON array"})");
    auto s = convguard::torch_guard::installed_learn(j.get<std::vector<std::string>>());
    return keep(s.ok() ? nlohmann::json{{"ok", true}}.dump() : nlohmann::json{{"error", s.message()}}.dump());
  } catch (const std::exception& e) {
    return keep(nlohmann::json{{"error", std::string("torch guard: ") + e.what()}}.dump());
  }
}

}  // extern "C"
