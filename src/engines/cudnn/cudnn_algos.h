// The cuDNN engine's algorithm names: the legacy algorithm enums crossed with the
// math modes, the backend API's engines, and their accuracy classes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <cudnn.h>

#include "convguard/engine.h"
#include "convguard/problem.h"
#include "convguard/status.h"
#include "engines/cudnn/cudnn_engine_names.h"

namespace convguard::cudnn {

/// The cuDNN operation a direction runs (bias is added around it).
enum class Op { fwd, bwd_data, bwd_filter };
Op op_of(Dir d);
const char* to_string(Op op);

/// One legacy algorithm with its math mode. `algo` holds the value of the op's enum
/// (cudnnConvolutionFwdAlgo_t, ...Bwd{Data,Filter}Algo_t).
struct LegacyAlgo {
  Op op = Op::fwd;
  int algo = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

/// Name of the enum value without its prefix ("IMPLICIT_PRECOMP_GEMM", "ALGO_1").
const char* algo_enum_name(Op op, int algo);
/// Enum values of the op, in enum order.
int algo_count(Op op);
/// "default", "tf32" (f32) / "tensor_op" (f16, bf16), "fma".
const char* math_name(cudnnMathType_t m, DataType dt);

/// "fwd.IMPLICIT_PRECOMP_GEMM.tf32".
std::string legacy_name(const LegacyAlgo& a, DataType dt);
/// Every legacy name for p's direction: each algorithm with each math mode.
std::vector<std::string> legacy_names(const Problem& p);
/// Parses a legacy name for p. Invalid for an unknown name or one of another
/// direction; "tf32" and "tensor_op" are accepted for every data type.
Result<LegacyAlgo> parse_legacy(std::string_view name, const Problem& p);
bool is_legacy_name(std::string_view name);

/// FFT* -> fft; WINOGRAD* -> winograd, or winograd_tf32 where TF32 is permitted (f32
/// with tensor-op or default math, on Ampere and later); the others -> reduced where
/// TF32 is permitted, else exact.
AlgoClass legacy_class(const LegacyAlgo& a, DataType dt);

/// Class from a backend engine's numerical notes (cudnnBackendNumericalNote_t values).
AlgoClass engine_class(const std::vector<int>& notes, DataType dt);

}  // namespace convguard::cudnn
