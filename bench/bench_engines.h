// The engines a benchmark's workers build (the binary re-executes itself as the worker):
// "ref", "onednn", and "sim" over either with the spec's quirk file.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "convguard/cpu_engines.h"
#include "convguard/sim.h"

namespace convguard::bench {

inline Result<std::unique_ptr<Engine>> make_bench_engine(const EngineSpec& spec) {
  if (spec.name == "ref") return make_ref_engine();
  if (spec.name == "onednn") return make_onednn_engine();
  if (spec.name == "sim") {
    auto base = make_bench_engine(EngineSpec{spec.base, "", "", 0});
    if (!base.ok()) return base.status();
    return make_sim_engine(std::move(*base), spec.quirks_path, spec.seed);
  }
  return Status::Invalid("invalid engine " + spec.name);
}

inline std::string self_exe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

}  // namespace convguard::bench
