// dlopen of MIOpen and the HIP runtime, and dlsym of every call the engine makes.
#include "engines/miopen/miopen_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <initializer_list>
#include <mutex>

namespace convguard::miopen {
namespace {

// The first of `names` that loads; `why` collects each dlerror otherwise.
void* open_first(std::initializer_list<std::string> names, std::string* path, std::string* why) {
  for (const std::string& n : names) {
    if (void* h = ::dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      *path = n;
      return h;
    }
    const char* e = ::dlerror();
    *why += (why->empty() ? "" : "; ") + std::string(e ? e : n + ": not loadable");
  }
  return nullptr;
}

// Resolves symbol `name` of `lib` into `fn`; records the first missing one in `missing`.
template <class Fn>
void bind(void* lib, const char* name, Fn& fn, std::string* missing) {
  fn = reinterpret_cast<Fn>(::dlsym(lib, name));
  if (!fn && missing->empty()) *missing = name;
}

void bind_direction(void* lib, const std::string& stem, const char* find_name, DirectionCalls& d,
                    std::string* missing) {
  const std::string p = "miopenConvolution" + stem;
  bind(lib, (p + "GetSolutionCount").c_str(), d.count, missing);
  bind(lib, (p + "GetSolution").c_str(), d.solutions, missing);
  bind(lib, (p + "GetSolutionWorkspaceSize").c_str(), d.workspace, missing);
  bind(lib, (p + "CompileSolution").c_str(), d.compile, missing);
  bind(lib, (p + "Immediate").c_str(), d.immediate, missing);
  bind(lib, (p + "GetWorkSpaceSize").c_str(), d.find_workspace, missing);
  bind(lib, find_name, d.find, missing);
}

Status bind_miopen(Api& a) {
  std::string missing;
  void* l = a.miopen_lib;
  bind(l, "miopenGetVersion", a.GetVersion, &missing);
  bind(l, "miopenCreate", a.Create, &missing);
  bind(l, "miopenDestroy", a.Destroy, &missing);
  bind(l, "miopenGetErrorString", a.GetErrorString, &missing);
  bind(l, "miopenCreateTensorDescriptor", a.CreateTensorDescriptor, &missing);
  bind(l, "miopenSetTensorDescriptor", a.SetTensorDescriptor, &missing);
  bind(l, "miopenDestroyTensorDescriptor", a.DestroyTensorDescriptor, &missing);
  bind(l, "miopenCreateConvolutionDescriptor", a.CreateConvolutionDescriptor, &missing);
  bind(l, "miopenInitConvolutionNdDescriptor", a.InitConvolutionNdDescriptor, &missing);
  bind(l, "miopenSetConvolutionGroupCount", a.SetConvolutionGroupCount, &missing);
  bind(l, "miopenDestroyConvolutionDescriptor", a.DestroyConvolutionDescriptor, &missing);
  bind_direction(l, "Forward", "miopenFindConvolutionForwardAlgorithm", a.fwd, &missing);
  bind_direction(l, "BackwardData", "miopenFindConvolutionBackwardDataAlgorithm", a.bwd_data,
                 &missing);
  bind_direction(l, "BackwardWeights", "miopenFindConvolutionBackwardWeightsAlgorithm",
                 a.bwd_weights, &missing);
  bind(l, "miopenConvolutionForwardBias", a.ConvolutionForwardBias, &missing);
  bind(l, "miopenConvolutionBackwardBias", a.ConvolutionBackwardBias, &missing);
  if (!missing.empty())
    return Status::Unsupported("MIOpen not usable: " + a.miopen_path + " has no " + missing);
  std::string optional;
  bind(l, "miopenSetConvolutionFindMode", a.SetConvolutionFindMode, &optional);
  return Status::Ok();
}

Status bind_hip(Api& a) {
  std::string missing;
  void* l = a.hip_lib;
  bind(l, "hipGetDeviceCount", a.hipGetDeviceCount, &missing);
  bind(l, "hipSetDevice", a.hipSetDevice, &missing);
  std::string absent;
  bind(l, "hipGetDevicePropertiesR0600", a.hipGetDeviceProperties, &absent);
  if (!a.hipGetDeviceProperties)
    bind(l, "hipGetDeviceProperties", a.hipGetDeviceProperties, &missing);
  bind(l, "hipRuntimeGetVersion", a.hipRuntimeGetVersion, &missing);
  bind(l, "hipDriverGetVersion", a.hipDriverGetVersion, &missing);
  bind(l, "hipMalloc", a.hipMalloc, &missing);
  bind(l, "hipFree", a.hipFree, &missing);
  bind(l, "hipMemcpy", a.hipMemcpy, &missing);
  bind(l, "hipDeviceSynchronize", a.hipDeviceSynchronize, &missing);
  bind(l, "hipGetErrorString", a.hipGetErrorString, &missing);
  if (!missing.empty())
    return Status::Unsupported("HIP runtime not usable: " + a.hip_path + " has no " + missing);
  return Status::Ok();
}

Result<std::shared_ptr<const Api>> load_once() {
  auto a = std::make_shared<Api>();
  std::string why;
  // HIP first: MIOpen links it, and the copy loaded here is then the one MIOpen uses.
  const char* hip_env = std::getenv("CONVGUARD_HIP_LIB");
  a->hip_lib = hip_env && *hip_env
                   ? open_first({hip_env}, &a->hip_path, &why)
                   : open_first({"libamdhip64.so.6", "libamdhip64.so.5", "libamdhip64.so"},
                                &a->hip_path, &why);
  if (!a->hip_lib) return Status::Unsupported("HIP runtime not found: " + why);
  CG_RETURN_IF_ERROR(bind_hip(*a));
  why.clear();
  const char* mio_env = std::getenv("CONVGUARD_MIOPEN_LIB");
  a->miopen_lib = mio_env && *mio_env
                      ? open_first({mio_env}, &a->miopen_path, &why)
                      : open_first({"libMIOpen.so.1", "libMIOpen.so"}, &a->miopen_path, &why);
  if (!a->miopen_lib) return Status::Unsupported("MIOpen not found: " + why);
  CG_RETURN_IF_ERROR(bind_miopen(*a));
  return std::shared_ptr<const Api>(std::move(a));
}

}  // namespace

Result<std::shared_ptr<const Api>> load_api() {
  // Once per process: a failed load is not retried (the environment does not change).
  static std::once_flag once;
  static Result<std::shared_ptr<const Api>> loaded = Status::Error("not loaded");
  std::call_once(once, [] { loaded = load_once(); });
  return loaded;
}

}  // namespace convguard::miopen
