// The one place that knows every engine this build has.
#include "convguard/engine_registry.h"

#include "convguard/cpu_engines.h"
#include "convguard/sim.h"
#ifdef CONVGUARD_HAVE_CUDNN
#include "engines/cudnn/cudnn_engine.h"
#endif
#ifdef CONVGUARD_HAVE_TORCH
#include "engines/torch/torch_engine.h"
#endif

namespace convguard {

std::vector<std::string> engine_names() {
  std::vector<std::string> names{"ref", "onednn"};
#ifdef CONVGUARD_HAVE_CUDNN
  names.push_back("cudnn");
#endif
#ifdef CONVGUARD_HAVE_TORCH
  names.push_back("torch");
#endif
  names.push_back("sim");
  return names;
}

Result<std::unique_ptr<Engine>> make_engine(const EngineSpec& spec) {
  if (spec.name == "ref") return make_ref_engine();
  if (spec.name == "onednn") return make_onednn_engine();
#ifdef CONVGUARD_HAVE_CUDNN
  if (spec.name == "cudnn") return make_cudnn_engine();
#endif
#ifdef CONVGUARD_HAVE_TORCH
  if (spec.name == "torch") return make_torch_engine();
#endif
  if (spec.name == "sim") {
    if (spec.base == "sim") return Status::Invalid("invalid --base=sim: sim cannot wrap itself");
    auto base = make_engine(EngineSpec{spec.base, "", "", 0});
    if (!base.ok()) return base.status();
    return make_sim_engine(std::move(*base), spec.quirks_path, spec.seed);
  }
  return Status::Invalid("invalid --engine=" + spec.name + ": not in this build");
}

}  // namespace convguard
