// convguard's own declarations of the parts of MIOpen's stable C API and of the HIP
// runtime that the miopen engine calls, and their loading at run time: no ROCm headers
// or libraries are needed to build. Values and signatures follow miopen.h (MIOpen 2.x and
// 3.x; the immediate-mode and Find calls have not changed since MIOpen 2.0) and
// hip_runtime_api.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "convguard/status.h"

namespace convguard::miopen {

extern "C" {
using miopenStatus_t = int;  // miopenStatusSuccess = 0
using miopenHandle_t = struct miopenHandle*;
using miopenTensorDescriptor_t = struct miopenTensorDescriptor*;
using miopenConvolutionDescriptor_t = struct miopenConvolutionDescriptor*;
using hipError_t = int;  // hipSuccess = 0

inline constexpr miopenStatus_t miopenStatusSuccess = 0;
inline constexpr miopenStatus_t miopenStatusNotImplemented = 6;
inline constexpr miopenStatus_t miopenStatusUnsupportedOp = 8;

enum miopenDataType_t { miopenHalf = 0, miopenFloat = 1, miopenBFloat16 = 5 };
enum miopenConvolutionMode_t { miopenConvolution = 0 };
enum miopenConvAlgorithm_t {
  miopenConvolutionAlgoGEMM = 0,
  miopenConvolutionAlgoDirect = 1,
  miopenConvolutionAlgoFFT = 2,
  miopenConvolutionAlgoWinograd = 3,
  miopenConvolutionAlgoImplicitGEMM = 5,
};
/// miopenConvolutionFindMode_t: Normal 1, Fast 2, Hybrid 3, DynamicHybrid 5.
enum miopenConvolutionFindMode_t { miopenFindNormal = 1, miopenFindFast = 2, miopenFindHybrid = 3 };

struct miopenConvSolution_t {
  float time;
  size_t workspace_size;
  uint64_t solution_id;
  miopenConvAlgorithm_t algorithm;
};
/// The union of the direction's algorithm enums, then time and workspace.
struct miopenConvAlgoPerf_t {
  int algo;
  float time;
  size_t memory;
};

enum hipMemcpyKind { hipMemcpyHostToDevice = 1, hipMemcpyDeviceToHost = 2 };
}  // extern "C"

/// The per-direction immediate-mode calls share one shape: (handle, A, B, conv, C, ...) with
/// A, B, C the direction's descriptors in MIOpen's order (forward: w, x, y; backward data:
/// dy, w, dx; backward weights: dy, x, dw).
using GetSolutionCountFn = miopenStatus_t (*)(miopenHandle_t, miopenTensorDescriptor_t,
                                              miopenTensorDescriptor_t,
                                              miopenConvolutionDescriptor_t,
                                              miopenTensorDescriptor_t, size_t*);
using GetSolutionFn = miopenStatus_t (*)(miopenHandle_t, miopenTensorDescriptor_t,
                                         miopenTensorDescriptor_t, miopenConvolutionDescriptor_t,
                                         miopenTensorDescriptor_t, size_t, size_t*,
                                         miopenConvSolution_t*);
using GetSolutionWorkspaceFn = miopenStatus_t (*)(miopenHandle_t, miopenTensorDescriptor_t,
                                                  miopenTensorDescriptor_t,
                                                  miopenConvolutionDescriptor_t,
                                                  miopenTensorDescriptor_t, uint64_t, size_t*);
using CompileSolutionFn = miopenStatus_t (*)(miopenHandle_t, miopenTensorDescriptor_t,
                                             miopenTensorDescriptor_t,
                                             miopenConvolutionDescriptor_t,
                                             miopenTensorDescriptor_t, uint64_t);
/// Immediate: (handle, descA, a, descB, b, conv, descC, c, workspace, size, solution_id).
using ImmediateFn = miopenStatus_t (*)(miopenHandle_t, miopenTensorDescriptor_t, const void*,
                                       miopenTensorDescriptor_t, const void*,
                                       miopenConvolutionDescriptor_t, miopenTensorDescriptor_t,
                                       void*, void*, size_t, uint64_t);
/// GetWorkSpaceSize for Find: the same descriptor order as the solution calls.
using FindWorkspaceFn = miopenStatus_t (*)(miopenHandle_t, miopenTensorDescriptor_t,
                                           miopenTensorDescriptor_t, miopenConvolutionDescriptor_t,
                                           miopenTensorDescriptor_t, size_t*);
/// miopenFind*Algorithm: (handle, descP, p, descQ, q, conv, descR, r, request, *returned,
/// perf, workspace, size, exhaustive), P, Q the inputs and R the output in the order the
/// direction's Find call takes them (forward: x, w, y; backward data: dy, w, dx; backward
/// weights: dy, x, dw).
using FindFn = miopenStatus_t (*)(miopenHandle_t, miopenTensorDescriptor_t, const void*,
                                  miopenTensorDescriptor_t, const void*,
                                  miopenConvolutionDescriptor_t, miopenTensorDescriptor_t, void*,
                                  int, int*, miopenConvAlgoPerf_t*, void*, size_t, bool);

/// One direction's calls.
struct DirectionCalls {
  GetSolutionCountFn count = nullptr;
  GetSolutionFn solutions = nullptr;
  GetSolutionWorkspaceFn workspace = nullptr;
  CompileSolutionFn compile = nullptr;
  ImmediateFn immediate = nullptr;
  FindWorkspaceFn find_workspace = nullptr;
  FindFn find = nullptr;
};

/// The loaded libraries: MIOpen and the HIP runtime, each with the calls convguard makes.
struct Api {
  void* miopen_lib = nullptr;
  void* hip_lib = nullptr;
  std::string miopen_path, hip_path;  ///< as dlopen was given them

  miopenStatus_t (*GetVersion)(size_t*, size_t*, size_t*) = nullptr;
  miopenStatus_t (*Create)(miopenHandle_t*) = nullptr;
  miopenStatus_t (*Destroy)(miopenHandle_t) = nullptr;
  const char* (*GetErrorString)(miopenStatus_t) = nullptr;
  miopenStatus_t (*CreateTensorDescriptor)(miopenTensorDescriptor_t*) = nullptr;
  miopenStatus_t (*SetTensorDescriptor)(miopenTensorDescriptor_t, miopenDataType_t, int, const int*,
                                        const int*) = nullptr;
  miopenStatus_t (*DestroyTensorDescriptor)(miopenTensorDescriptor_t) = nullptr;
  miopenStatus_t (*CreateConvolutionDescriptor)(miopenConvolutionDescriptor_t*) = nullptr;
  miopenStatus_t (*InitConvolutionNdDescriptor)(miopenConvolutionDescriptor_t, int, const int*,
                                                const int*, const int*,
                                                miopenConvolutionMode_t) = nullptr;
  miopenStatus_t (*SetConvolutionGroupCount)(miopenConvolutionDescriptor_t, int) = nullptr;
  miopenStatus_t (*DestroyConvolutionDescriptor)(miopenConvolutionDescriptor_t) = nullptr;
  /// Optional (internal before MIOpen 3.4, exported since 2.x): null where absent.
  miopenStatus_t (*SetConvolutionFindMode)(miopenConvolutionDescriptor_t,
                                           miopenConvolutionFindMode_t) = nullptr;
  DirectionCalls fwd, bwd_data, bwd_weights;
  /// y = alpha * y + alpha * b + beta * y (b: 1, k, 1, 1), as MIOpen adds a convolution's bias.
  miopenStatus_t (*ConvolutionForwardBias)(miopenHandle_t, const void*, miopenTensorDescriptor_t,
                                           const void*, const void*, miopenTensorDescriptor_t,
                                           void*) = nullptr;
  /// db = alpha * (dy summed over n, h, w) + beta * db.
  miopenStatus_t (*ConvolutionBackwardBias)(miopenHandle_t, const void*, miopenTensorDescriptor_t,
                                            const void*, const void*, miopenTensorDescriptor_t,
                                            void*) = nullptr;

  hipError_t (*hipGetDeviceCount)(int*) = nullptr;
  hipError_t (*hipSetDevice)(int) = nullptr;
  /// hipGetDevicePropertiesR0600 where the runtime has it (ROCm 6), else the older call.
  /// The struct's layout differs between them: only the name (offset 0) and gcnArchName
  /// (found by its "gfx" prefix) are read, from a generously sized buffer.
  hipError_t (*hipGetDeviceProperties)(void*, int) = nullptr;
  hipError_t (*hipRuntimeGetVersion)(int*) = nullptr;
  hipError_t (*hipDriverGetVersion)(int*) = nullptr;
  hipError_t (*hipMalloc)(void**, size_t) = nullptr;
  hipError_t (*hipFree)(void*) = nullptr;
  hipError_t (*hipMemcpy)(void*, const void*, size_t, hipMemcpyKind) = nullptr;
  hipError_t (*hipDeviceSynchronize)() = nullptr;
  const char* (*hipGetErrorString)(hipError_t) = nullptr;
};

/// Loads both libraries: $CONVGUARD_MIOPEN_LIB or libMIOpen.so.1 (then libMIOpen.so), and
/// $CONVGUARD_HIP_LIB or libamdhip64.so.6 (then .so.5, .so); then every required symbol.
/// Unsupported ("MIOpen not found: ...") naming the library or symbol that is missing, so
/// the engine reports itself unavailable.
/// The libraries stay loaded for the life of the process (MIOpen and HIP keep threads).
Result<std::shared_ptr<const Api>> load_api();

}  // namespace convguard::miopen
