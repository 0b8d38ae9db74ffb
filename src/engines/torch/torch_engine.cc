// The torch engine: tensors in and out of PyTorch, the prepared convolution with its
// first call and timed runs, guard bands, the fingerprint and the hang injection.
#include "engines/torch/torch_engine.h"

#include <ATen/ATen.h>
#include <caffe2/core/macros.h>
#include <torch/cuda.h>
#ifdef CONVGUARD_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif
#ifdef CONVGUARD_TORCH_SPIN
#include "engines/cudnn/cuda_kernels.h"
#endif

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <optional>
#include <tuple>

#include "convguard/cpu_engines.h"
#include "engines/torch/torch_knobs.h"
#include "model/environment.h"

namespace convguard {
namespace torch_engine {
namespace {

// Elements of each guard band around an output buffer, and the value they hold.
constexpr int64_t kBand = 1024;
constexpr double kSentinel = -1536.0;  // exact in f32, f16 and bf16

std::string build_string(const std::string& key) {
  static const std::map<std::string, std::string> kBuild = CAFFE2_BUILD_STRINGS;
  auto it = kBuild.find(key);
  return it == kBuild.end() ? "" : it->second;
}

at::ScalarType scalar_type(DataType dt) {
  switch (dt) {
    case DataType::f32: return at::kFloat;
    case DataType::f16: return at::kHalf;
    case DataType::bf16: return at::kBFloat16;
  }
  return at::kFloat;
}

std::vector<int64_t> sizes_of(const Problem& p, Arg a) {
  switch (a) {
    case Arg::src: return {p.mb, p.ic, p.ih, p.iw};
    case Arg::wei: return {p.oc, p.ic / p.g, p.kh, p.kw};  // = (g, oc/g, ic/g, kh, kw)
    case Arg::bia: return {p.oc};
    case Arg::dst: break;
  }
  return {p.mb, p.oc, p.oh, p.ow};
}

// A c10::Error as a Status: a data type or problem PyTorch declines is Unsupported, a
// sticky device error DeviceLost, anything else an Error.
Status from_torch_error(const std::string& what, const char* phase) {
  const std::string first = what.substr(0, what.find('\n'));
  const std::string msg = std::string("torch ") + phase + ": " + first;
  if (first.find("not implemented for") != std::string::npos ||
      first.find("not supported") != std::string::npos)
    return Status::Unsupported(msg);
  if ((first.find("CUDA error") != std::string::npos ||
       first.find("HIP error") != std::string::npos) &&
      first.find("out of memory") == std::string::npos)
    return Status::DeviceLost(msg);
  return Status::Error(msg);
}

// Where and how the tensors of one Prepared live.
struct Target {
  at::Device device{at::kCPU};
  at::ScalarType dtype = at::kFloat;
  bool channels_last = false;
  at::TensorOptions options() const { return at::TensorOptions().device(device).dtype(dtype); }
  at::MemoryFormat format() const {
    return channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  }
};

at::Tensor to_device(const std::vector<float>& host, const std::vector<int64_t>& sizes,
                     const Target& tg) {
  at::Tensor h = at::from_blob(const_cast<float*>(host.data()), sizes, at::kFloat);
  at::Tensor d = h.to(tg.options(), /*non_blocking=*/false, /*copy=*/true);
  return sizes.size() == 4 ? d.contiguous(tg.format()) : d;
}

// An output tensor inside a buffer with a sentinel band on each side. PyTorch's
// convolutions allocate their results themselves (the out= variants of convolution are
// generated wrappers that compute into a fresh tensor and copy), so a kernel that
// overruns writes into PyTorch's caching allocator, never here: the bands catch only a
// bad copy into the view, the part of the path this engine can see.
struct Banded {
  at::Tensor buffer, view;
  int64_t n = 0;

  Banded(const std::vector<int64_t>& sizes, const Target& tg) {
    n = 1;
    for (int64_t s : sizes) n *= s;
    buffer = at::full({n + 2 * kBand}, kSentinel, tg.options());
    at::Tensor inner = buffer.narrow(0, kBand, n);
    if (sizes.size() == 4 && tg.channels_last)
      view = inner.view({sizes[0], sizes[2], sizes[3], sizes[1]}).permute({0, 3, 1, 2});
    else
      view = inner.view(sizes);
    view.fill_(std::numeric_limits<double>::quiet_NaN());  // poison: unwritten never passes
  }

  // Empty when both bands are intact; otherwise "oob: ..." naming the side.
  std::string check(const char* arg) const {
    std::string bad;
    if (buffer.narrow(0, 0, kBand).ne(kSentinel).any().item<bool>()) bad = "before";
    if (buffer.narrow(0, kBand + n, kBand).ne(kSentinel).any().item<bool>())
      bad += bad.empty() ? "after" : " and after";
    return bad.empty() ? "" : std::string("oob: the guard band ") + bad + " " + arg + " changed";
  }
};

void to_host(const at::Tensor& view, std::vector<float>& host) {
  at::Tensor h = view.to(at::kCPU, at::kFloat).contiguous();
  host.resize(static_cast<size_t>(h.numel()));
  std::memcpy(host.data(), h.data_ptr<float>(), host.size() * sizeof(float));
}

// The tensors one call reads, on the device; undefined where the direction has none.
struct Inputs {
  at::Tensor src, wei, bia, dst;
};

class TorchPrepared : public Prepared {
 public:
  /// `round_to`: outputs computed in tg.dtype are rounded to this type, as a result stored
  /// in the problem's data type is (torch-cpu computes in f32).
  TorchPrepared(const Problem& p, std::string knob, Target tg, AlgoClass cls, bool gpu,
                std::optional<at::ScalarType> round_to = std::nullopt)
      : p_(p), knob_(std::move(knob)), tg_(tg), cls_(cls), gpu_(gpu), round_to_(round_to) {}

  std::string algo() const override { return knob_; }
  AlgoClass algo_class() const override { return cls_; }

  // The first call, on zeros: where cudnn.benchmark searches and MIOpen compiles.
  Status first_call() {
    try {
      KnobScope knobs(knob_);
      Inputs in;
      for (Arg a : {Arg::src, Arg::wei, Arg::bia, Arg::dst})
        if (elems(p_, a) != 0) slot(in, a) = zeros(a);
      (void)run(in);
      sync();
      return Status::Ok();
    } catch (const c10::Error& e) {
      return from_torch_error(e.what_without_backtrace(), "prepare");
    } catch (const std::exception& e) {
      return from_torch_error(e.what(), "prepare");
    }
  }

  Result<double> execute(ConvTensors& t, const ExecOptions& opt) override {
    for (Arg a : inputs_of(p_.dir))
      if (static_cast<int64_t>(tensor(t, a).size()) != elems(p_, a))
        return Status::Error(std::string("torch: ") + to_string(a) + " has " +
                             std::to_string(tensor(t, a).size()) + " elements, expected " +
                             std::to_string(elems(p_, a)));
    try {
      KnobScope knobs(knob_);
      return timed_runs(t, opt);
    } catch (const c10::Error& e) {
      return from_torch_error(e.what_without_backtrace(), "execute");
    } catch (const std::exception& e) {
      return from_torch_error(e.what(), "execute");
    }
  }

 private:
  static at::Tensor& slot(Inputs& in, Arg a) {
    switch (a) {
      case Arg::src: return in.src;
      case Arg::wei: return in.wei;
      case Arg::bia: return in.bia;
      case Arg::dst: break;
    }
    return in.dst;
  }

  at::Tensor zeros(Arg a) const {
    at::Tensor z = at::zeros(sizes_of(p_, a), tg_.options());
    return z.dim() == 4 ? z.contiguous(tg_.format()) : z;
  }

  void sync() const {
    if (gpu_) torch::cuda::synchronize();
  }

  // The direction's outputs for `in`, in outputs_of(dir) order. BWD_D reads no source
  // values and BWD_W no weights, but PyTorch takes both tensors (for sizes and memory
  // format): zeros stand in.
  std::vector<at::Tensor> run(const Inputs& in) const {
    const std::vector<int64_t> stride{p_.sh, p_.sw}, pad{p_.ph, p_.pw};
    const std::vector<int64_t> dilation{p_.dh + 1, p_.dw + 1}, out_pad{0, 0};
    if (p_.dir == Dir::FWD_D || p_.dir == Dir::FWD_B) {
      const std::optional<at::Tensor> bias =
          p_.has_bias() ? std::optional<at::Tensor>(in.bia) : std::nullopt;
      return {at::convolution(in.src, in.wei, bias, stride, pad, dilation, false, out_pad, p_.g)};
    }
    const std::vector<int64_t> bias_sizes{p_.oc};
    const at::OptionalIntArrayRef bias_arg =
        p_.has_bias() ? at::OptionalIntArrayRef(bias_sizes) : std::nullopt;
    const std::array<bool, 3> mask{p_.dir == Dir::BWD_D, p_.dir != Dir::BWD_D, p_.has_bias()};
    auto [gi, gw, gb] = at::convolution_backward(in.dst, in.src, in.wei, bias_arg, stride, pad,
                                                 dilation, false, out_pad, p_.g, mask);
    if (p_.dir == Dir::BWD_D) return {gi};
    if (p_.dir == Dir::BWD_W) return {gw};
    return {gw, gb};
  }

  Result<double> timed_runs(ConvTensors& t, const ExecOptions& opt) {
    Inputs in;
    for (Arg a : {Arg::src, Arg::wei, Arg::bia, Arg::dst}) {
      if (elems(p_, a) == 0) continue;
      const std::vector<Arg> ins = inputs_of(p_.dir);
      const bool read = std::find(ins.begin(), ins.end(), a) != ins.end();
      slot(in, a) = read ? to_device(tensor(t, a), sizes_of(p_, a), tg_) : zeros(a);
    }
    const std::vector<Arg> outs = outputs_of(p_.dir);
    std::vector<Banded> banded;
    for (Arg a : outs) banded.emplace_back(sizes_of(p_, a), tg_);
    for (int i = 0; i < opt.warmup; ++i) (void)run(in);
    sync();
    std::vector<double> ms;
    std::vector<at::Tensor> got;
    for (int i = 0; i < std::max(1, opt.repeats); ++i) {
      const auto start = std::chrono::steady_clock::now();
      got = run(in);
      sync();
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
    }
    for (size_t i = 0; i < outs.size(); ++i)
      banded[i].view.copy_(round_to_ ? got[i].to(*round_to_).to(got[i].scalar_type()) : got[i]);
    sync();
    for (size_t i = 0; i < outs.size(); ++i)
      if (std::string bad = banded[i].check(to_string(outs[i])); !bad.empty())
        return Status::Error(bad);
    for (size_t i = 0; i < outs.size(); ++i) to_host(banded[i].view, tensor(t, outs[i]));
    std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
    return ms[ms.size() / 2];
  }

  Problem p_;
  std::string knob_;
  Target tg_;
  AlgoClass cls_;
  bool gpu_;
  std::optional<at::ScalarType> round_to_;
};

// "9.19.0" from cuDNN's and MIOpen's major * 10000 + minor * 100 + patch (cuDNN 9).
std::string dotted(long v) {
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
         std::to_string(v % 100);
}

bool relevant_env(std::string_view k) {
  for (std::string_view prefix :
       {"PYTORCH_", "TORCH_", "MIOPEN_", "HSA_", "HIP_", "CUDA_", "CUDNN_", "ONEDNN_", "DNNL_"})
    if (k.starts_with(prefix)) return true;
  return k == "NVIDIA_TF32_OVERRIDE" || k == "OMP_NUM_THREADS";
}

}  // namespace

class TorchEngine : public Engine {
 public:
  /// `reference`: torch-cpu (make_torch_cpu_reference).
  explicit TorchEngine(bool reference = false) : reference_(reference) {}
  std::string name() const override { return reference_ ? "torch-cpu" : "torch"; }
  std::string version() const override {
    return "PyTorch " + build_string("TORCH_VERSION") + " (" + build_string("COMMIT_SHA") + ")";
  }

  Status init() override {
    if (initialised_) return init_status_;
    initialised_ = true;
    try {
      if (!reference_) backend_ = detect_backend();
      // Creates the device context now, so that prepare does not pay for it.
      if (backend_.gpu) (void)at::zeros({1}, at::TensorOptions().device(at::kCUDA));
      return init_status_ = Status::Ok();
    } catch (const c10::Error& e) {
      return init_status_ = from_torch_error(e.what_without_backtrace(), "init");
    }
  }

  std::vector<std::string> algorithms(const Problem& p) override {
    if (!init().ok()) return {kDefaultAlgo};
    return knob_names(backend_, p);
  }

  Result<std::unique_ptr<Prepared>> prepare(const Problem& p, const std::string& algo) override {
    CG_RETURN_IF_ERROR(init());
    CG_RETURN_IF_ERROR(check_knob(backend_, algo));
    Target tg;
    tg.device = backend_.gpu ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
    tg.dtype = reference_ ? at::kFloat : scalar_type(p.dt);
    tg.channels_last = p.layout == Layout::nhwc || algo == "channels_last";
    auto prepared = std::make_unique<TorchPrepared>(
        p, algo, tg, algo_class_for(backend_, p, algo), backend_.gpu,
        reference_ ? std::optional(scalar_type(p.dt)) : std::nullopt);
    CG_RETURN_IF_ERROR(prepared->first_call());
    return std::unique_ptr<Prepared>(std::move(prepared));
  }

  std::map<std::string, std::string> fingerprint() override {
    std::map<std::string, std::string> f{{"engine", "torch"},
                                         {"torch", build_string("TORCH_VERSION")},
                                         {"torch_git", build_string("COMMIT_SHA")},
                                         {"torch_cuda_build", build_string("CUDA_VERSION")},
                                         {"torch_rocm_build", build_string("ROCM_VERSION")},
                                         {"cpu_capability", at::get_cpu_capability()},
                                         {"mkldnn", at::get_mkldnn_version()}};
    (void)init();
    try {
      add_device_facts(&f);
    } catch (const c10::Error& e) {
      f["device_error"] = e.what_without_backtrace();
    }
    f.merge(env_facts(current_env(), relevant_env));
    return f;
  }

  Status inject_hang() override {
    CG_RETURN_IF_ERROR(init());
    if (!backend_.gpu) return Engine::inject_hang();
#ifdef CONVGUARD_TORCH_SPIN
    // PyTorch has no op that never ends: the cuDNN engine's spin kernel, on the same
    // device (its runtime shares the primary context with PyTorch's).
    hang_flag_ = at::zeros({1}, at::TensorOptions().device(at::kCUDA).dtype(at::kInt));
    torch::cuda::synchronize();
    cudaError_t e = cuda::launch_spin(hang_flag_.data_ptr<int>(), nullptr);
    if (e != cudaSuccess)
      return Status::Error(std::string("torch: hang kernel launch: ") + cudaGetErrorString(e));
    e = cudaDeviceSynchronize();
    return Status::DeviceLost(std::string("torch: the hang kernel ended: ") +
                              cudaGetErrorString(e));
#else
    return Status::Unsupported("torch: built without the CUDA toolkit, no kernel to hang with");
#endif
  }

 private:
  void add_device_facts(std::map<std::string, std::string>* f) {
    const auto& hooks = at::detail::getCUDAHooks();
    (*f)["device"] = backend_.gpu ? "gpu" : "cpu";
    if (!backend_.gpu) return;
    const long rt = hooks.versionCUDART();  // CUDA: major * 1000 + minor * 10
    (*f)["cuda_runtime"] = std::to_string(rt / 1000) + "." + std::to_string(rt % 1000 / 10);
    if (backend_.cudnn) (*f)["cudnn"] = dotted(hooks.versionCuDNN());
    if (backend_.miopen) (*f)["miopen"] = dotted(hooks.versionMIOpen());
#ifdef CONVGUARD_TORCH_CUDA
    const auto* prop = at::cuda::getCurrentDeviceProperties();
    (*f)["device"] = prop->name;
    (*f)["compute_capability"] = std::to_string(prop->major) + "." + std::to_string(prop->minor);
#if defined(USE_ROCM)
    (*f)["gcn_arch"] = prop->gcnArchName;
#endif
#endif
  }

  bool reference_ = false;
  bool initialised_ = false;
  Status init_status_ = Status::Error("not initialised");
  Backend backend_;
  at::Tensor hang_flag_;
};

}  // namespace torch_engine

Result<std::unique_ptr<Engine>> make_torch_engine() {
  return std::unique_ptr<Engine>(std::make_unique<torch_engine::TorchEngine>());
}

std::unique_ptr<Engine> make_torch_cpu_reference() {
  return std::make_unique<torch_engine::TorchEngine>(true);
}

std::unique_ptr<Reference> make_torch_worker_reference(const std::string& judged_engine) {
  const bool gpu = torch_engine::detect_backend().gpu;
  auto r = std::make_unique<Reference>(make_ref_engine(), gpu ? make_torch_cpu_reference() : nullptr);
  r->exclude(judged_engine);
  return r;
}

}  // namespace convguard
