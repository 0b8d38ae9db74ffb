// The legacy convolution API (cudnnConvolutionForward and friends) with one
// algorithm and math mode.
#include "engines/cudnn/cudnn_prepared.h"

namespace convguard::cudnn {
namespace {

template <class Perf>
Result<LegacyAlgo> first_success(Op op, const Perf* perf, int n, const char* what) {
  for (int i = 0; i < n; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS)
      return LegacyAlgo{op, static_cast<int>(perf[i].algo), perf[i].mathType};
  return Status::Unsupported(std::string(what) + " found no usable algorithm");
}

}  // namespace

Result<LegacyAlgo> LegacyPrepared::heuristic_choice() {
  constexpr int kMax = 16;
  int n = 0;
  const cudnnHandle_t h = ctx_->handle;
  switch (op_of(p_.dir)) {
    case Op::fwd: {
      cudnnConvolutionFwdAlgoPerf_t perf[kMax];
      CG_RETURN_IF_ERROR(cudnn_check(cudnnGetConvolutionForwardAlgorithm_v7(
                                         h, desc_.x, desc_.w, desc_.conv, desc_.y, kMax, &n, perf),
                                     "cudnnGetConvolutionForwardAlgorithm_v7", true));
      return first_success(Op::fwd, perf, n, "cudnnGetConvolutionForwardAlgorithm_v7");
    }
    case Op::bwd_data: {
      cudnnConvolutionBwdDataAlgoPerf_t perf[kMax];
      CG_RETURN_IF_ERROR(cudnn_check(cudnnGetConvolutionBackwardDataAlgorithm_v7(
                                         h, desc_.w, desc_.y, desc_.conv, desc_.x, kMax, &n, perf),
                                     "cudnnGetConvolutionBackwardDataAlgorithm_v7", true));
      return first_success(Op::bwd_data, perf, n, "cudnnGetConvolutionBackwardDataAlgorithm_v7");
    }
    case Op::bwd_filter: break;
  }
  cudnnConvolutionBwdFilterAlgoPerf_t perf[kMax];
  CG_RETURN_IF_ERROR(cudnn_check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                                     h, desc_.x, desc_.y, desc_.conv, desc_.w, kMax, &n, perf),
                                 "cudnnGetConvolutionBackwardFilterAlgorithm_v7", true));
  return first_success(Op::bwd_filter, perf, n, "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
}

Result<size_t> LegacyPrepared::workspace_size() {
  size_t bytes = 0;
  const cudnnHandle_t h = ctx_->handle;
  const LegacyAlgo& a = algo_choice_;
  Status s;
  switch (a.op) {
    case Op::fwd:
      s = cudnn_check(cudnnGetConvolutionForwardWorkspaceSize(
                          h, desc_.x, desc_.w, desc_.conv, desc_.y,
                          static_cast<cudnnConvolutionFwdAlgo_t>(a.algo), &bytes),
                      "cudnnGetConvolutionForwardWorkspaceSize", true);
      break;
    case Op::bwd_data:
      s = cudnn_check(cudnnGetConvolutionBackwardDataWorkspaceSize(
                          h, desc_.w, desc_.y, desc_.conv, desc_.x,
                          static_cast<cudnnConvolutionBwdDataAlgo_t>(a.algo), &bytes),
                      "cudnnGetConvolutionBackwardDataWorkspaceSize", true);
      break;
    case Op::bwd_filter:
      s = cudnn_check(cudnnGetConvolutionBackwardFilterWorkspaceSize(
                          h, desc_.x, desc_.y, desc_.conv, desc_.w,
                          static_cast<cudnnConvolutionBwdFilterAlgo_t>(a.algo), &bytes),
                      "cudnnGetConvolutionBackwardFilterWorkspaceSize", true);
      break;
  }
  if (!s.ok()) return s;
  return bytes;
}

Status LegacyPrepared::prepare(const std::string& algo) {
  CG_RETURN_IF_ERROR(build_descriptors());
  if (algo == kDefaultAlgo) {
    auto choice = heuristic_choice();
    if (!choice.ok()) return choice.status();
    algo_choice_ = *choice;
  } else {
    auto parsed = parse_legacy(algo, p_);
    if (!parsed.ok()) return parsed.status();
    algo_choice_ = *parsed;
  }
  set_algo(legacy_name(algo_choice_, p_.dt), legacy_class(algo_choice_, p_.dt));
  CG_RETURN_IF_ERROR(cudnn_check(cudnnSetConvolutionMathType(desc_.conv, algo_choice_.math),
                                 "cudnnSetConvolutionMathType", true));
  auto ws = workspace_size();
  if (!ws.ok()) return ws.status();
  return allocate(*ws);
}

Status LegacyPrepared::launch() {
  const float one = 1.f, zero = 0.f;
  const cudnnHandle_t h = ctx_->handle;
  const LegacyAlgo& a = algo_choice_;
  switch (a.op) {
    case Op::fwd:
      return cudnn_check(
          cudnnConvolutionForward(h, &one, desc_.x, x_.data(), desc_.w, w_.data(), desc_.conv,
                                  static_cast<cudnnConvolutionFwdAlgo_t>(a.algo), ws_.data(),
                                  ws_.bytes(), &zero, desc_.y, y_.data()),
          "cudnnConvolutionForward");
    case Op::bwd_data:
      return cudnn_check(
          cudnnConvolutionBackwardData(h, &one, desc_.w, w_.data(), desc_.y, y_.data(),
                                       desc_.conv,
                                       static_cast<cudnnConvolutionBwdDataAlgo_t>(a.algo),
                                       ws_.data(), ws_.bytes(), &zero, desc_.x, x_.data()),
          "cudnnConvolutionBackwardData");
    case Op::bwd_filter: break;
  }
  return cudnn_check(
      cudnnConvolutionBackwardFilter(h, &one, desc_.x, x_.data(), desc_.y, y_.data(), desc_.conv,
                                     static_cast<cudnnConvolutionBwdFilterAlgo_t>(a.algo),
                                     ws_.data(), ws_.bytes(), &zero, desc_.w, w_.data()),
      "cudnnConvolutionBackwardFilter");
}

}  // namespace convguard::cudnn
