#include "engines/cudnn/cudnn_algos.h"


namespace convguard::cudnn {
namespace {

constexpr const char* kFwd[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                                "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
constexpr const char* kBwdData[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD",
                                    "WINOGRAD_NONFUSED"};
constexpr const char* kBwdFilter[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD",
                                      "WINOGRAD_NONFUSED", "FFT_TILING"};
constexpr cudnnMathType_t kMaths[] = {CUDNN_DEFAULT_MATH, CUDNN_TENSOR_OP_MATH, CUDNN_FMA_MATH};

static_assert(std::size(kFwd) == CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
static_assert(std::size(kBwdData) == CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
static_assert(std::size(kBwdFilter) == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);

const char* const* names_of(Op op) {
  switch (op) {
    case Op::fwd: return kFwd;
    case Op::bwd_data: return kBwdData;
    case Op::bwd_filter: break;
  }
  return kBwdFilter;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

Op op_of(Dir d) {
  switch (d) {
    case Dir::FWD_D:
    case Dir::FWD_B: return Op::fwd;
    case Dir::BWD_D: return Op::bwd_data;
    case Dir::BWD_W:
    case Dir::BWD_WB: break;
  }
  return Op::bwd_filter;
}

const char* to_string(Op op) {
  switch (op) {
    case Op::fwd: return "fwd";
    case Op::bwd_data: return "bwd_data";
    case Op::bwd_filter: break;
  }
  return "bwd_filter";
}

int algo_count(Op op) {
  switch (op) {
    case Op::fwd: return CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
    case Op::bwd_data: return CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
    case Op::bwd_filter: break;
  }
  return CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
}

const char* algo_enum_name(Op op, int algo) {
  return algo >= 0 && algo < algo_count(op) ? names_of(op)[algo] : "?";
}

const char* math_name(cudnnMathType_t m, DataType dt) {
  switch (m) {
    case CUDNN_TENSOR_OP_MATH:
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: return dt == DataType::f32 ? "tf32" : "tensor_op";
    case CUDNN_FMA_MATH: return "fma";
    default: return "default";
  }
}

std::string legacy_name(const LegacyAlgo& a, DataType dt) {
  return std::string(to_string(a.op)) + "." + algo_enum_name(a.op, a.algo) + "." +
         math_name(a.math, dt);
}

std::vector<std::string> legacy_names(const Problem& p) {
  std::vector<std::string> out;
  Op op = op_of(p.dir);
  for (int a = 0; a < algo_count(op); ++a)
    for (cudnnMathType_t m : kMaths) out.push_back(legacy_name({op, a, m}, p.dt));
  return out;
}

bool is_legacy_name(std::string_view name) {
  return starts_with(name, "fwd.") || starts_with(name, "bwd_data.") ||
         starts_with(name, "bwd_filter.");
}

Result<LegacyAlgo> parse_legacy(std::string_view name, const Problem& p) {
  auto bad = [&](const std::string& why) {
    return Status::Invalid("invalid --algo=" + std::string(name) + ": " + why);
  };
  Op op = op_of(p.dir);
  std::string prefix = std::string(to_string(op)) + ".";
  if (!starts_with(name, prefix)) return bad(std::string("expected ") + prefix + "* for " + to_string(p.dir));
  std::string_view rest = name.substr(prefix.size());
  size_t dot = rest.rfind('.');
  if (dot == std::string_view::npos) return bad("expected <dir>.<ALGO>.<math>");
  std::string_view algo = rest.substr(0, dot), math = rest.substr(dot + 1);
  LegacyAlgo out{op, -1, CUDNN_DEFAULT_MATH};
  for (int a = 0; a < algo_count(op); ++a)
    if (algo == names_of(op)[a]) out.algo = a;
  if (out.algo < 0) return bad("unknown algorithm " + std::string(algo));
  if (math == "tf32" || math == "tensor_op") out.math = CUDNN_TENSOR_OP_MATH;
  else if (math == "fma") out.math = CUDNN_FMA_MATH;
  else if (math != "default") return bad("unknown math mode " + std::string(math));
  return out;
}

AlgoClass legacy_class(const LegacyAlgo& a, DataType dt) {
  std::string_view n = algo_enum_name(a.op, a.algo);
  const bool tf32 = dt == DataType::f32 && a.math != CUDNN_FMA_MATH;
  if (starts_with(n, "WINOGRAD")) return tf32 ? AlgoClass::winograd_tf32 : AlgoClass::winograd;
  if (starts_with(n, "FFT")) return AlgoClass::fft;
  return tf32 ? AlgoClass::reduced : AlgoClass::exact;
}

AlgoClass engine_class(const std::vector<int>& notes, DataType dt) {
  bool reduced = false, fft = false, tf32 = false;
  AlgoClass winograd = AlgoClass::exact;  // exact: no Winograd note
  for (int n : notes) {
    switch (n) {
      case CUDNN_NUMERICAL_NOTE_FFT: fft = true; break;
      case CUDNN_NUMERICAL_NOTE_WINOGRAD:
        if (winograd == AlgoClass::exact) winograd = AlgoClass::winograd;
        break;
      case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_4x4: winograd = AlgoClass::winograd_4x4; break;
      case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_6x6: winograd = AlgoClass::winograd_6x6; break;
      case CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_13x13: winograd = AlgoClass::winograd_13x13; break;
      case CUDNN_NUMERICAL_NOTE_TENSOR_CORE: tf32 |= dt == DataType::f32; break;
      case CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS:
      case CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION: reduced = true; break;
      default: break;
    }
  }
  if (fft) return AlgoClass::fft;
  // A tile tells the growth; tensor cores on f32 data may round the products to TF32,
  // which the tile-unknown TF32 class covers.
  if (winograd != AlgoClass::exact) return tf32 ? AlgoClass::winograd_tf32 : winograd;
  return reduced || tf32 ? AlgoClass::reduced : AlgoClass::exact;
}

}  // namespace convguard::cudnn
