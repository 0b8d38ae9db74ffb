// Running one probe in the calling process: prepare, execute, verify against a reference.
// Workers call the same code; the supervisor watches them from outside.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "convguard/engine.h"
#include "convguard/outcome.h"

namespace convguard {

/// Chooses and runs the reference for a problem: `ref` for small problems, `onednn`
/// (benchdnn's practice) above a FLOP threshold. Caches the last reference outputs so
/// that "--algo all" computes each reference once.
class Reference {
 public:
  /// `small` is used up to `small_max_flops`, `fast` (may be null) above it.
  Reference(std::unique_ptr<Engine> small, std::unique_ptr<Engine> fast,
            double small_max_flops = 2e9);
  ~Reference();
  /// Never judge with an engine of this name (the engine under test, or the engine a
  /// `sim` wraps): the other engine is used whatever the problem's size. Calls add up.
  void exclude(const std::string& engine_name);
  /// Reference outputs for p with the fills of `seed`; sets `judge` to the engine's name.
  /// The pointer stays valid until the next call. Error where no allowed engine can judge.
  Result<const ConvTensors*> outputs(const Problem& p, uint64_t seed, std::string* judge);
  /// M for p: the same engine's outputs on the absolute values of the fills, computed
  /// in f32 (the sum of |a*b| over the terms of each output; bounds.h). Call after
  /// outputs(p, seed); valid until the next call of either.
  Result<const ConvTensors*> magnitudes(const Problem& p, uint64_t seed);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ProbeOptions {
  bool verify = true;
  ExecOptions exec;
  uint64_t seed = 0;
  /// The probe is a canary: the engine is in canary mode (Engine::set_canary) while it runs.
  bool canary = false;
};

/// Called when the probe enters a phase (the worker forwards it to the supervisor).
using PhaseCallback = std::function<void(Phase)>;

/// Runs p with `algo` on an initialised engine: prepare, fill, poison, execute,
/// verify. Never throws; every failure becomes an outcome. A kDeviceLost status
/// from the engine yields Outcome::crash with `device_lost` set to true.
/// Judges `got` (p's outputs of an algorithm of class `cls`, from the fills of `seed`)
/// against the reference and the class's bound, filling r's verdict fields (outcome
/// ok/wrong/error, phase verify, max_rel_err, err_ratio, err_class, inexact, message,
/// reference). Before `wrong`, the reference is checked against an independent
/// double-precision computation; where they disagree the outcome is `error`.
void judge(const Problem& p, const ConvTensors& got, AlgoClass cls, Reference& reference,
           uint64_t seed, ProbeResult& r);

ProbeResult run_probe(Engine& engine, const Problem& p, const std::string& algo,
                      Reference* reference, const ProbeOptions& opt,
                      const PhaseCallback& on_phase = {}, bool* device_lost = nullptr);

}  // namespace convguard
