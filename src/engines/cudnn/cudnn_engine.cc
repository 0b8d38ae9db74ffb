// The cuDNN engine: device and handle setup, fingerprint, algorithm listing,
// prepare dispatch (legacy API or backend engine), and the hang injection.
#include "engines/cudnn/cudnn_engine.h"

#include <cstdlib>
#include <cstring>

#include "model/environment.h"
#include "engines/cudnn/cuda_kernels.h"
#include "engines/cudnn/cudnn_backend.h"
#include "engines/cudnn/cudnn_prepared.h"

namespace convguard {
namespace cudnn {
namespace {

std::string version_text(size_t v) {
  // cuDNN 9 encodes major * 10000 + minor * 100 + patch.
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
         std::to_string(v % 100);
}

std::string cuda_version_text(int v) {
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

bool relevant_env(std::string_view name) {
  return name.substr(0, 6) == "CUDNN_" || name == "NVIDIA_TF32_OVERRIDE" ||
         name == "CUDA_VISIBLE_DEVICES" || name == "CUDA_LAUNCH_BLOCKING" ||
         name == "CUDA_MODULE_LOADING" || name == "CUDA_DEVICE_ORDER";
}

class CudnnEngine : public Engine {
 public:
  std::string name() const override { return "cudnn"; }
  std::string version() const override { return "cuDNN " + version_text(cudnnGetVersion()); }
  Status init() override;
  std::vector<std::string> algorithms(const Problem& p) override;
  Result<std::unique_ptr<Prepared>> prepare(const Problem& p, const std::string& algo) override;
  std::map<std::string, std::string> fingerprint() override;
  Status inject_hang() override;

 private:
  Status create_context();
  void add_device_facts(std::map<std::string, std::string>* f);

  std::shared_ptr<Context> ctx_;
  Status init_status_ = Status::Error("not initialised");
};

Status CudnnEngine::init() {
  if (ctx_) return ctx_->lost.ok() ? Status::Ok() : ctx_->lost;
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    std::string why = e != cudaSuccess ? cudaGetErrorString(e) : "no device visible";
    cudaGetLastError();
    return init_status_ = Status::Unsupported("no CUDA device: " + why);
  }
  return init_status_ = create_context();
}

Status CudnnEngine::create_context() {
  auto ctx = std::make_shared<Context>();
  CG_RETURN_IF_ERROR(cuda_check(cudaSetDevice(0), "cudaSetDevice(0)"));
  CG_RETURN_IF_ERROR(cuda_check(cudaFree(nullptr), "CUDA context creation"));
  CG_RETURN_IF_ERROR(cuda_check(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking),
                                "cudaStreamCreate"));
  CG_RETURN_IF_ERROR(cuda_check(
      cudaMalloc(reinterpret_cast<void**>(&ctx->scratch), sizeof(int) * (cuda::kMaxBands + 1)),
      "cudaMalloc(scratch)"));
  CG_RETURN_IF_ERROR(cuda_check(cudaMemset(ctx->scratch, 0, sizeof(int) * (cuda::kMaxBands + 1)),
                                "cudaMemset(scratch)"));
  CG_RETURN_IF_ERROR(cudnn_check(cudnnCreate(&ctx->handle), "cudnnCreate"));
  CG_RETURN_IF_ERROR(cudnn_check(cudnnSetStream(ctx->handle, ctx->stream), "cudnnSetStream"));
  ctx_ = std::move(ctx);
  return Status::Ok();
}

std::vector<std::string> CudnnEngine::algorithms(const Problem& p) {
  std::vector<std::string> out{kDefaultAlgo};
  for (std::string& n : legacy_names(p)) out.push_back(std::move(n));
  if (!ctx_ || !ctx_->lost.ok()) return out;
  auto engines = list_engines(ctx_->handle, p);
  if (!engines.ok()) {
    (void)ctx_->note(engines.status());
    return out;
  }
  for (int i : *engines) out.push_back(engine_name(i));
  return out;
}

Result<std::unique_ptr<Prepared>> CudnnEngine::prepare(const Problem& p,
                                                       const std::string& algo) {
  if (!ctx_) return init_status_.ok() ? Status::Error("cudnn: init() not called") : init_status_;
  if (!ctx_->lost.ok()) return ctx_->lost;
  if (int index = parse_engine_name(algo); index >= 0) {
    auto prepared = std::make_unique<BackendPrepared>(ctx_, p);
    CG_RETURN_IF_ERROR(ctx_->note(prepared->prepare(index)));
    return std::unique_ptr<Prepared>(std::move(prepared));
  }
  if (algo != kDefaultAlgo && !is_legacy_name(algo))
    return Status::Invalid("invalid --algo=" + algo +
                           ": cudnn knows default, <dir>.<ALGO>.<math> and engine<N>");
  auto prepared = std::make_unique<LegacyPrepared>(ctx_, p);
  CG_RETURN_IF_ERROR(ctx_->note(prepared->prepare(algo)));
  return std::unique_ptr<Prepared>(std::move(prepared));
}

void CudnnEngine::add_device_facts(std::map<std::string, std::string>* f) {
  int dev = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&prop, dev) != cudaSuccess) {
    cudaGetLastError();
    (*f)["device"] = "none";
    return;
  }
  (*f)["device"] = prop.name;
  (*f)["compute_capability"] = std::to_string(prop.major) + "." + std::to_string(prop.minor);
  (*f)["sm_count"] = std::to_string(prop.multiProcessorCount);
  (*f)["memory_mib"] = std::to_string(prop.totalGlobalMem >> 20);
  char uuid[40] = {};
  for (int i = 0; i < 16; ++i)
    std::snprintf(uuid + 2 * i, 3, "%02x", static_cast<unsigned char>(prop.uuid.bytes[i]));
  (*f)["device_uuid"] = uuid;
}

std::map<std::string, std::string> CudnnEngine::fingerprint() {
  std::map<std::string, std::string> f;
  f["engine"] = "cudnn";
  f["cudnn"] = version_text(cudnnGetVersion());
  f["cudnn_header"] = version_text(CUDNN_VERSION);
  f["cudnn_cudart"] = cuda_version_text(static_cast<int>(cudnnGetCudartVersion()));
  int v = 0;
  f["driver"] = cudaDriverGetVersion(&v) == cudaSuccess ? cuda_version_text(v) : "none";
  f["cuda_runtime"] = cudaRuntimeGetVersion(&v) == cudaSuccess ? cuda_version_text(v) : "none";
  if (ctx_ && ctx_->lost.ok()) add_device_facts(&f);
  f.merge(env_facts(current_env(), relevant_env));
  return f;
}

Status CudnnEngine::inject_hang() {
  if (!ctx_) {
    CG_RETURN_IF_ERROR(init());
  }
  if (!ctx_->lost.ok()) return ctx_->lost;
  // scratch[kMaxBands] is zeroed at init and never written: the kernel never ends.
  CG_RETURN_IF_ERROR(cuda_check(cuda::launch_spin(ctx_->scratch + cuda::kMaxBands, ctx_->stream),
                                "hang kernel launch"));
  return ctx_->note(cuda_check(cudaStreamSynchronize(ctx_->stream), "hang kernel"));
}

}  // namespace
}  // namespace cudnn

Result<std::unique_ptr<Engine>> make_cudnn_engine() {
  return std::unique_ptr<Engine>(std::make_unique<cudnn::CudnnEngine>());
}

}  // namespace convguard
