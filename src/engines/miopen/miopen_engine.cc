// The miopen engine: loading, the worker's private MIOpen state, the handle, algorithm
// listing, prepare dispatch and the fingerprint.
#include "engines/miopen/miopen_engine.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>

#include "engines/miopen/miopen_prepared.h"
#include "engines/miopen/miopen_solvers.h"
#include "model/environment.h"

namespace convguard {
namespace miopen {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kFindPrefix = "find.";

constexpr const char* kStateVars[] = {"MIOPEN_USER_DB_PATH", "MIOPEN_CUSTOM_CACHE_DIR"};

// Where MIOpen keeps its user find-db, perf-db and kernel cache for this worker.
struct State {
  bool user = false;
  fs::path dir;  ///< private: removed when the engine goes
  std::map<std::string, std::optional<std::string>> before;  ///< the variables it replaced

  // Removes the private folder and puts the variables back as they were.
  void release() {
    if (user || dir.empty()) return;
    std::error_code ec;
    fs::remove_all(dir, ec);
    for (const auto& [var, value] : before) {
      if (value)
        ::setenv(var.c_str(), value->c_str(), 1);
      else
        ::unsetenv(var.c_str());
    }
  }
};

// Removes the folders of workers that are gone: a worker killed for a hang or a crash
// cannot remove its own.
void remove_orphans(const fs::path& base) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(base, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("worker-")) continue;
    const long pid = std::strtol(name.c_str() + 7, nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      fs::remove_all(entry.path(), ec);
  }
}

// Unless CONVGUARD_MIOPEN_STATE=user, points MIOPEN_USER_DB_PATH and
// MIOPEN_CUSTOM_CACHE_DIR at a fresh folder of this process, under CONVGUARD_MIOPEN_STATE
// (a folder) or the temporary directory, before MIOpen reads them.
Result<State> make_state() {
  const char* setting = std::getenv("CONVGUARD_MIOPEN_STATE");
  if (setting && std::string_view(setting) == "user") return State{true, {}, {}};
  const fs::path base =
      setting && *setting ? fs::path(setting) : fs::temp_directory_path() / "convguard-miopen";
  State s{false, base / ("worker-" + std::to_string(::getpid())), {}};
  remove_orphans(base);
  std::error_code ec;
  fs::remove_all(s.dir, ec);  // a reused pid's leftovers
  for (const char* sub : {"userdb", "cache"}) {
    fs::create_directories(s.dir / sub, ec);
    if (ec)
      return Status::Error("miopen: cannot create " + (s.dir / sub).string() + ": " + ec.message());
  }
  for (const char* var : kStateVars) {
    const char* old = std::getenv(var);
    s.before[var] = old ? std::optional<std::string>(old) : std::nullopt;
  }
  ::setenv(kStateVars[0], (s.dir / "userdb").c_str(), 1);
  ::setenv(kStateVars[1], (s.dir / "cache").c_str(), 1);
  return s;
}

bool relevant_env(std::string_view k) {
  for (std::string_view prefix : {"MIOPEN_", "HSA_", "HIP_", "ROCM_", "AMD_", "GPU_DEVICE_"})
    if (k.starts_with(prefix)) return true;
  return k == "ROCR_VISIBLE_DEVICES" || k == "CONVGUARD_MIOPEN_STATE";
}

// HIP's version encoding: major * 10^7 + minor * 10^5 + patch.
std::string hip_version_text(int v) {
  return std::to_string(v / 10000000) + "." + std::to_string(v / 100000 % 100) + "." +
         std::to_string(v % 100000);
}

// The device's name (offset 0 of hipDeviceProp_t) and gcnArchName, found by its "gfx" prefix
// at the start of a field: the struct's layout differs between ROCm releases.
std::pair<std::string, std::string> device_names(const Api& api) {
  std::vector<char> prop(16384, 0);
  if (api.hipGetDeviceProperties(prop.data(), 0) != 0) return {"", ""};
  const std::string name(prop.data(), strnlen(prop.data(), 256));
  for (size_t i = 256; i + 4 < prop.size(); ++i)
    if (prop[i - 1] == 0 && std::strncmp(&prop[i], "gfx", 3) == 0)
      return {name, std::string(&prop[i], strnlen(&prop[i], 256))};
  return {name, ""};
}

class MiopenEngine : public Engine {
 public:
  ~MiopenEngine() override {
    ctx_.reset();
    state_.release();
  }

  std::string name() const override { return "miopen"; }
  std::string version() const override {
    return ctx_ ? "MIOpen " + miopen_version(*ctx_->api) : "MIOpen (not loaded)";
  }

  Status init() override {
    if (initialised_) return init_status_;
    initialised_ = true;
    return init_status_ = start();
  }

  std::vector<std::string> algorithms(const Problem& p) override {
    std::vector<std::string> out{kDefaultAlgo};
    if (!init().ok()) return out;
    auto sols = list_solutions(*ctx_, p);
    if (!sols.ok()) return out;
    for (const miopenConvSolution_t& s : *sols) out.push_back(solver_name(s.solution_id));
    return out;
  }

  Result<std::unique_ptr<Prepared>> prepare(const Problem& p, const std::string& algo) override {
    CG_RETURN_IF_ERROR(init());
    auto prepared = std::make_unique<MiopenPrepared>(ctx_, p);
    if (algo == kDefaultAlgo) {
      CG_RETURN_IF_ERROR(prepared->prepare_default());
    } else if (algo.starts_with(kFindPrefix)) {
      CG_RETURN_IF_ERROR(prepared->prepare_find(algo.substr(kFindPrefix.size())));
    } else if (auto id = solver_id(algo)) {
      CG_RETURN_IF_ERROR(prepared->prepare_solver(*id));
    } else {
      return Status::Invalid("invalid --algo=" + algo +
                             ": miopen knows default, find.normal, find.fast, find.hybrid, a "
                             "solver name (ConvDirectNaiveConvFwd, GemmFwdRest, ...) and "
                             "solver<N>");
    }
    return std::unique_ptr<Prepared>(std::move(prepared));
  }

  std::map<std::string, std::string> fingerprint() override {
    std::map<std::string, std::string> f{{"engine", "miopen"}};
    (void)init();
    if (!ctx_) {
      f["miopen"] = "not available: " + init_status_.message();
    } else {
      add_library_facts(&f);
    }
    f["miopen_state"] = state_.user ? "user" : "private";
    const EnvMap env = current_env();
    f.merge(env_facts(env, [&](std::string_view k) {
      // The private folders differ per worker; only the user's own are a fact.
      if (!state_.user && (k == kStateVars[0] || k == kStateVars[1])) return false;
      return relevant_env(k);
    }));
    return f;
  }

 private:
  static std::string miopen_version(const Api& api) {
    size_t major = 0, minor = 0, patch = 0;
    api.GetVersion(&major, &minor, &patch);
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  }

  Status start() {
    auto state = make_state();
    if (!state.ok()) return state.status();
    state_ = *state;
    auto api = load_api();
    if (!api.ok()) return api.status();
    const Api& a = **api;
    int count = 0;
    if (a.hipGetDeviceCount(&count) != 0 || count == 0)
      return Status::Unsupported("miopen: no HIP device visible");
    CG_RETURN_IF_ERROR(hip_check(a, a.hipSetDevice(0), "hipSetDevice(0)"));
    auto ctx = std::make_shared<Context>();
    ctx->api = *api;
    CG_RETURN_IF_ERROR(miopen_check(a, a.Create(&ctx->handle), "miopenCreate"));
    ctx_ = std::move(ctx);
    return Status::Ok();
  }

  void add_library_facts(std::map<std::string, std::string>* f) const {
    const Api& a = *ctx_->api;
    (*f)["miopen"] = miopen_version(a);
    (*f)["miopen_library"] = a.miopen_path;
    (*f)["hip_library"] = a.hip_path;
    (*f)["solver_table_last_id"] = std::to_string(last_named_solver());
    int v = 0;
    if (a.hipRuntimeGetVersion(&v) == 0) (*f)["hip_runtime"] = hip_version_text(v);
    if (a.hipDriverGetVersion(&v) == 0) (*f)["hip_driver"] = hip_version_text(v);
    const auto [device, arch] = device_names(a);
    (*f)["device"] = device.empty() ? "unknown" : device;
    // gcnArchName carries target features ("gfx1010:xnack-"): the arch alone is what
    // HSA_OVERRIDE_GFX_VERSION is compared with.
    (*f)["gcn_arch"] = arch.substr(0, arch.find(':'));
    (*f)["gcn_arch_name"] = arch;
  }

  bool initialised_ = false;
  Status init_status_ = Status::Error("not initialised");
  State state_;
  std::shared_ptr<Context> ctx_;
};

}  // namespace
}  // namespace miopen

Result<std::unique_ptr<Engine>> make_miopen_engine() {
  return std::unique_ptr<Engine>(std::make_unique<miopen::MiopenEngine>());
}

}  // namespace convguard
