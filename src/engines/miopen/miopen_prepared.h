// One MIOpen convolution bound to a solution: descriptors, device buffers, the solution id
// and its workspace; prepared by compiling one solver, by MIOpen's own first choice, or by
// Find.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "convguard/engine.h"
#include "engines/miopen/miopen_api.h"
#include "engines/miopen/miopen_device.h"

namespace convguard::miopen {

/// What every Prepared of one engine shares; the handle goes with the last of them.
struct Context {
  Context() = default;
  ~Context() {
    if (handle) api->Destroy(handle);
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  std::shared_ptr<const Api> api;
  miopenHandle_t handle = nullptr;
};

/// The calls of the direction's convolution (FWD_B's is the forward one, BWD_WB's the
/// backward weights one; MIOpen adds and reduces the bias in separate calls).
const DirectionCalls& calls_for(const Api& api, Dir d);

/// The solutions MIOpen offers for p (best first), or Unsupported where it declines p.
Result<std::vector<miopenConvSolution_t>> list_solutions(const Context& ctx, const Problem& p);

class MiopenPrepared : public Prepared {
 public:
  MiopenPrepared(std::shared_ptr<Context> ctx, const Problem& p);

  /// Prepare one solver: Unsupported where MIOpen does not offer it for the problem.
  Status prepare_solver(uint64_t id);
  /// Prepare MIOpen's first offered solution.
  Status prepare_default();
  /// Run Find under `mode` ("normal", "fast", "hybrid"), then prepare what it picked.
  Status prepare_find(const std::string& mode);

  std::string algo() const override { return name_; }
  AlgoClass algo_class() const override { return class_; }
  Result<double> execute(ConvTensors& t, const ExecOptions& opt) override;

 private:
  Status setup();
  Result<std::string> check_bands();
  Status compile(const miopenConvSolution_t& s);
  Status call_immediate();
  Status upload(const ConvTensors& t);
  DeviceBuffer& buffer(Arg a);

  std::shared_ptr<Context> ctx_;
  const DirectionCalls& calls_;
  Problem p_;
  Descriptors desc_;
  DeviceBuffer src_, wei_, dst_, bia_, workspace_;
  uint64_t id_ = 0;
  std::string name_;
  AlgoClass class_ = AlgoClass::exact;
};

}  // namespace convguard::miopen
