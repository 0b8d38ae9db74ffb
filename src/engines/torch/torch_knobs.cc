// PyTorch's user-settable convolution knobs: which apply where, how they are set and
// restored, and how exact each makes the result.
#include "engines/torch/torch_knobs.h"

#include <cstdlib>
#include <string_view>

#include <ATen/Context.h>
#include <torch/cuda.h>

#include <algorithm>
#include <array>

namespace convguard::torch_engine {
namespace {

constexpr const char* kChannelsLast = "channels_last";

// Every knob any build knows, and what it needs.
enum class Needs { any, cuda_dnn, cudnn, miopen, cpu };
struct KnobInfo {
  const char* name;
  Needs needs;
};
constexpr std::array<KnobInfo, 8> kKnobs{{
    {kDefaultAlgo, Needs::any},
    {"cudnn.benchmark", Needs::cuda_dnn},
    {"cudnn.deterministic", Needs::cuda_dnn},
    {"cudnn.off", Needs::cuda_dnn},
    {"tf32.off", Needs::cudnn},
    {"miopen.immediate", Needs::miopen},
    {"mkldnn.off", Needs::cpu},
    {kChannelsLast, Needs::any},
}};

// PyTorch routes torch.backends.cudnn.{enabled,benchmark,deterministic} to MIOpen on
// ROCm builds, so the cudnn.* knobs apply wherever a GPU DNN library is in use.
bool applies(Needs n, const Backend& b) {
  switch (n) {
    case Needs::any: return true;
    case Needs::cuda_dnn: return b.gpu && (b.cudnn || b.miopen);
    case Needs::cudnn: return b.gpu && b.cudnn;
    case Needs::miopen: return b.gpu && b.miopen;
    case Needs::cpu: return !b.gpu;
  }
  return false;
}

const KnobInfo* find_knob(std::string_view name) {
  for (const KnobInfo& k : kKnobs)
    if (name == k.name) return &k;
  return nullptr;
}

}  // namespace

Backend detect_backend() {
  Backend b;
  b.gpu = torch::cuda::is_available();
  const auto& hooks = at::detail::getCUDAHooks();
  b.miopen = b.gpu && hooks.hasROCM() && hooks.compiledWithMIOpen();
  b.cudnn = b.gpu && !hooks.hasROCM() && torch::cuda::cudnn_is_available();
  return b;
}

GlobalFlags read_flags() {
  const at::Context& c = at::globalContext();
  GlobalFlags f;
  f.cudnn = c.userEnabledCuDNN();
  f.benchmark = c.benchmarkCuDNN();
  f.deterministic = c.deterministicCuDNN();
  f.mkldnn = c.userEnabledMkldnn();
  f.miopen_immediate = c.immediateMiopen();
  // The fp32 precision API, not allowTF32CuDNN(): PyTorch 2.9+ deprecates the legacy
  // flag and refuses to mix the two.
  f.tf32_conv =
      at::precision2str(c.float32Precision(at::Float32Backend::CUDA, at::Float32Op::CONV));
  return f;
}

void write_flags(const GlobalFlags& f) {
  at::Context& c = at::globalContext();
  c.setUserEnabledCuDNN(f.cudnn);
  c.setBenchmarkCuDNN(f.benchmark);
  c.setDeterministicCuDNN(f.deterministic);
  c.setUserEnabledMkldnn(f.mkldnn);
  c.setImmediateMiopen(f.miopen_immediate);
  c.setFloat32Precision(at::Float32Backend::CUDA, at::Float32Op::CONV,
                        at::str2precision(f.tf32_conv));
}

std::vector<std::string> knob_names(const Backend& b, const Problem& p) {
  std::vector<std::string> out;
  for (const KnobInfo& k : kKnobs) {
    if (!applies(k.needs, b)) continue;
    if (std::string_view(k.name) == kChannelsLast && p.layout == Layout::nhwc) continue;
    out.emplace_back(k.name);
  }
  return out;
}

Status check_knob(const Backend& b, const std::string& knob) {
  const KnobInfo* k = find_knob(knob);
  if (!k) {
    std::string all;
    for (const KnobInfo& i : kKnobs) all += std::string(all.empty() ? "" : ", ") + i.name;
    return Status::Invalid("invalid --algo=" + knob + ": torch knows " + all);
  }
  if (!applies(k->needs, b))
    return Status::Unsupported("torch knob " + knob + " does not apply on " +
                               (b.gpu ? std::string(b.miopen ? "ROCm" : "CUDA") : "the CPU"));
  return Status::Ok();
}

KnobScope::KnobScope(const std::string& knob) : saved_(read_flags()) {
  GlobalFlags f = saved_;
  if (knob == "cudnn.benchmark") f.benchmark = true;
  if (knob == "cudnn.deterministic") f.deterministic = true;
  if (knob == "cudnn.off") f.cudnn = false;
  if (knob == "tf32.off") f.tf32_conv = "ieee";
  if (knob == "miopen.immediate") f.miopen_immediate = true;
  if (knob == "mkldnn.off") f.mkldnn = false;
  if (!(f == saved_)) write_flags(f);
}

KnobScope::~KnobScope() {
  if (!(read_flags() == saved_)) write_flags(saved_);
}

// PyTorch does not say which kernel cuDNN or MIOpen picked, so the class covers the
// loosest one the library may pick: in f32 with TF32 allowed (PyTorch's default for
// convolutions) `reduced`; otherwise cuDNN's heuristics and benchmark may still pick
// FFT or Winograd, whose rounding `fft` covers. PyTorch's own GPU kernels (cudnn.off)
// are im2col + cuBLAS GEMMs: exact in f32 (TF32 for matmuls is off by default), but
// f16/bf16 GEMMs may reduce in reduced precision (allow_fp16/bf16_reduced_precision_
// reduction default to true). On the CPU oneDNN (mkldnn) and PyTorch's own kernels
// are direct or GEMM based and accumulate in f32: exact, except bf16 backward, whose
// partial sums are rounded to bf16 (PyTorch 2.11: errors up to 3 u_bf16 M, within the
// reduced bound; docs/NUMERICS.md).
// NVIDIA_TF32_OVERRIDE=0 turns TF32 off inside cuDNN and cuBLAS whatever PyTorch's flags
// say; cuDNN's heuristics then pick f32 Winograd and other transform kernels for 3x3
// convolutions (on the H200, 34 of ResNet-50's 169 mb-32 training probes, 1.06-510x over
// the reduced bound).
bool tf32_overridden_off() {
  const char* v = std::getenv("NVIDIA_TF32_OVERRIDE");
  return v && std::string_view(v) == "0";
}

AlgoClass algo_class_for(const Backend& b, const Problem& p, const std::string& knob) {
  if (!b.gpu) {
    const bool backward = p.dir != Dir::FWD_D && p.dir != Dir::FWD_B;
    return backward && p.dt == DataType::bf16 ? AlgoClass::reduced : AlgoClass::exact;
  }
  if (knob == "cudnn.off") return p.dt == DataType::f32 ? AlgoClass::exact : AlgoClass::reduced;
  const bool tf32 = b.cudnn && p.dt == DataType::f32 && knob != "tf32.off" &&
                    read_flags().tf32_conv != "ieee" && !tf32_overridden_off();
  return tf32 ? AlgoClass::reduced : AlgoClass::fft;
}

}  // namespace convguard::torch_engine
