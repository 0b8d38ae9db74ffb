// PyTorch's global convolution settings as convguard algorithms ("knobs"), and a
// scope that sets one knob and restores the previous settings after.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "convguard/engine.h"
#include "convguard/problem.h"

namespace convguard::torch_engine {

/// What this process's PyTorch runs convolutions on.
struct Backend {
  bool gpu = false;     ///< torch::cuda::is_available() (CUDA, or HIP on ROCm builds)
  bool cudnn = false;   ///< cuDNN usable (CUDA builds)
  bool miopen = false;  ///< MIOpen compiled in (ROCm builds)
};
Backend detect_backend();

/// The global flags the knobs touch (at::globalContext()).
struct GlobalFlags {
  bool cudnn = true, benchmark = false, deterministic = false, mkldnn = true;
  bool miopen_immediate = false;
  std::string tf32_conv;  ///< CUDA conv fp32 precision: "none" (inherit), "tf32", "ieee"
  bool operator==(const GlobalFlags&) const = default;
};
GlobalFlags read_flags();
void write_flags(const GlobalFlags& f);

/// Knobs offered for p on `b`, "default" first. channels_last is left out for nhwc
/// problems, which run channels_last already.
std::vector<std::string> knob_names(const Backend& b, const Problem& p);
/// Ok for a knob of `b`; Unsupported for a knob PyTorch has elsewhere (e.g. cudnn.off
/// on the CPU); Invalid for a name no build knows.
Status check_knob(const Backend& b, const std::string& knob);

/// Sets the knob's flags for its lifetime; restores the flags it found.
class KnobScope {
 public:
  explicit KnobScope(const std::string& knob);
  ~KnobScope();
  KnobScope(const KnobScope&) = delete;
  KnobScope& operator=(const KnobScope&) = delete;

 private:
  GlobalFlags saved_;
};

/// NVIDIA_TF32_OVERRIDE=0 is set: cuDNN and cuBLAS use no TF32, whatever PyTorch's flags say.
bool tf32_overridden_off();
/// The tolerance class of p under `knob` (see the comment in torch_knobs.cc).
AlgoClass algo_class_for(const Backend& b, const Problem& p, const std::string& knob);

}  // namespace convguard::torch_engine
