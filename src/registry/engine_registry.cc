// The one place that knows every engine this build has.
#include "convguard/engine_registry.h"

#include <filesystem>

#include "convguard/cpu_engines.h"
#include "convguard/sim.h"
#include "engines/miopen/miopen_engine.h"
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
  names.push_back("miopen");
#if defined(CONVGUARD_HAVE_TORCH) || defined(CONVGUARD_TORCH_WORKER)
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
  if (spec.name == "miopen") return make_miopen_engine();
#if defined(CONVGUARD_HAVE_TORCH)
  if (spec.name == "torch") return make_torch_engine();
#elif defined(CONVGUARD_TORCH_WORKER)
  if (spec.name == "torch")
    return Status::Unsupported("the torch engine runs only in its isolated workers (" CONVGUARD_TORCH_WORKER
                               "), so that no other process pays for loading libtorch: "
                               "use probe, sweep, boundary or shrink");
#endif
  if (spec.name == "sim") {
    if (spec.base == "sim") return Status::Invalid("invalid --base=sim: sim cannot wrap itself");
    auto base = make_engine(EngineSpec{spec.base, "", "", 0});
    if (!base.ok()) return base.status();
    return make_sim_engine(std::move(*base), spec.quirks_path, spec.seed);
  }
  return Status::Invalid("invalid --engine=" + spec.name + ": not in this build");
}

std::vector<std::string> worker_argv_for(const EngineSpec& spec, const std::string& self) {
#ifdef CONVGUARD_TORCH_WORKER
  if (spec.name == "torch" || (spec.name == "sim" && spec.base == "torch"))
    return {(std::filesystem::path(self).parent_path() / CONVGUARD_TORCH_WORKER).string()};
#else
  (void)spec;
#endif
  return {self, "worker"};
}

}  // namespace convguard
