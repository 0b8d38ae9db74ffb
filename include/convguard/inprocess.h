// Running probes sequentially in the calling process: no isolation, so a hang hangs
// the caller. `convguard run` uses it; isolation's overhead is measured against it.
#pragma once

#include <memory>
#include <string>

#include "convguard/engine.h"
#include "convguard/probe.h"
#include "convguard/prober.h"

namespace convguard {

/// The CPU reference for judging `judged_engine`: `ref` for small problems, `onednn`
/// above 2 GFLOP, never the judged engine itself. A `sim` may wrap onednn, so sim is
/// judged by `ref` alone.
std::unique_ptr<Reference> make_cpu_reference(const std::string& judged_engine);

class InProcessProber : public Prober {
 public:
  /// Judges with make_cpu_reference(engine->name()).
  InProcessProber(std::unique_ptr<Engine> engine, ProbeOptions opt = {});
  /// Judges with `reference` (null: results are not compared, only checked for NaN/Inf).
  InProcessProber(std::unique_ptr<Engine> engine, std::unique_ptr<Reference> reference,
                  ProbeOptions opt);
  ~InProcessProber() override;

  bool reports_dispatch() const override { return true; }
  Result<std::vector<std::string>> algorithms(const Problem& p) override;
  Result<std::map<std::string, std::string>> fingerprint() override;
  std::string engine_name() const override;

 private:
  /// Runs requests in order; stops with Code::kDeviceLost after a probe lost the device.
  Status do_run(const std::vector<ProbeRequest>& requests, const ResultCallback& on_result,
                const DispatchCallback& on_dispatch) override;

  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Reference> reference_;
  ProbeOptions opt_;
};

}  // namespace convguard
