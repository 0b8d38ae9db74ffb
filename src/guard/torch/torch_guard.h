// The guard under PyTorch: aten::convolution and aten::convolution_backward are overridden
// at the dispatcher for one device key (CUDA, which ROCm builds use too, or the CPU), so
// nn.Conv* modules, torch.nn.functional and the convolutions torch.compile emits all pass
// through it, while autograd stays PyTorch's. Each call's problem gets a route from the safety
// profile (guard.h, cached per problem), learned first through isolated torch workers when
// the profile does not know it, and runs along it (torch_exec.h). Uninstalling restores the
// original kernels.
#pragma once

#include <atomic>
#include <memory>
#include <shared_mutex>
#include <array>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "convguard/guard.h"
#include "convguard/sim.h"
#include "guard/torch/torch_exec.h"

namespace convguard::torch_guard {

struct TorchGuardOptions {
  std::string profile;      ///< the profile file; with `learn` it may not exist yet
  bool learn = false;       ///< probe unknown problems (isolated) before they run natively
  bool force = false;       ///< accept a profile of another fingerprint
  bool cpu_route = true;    ///< the CPU as the last resort (else refuse)
  std::string quirks;       ///< a quirk file applied to the native path (tests and demos)
  uint64_t seed = 0;        ///< for the quirk file's probabilistic rules
  std::string device = "cuda";  ///< the key overridden: "cuda" (CUDA/HIP) or "cpu"
  std::string worker;       ///< convguard-torch-worker, for learning
  double timeout_exec = 0;  ///< learning probes' execute deadline in seconds (0: auto)

  /// Parses {"profile": ..., "learn": ..., ...}; Invalid names the field and the value.
  static Result<TorchGuardOptions> from_json(const nlohmann::json& j);
};

class TorchGuard {
 public:
  static Result<std::unique_ptr<TorchGuard>> open(const TorchGuardOptions& opt);
  ~TorchGuard();

  at::Tensor forward(const ForwardCall& c);
  std::tuple<at::Tensor, at::Tensor, at::Tensor> backward(const BackwardCall& c);
  /// Plans each problem now, as its first call would (learning those the profile does not
  /// know), and caches the routes. Error naming the first problem that cannot be planned or
  /// whose route is a refusal, with the profile's evidence.
  Status learn(const std::vector<Problem>& problems);
  /// Every problem seen: its route, why, and how often it ran; calls left unguarded (what
  /// convguard cannot probe) with the reason.
  nlohmann::json routes() const;
  const TorchGuardOptions& options() const { return opt_; }

 private:
  struct Entry {
    Problem problem;
    Route route;
    std::atomic<int64_t> calls{0};
  };
  /// Every field of a problem, for a lookup that costs nanoseconds (no text).
  using CallKey = std::array<int64_t, 17>;
  struct KeyHash {
    size_t operator()(const CallKey& k) const;
  };

  TorchGuard(TorchGuardOptions opt, Guard guard, std::optional<Quirks> quirks);
  Entry& entry(const Problem& p);
  void unguarded(const std::string& why);
  Fault inject(const Problem& call, const std::string& knob, double* factor);
  [[noreturn]] void hang(const QuirkRule& rule);

  TorchGuardOptions opt_;
  Guard guard_;
  std::optional<Quirks> quirks_;
  Injector injector_;
  std::atomic<int64_t> executions_{0};
  mutable std::shared_mutex mu_;
  std::unordered_map<CallKey, std::unique_ptr<Entry>, KeyHash> cache_;
  std::vector<Entry*> order_;  ///< entries in first-seen order, for routes()
  std::map<std::string, int64_t> unguarded_;
};

/// Opens a guard with `opt` and puts it under PyTorch's dispatcher (replacing one installed
/// before). Errors name the option.
Status install(const TorchGuardOptions& opt);
/// Restores the original kernels and closes the guard (calls in flight finish on it).
void uninstall();
/// The installed guard's routes(), or null when none is installed.
nlohmann::json installed_routes();
/// learn() on the installed guard for problems given as keys (key() of problem.h); Invalid
/// naming a key that does not parse, Error when no guard is installed.
Status installed_learn(const std::vector<std::string>& keys);

}  // namespace convguard::torch_guard
