#include "engines/cudnn/cudnn_backend.h"

#include <iterator>
#include <string>

namespace convguard::cudnn {
namespace {

Status set_attr(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
                cudnnBackendAttributeType_t type, int64_t count, const void* value,
                const char* what) {
  return cudnn_check(cudnnBackendSetAttribute(d, name, type, count, value),
                     std::string("cudnnBackendSetAttribute(") + what + ")", true);
}

Status finalize(const BackendDesc& d, const char* what) {
  return cudnn_check(cudnnBackendFinalize(d.get()),
                     std::string("cudnnBackendFinalize(") + what + ")", true);
}

// Strides of a packed 4-D tensor with canonical dims n (N, C, H, W order) in
// NCHW or NHWC memory order.
void strides_of(const int64_t n[4], bool nhwc, int64_t s[4]) {
  if (nhwc) {
    s[1] = 1, s[3] = n[1], s[2] = n[3] * n[1], s[0] = n[2] * n[3] * n[1];
  } else {
    s[3] = 1, s[2] = n[3], s[1] = n[2] * n[3], s[0] = n[1] * n[2] * n[3];
  }
}

Status make_tensor(BackendDesc* t, const int64_t dims[4], bool nhwc, cudnnDataType_t type,
                   int64_t uid) {
  CG_RETURN_IF_ERROR(t->create(CUDNN_BACKEND_TENSOR_DESCRIPTOR));
  int64_t strides[4];
  strides_of(dims, nhwc, strides);
  const int64_t alignment = 256;
  CG_RETURN_IF_ERROR(set_attr(t->get(), CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type,
                              "tensor type"));
  CG_RETURN_IF_ERROR(
      set_attr(t->get(), CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims, "tensor dims"));
  CG_RETURN_IF_ERROR(set_attr(t->get(), CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides,
                              "tensor strides"));
  CG_RETURN_IF_ERROR(
      set_attr(t->get(), CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid, "tensor uid"));
  CG_RETURN_IF_ERROR(set_attr(t->get(), CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1,
                              &alignment, "tensor alignment"));
  return finalize(*t, "tensor");
}

Status make_conv(BackendDesc* c, const Problem& p) {
  CG_RETURN_IF_ERROR(c->create(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR));
  const int64_t dims = 2;
  const cudnnDataType_t comp = CUDNN_DATA_FLOAT;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  const int64_t pre[2] = {p.ph, p.pw};
  // validate() admits only benchdnn's symmetric output size, so the padding after
  // equals the padding before (a stride remainder is dropped, as in the legacy API).
  const int64_t post[2] = {p.ph, p.pw};
  const int64_t dil[2] = {p.dh + 1, p.dw + 1}, stride[2] = {p.sh, p.sw};
  auto d = c->get();
  CG_RETURN_IF_ERROR(
      set_attr(d, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims, "conv dims"));
  CG_RETURN_IF_ERROR(
      set_attr(d, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp, "conv type"));
  CG_RETURN_IF_ERROR(set_attr(d, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1,
                              &mode, "conv mode"));
  CG_RETURN_IF_ERROR(
      set_attr(d, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pre, "pre padding"));
  CG_RETURN_IF_ERROR(
      set_attr(d, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, post, "post padding"));
  CG_RETURN_IF_ERROR(
      set_attr(d, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dil, "dilation"));
  CG_RETURN_IF_ERROR(
      set_attr(d, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, stride, "stride"));
  return finalize(*c, "convolution");
}

struct OpAttrs {
  cudnnBackendDescriptorType_t type;
  cudnnBackendAttributeName_t alpha, beta, conv, x, w, y;
};

OpAttrs op_attrs(Op op) {
  switch (op) {
    case Op::fwd:
      return {CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y};
    case Op::bwd_data:
      return {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY};
    case Op::bwd_filter: break;
  }
  return {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,
          CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY};
}

}  // namespace

BackendDesc::~BackendDesc() {
  if (d_) cudnnBackendDestroyDescriptor(d_);
}

Status BackendDesc::create(cudnnBackendDescriptorType_t type) {
  return cudnn_check(cudnnBackendCreateDescriptor(type, &d_), "cudnnBackendCreateDescriptor");
}

Status ConvGraph::build(cudnnHandle_t handle, const Problem& p) {
  const Dims d = dims_of(p);
  const bool nhwc = p.layout == Layout::nhwc;
  const cudnnDataType_t t = data_type(p.dt);
  CG_RETURN_IF_ERROR(make_tensor(&x_, d.x, nhwc, t, kUidX));
  CG_RETURN_IF_ERROR(make_tensor(&w_, d.w, nhwc, t, kUidW));
  CG_RETURN_IF_ERROR(make_tensor(&y_, d.y, nhwc, t, kUidY));
  CG_RETURN_IF_ERROR(make_conv(&conv_, p));
  const OpAttrs a = op_attrs(op_of(p.dir));
  CG_RETURN_IF_ERROR(op_.create(a.type));
  const float alpha = 1.f, beta = 0.f;
  cudnnBackendDescriptor_t conv = conv_.get(), x = x_.get(), w = w_.get(), y = y_.get();
  auto o = op_.get();
  CG_RETURN_IF_ERROR(set_attr(o, a.alpha, CUDNN_TYPE_FLOAT, 1, &alpha, "alpha"));
  CG_RETURN_IF_ERROR(set_attr(o, a.beta, CUDNN_TYPE_FLOAT, 1, &beta, "beta"));
  CG_RETURN_IF_ERROR(set_attr(o, a.conv, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv, "op conv"));
  CG_RETURN_IF_ERROR(set_attr(o, a.x, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x, "op x"));
  CG_RETURN_IF_ERROR(set_attr(o, a.w, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &w, "op w"));
  CG_RETURN_IF_ERROR(set_attr(o, a.y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y, "op y"));
  CG_RETURN_IF_ERROR(finalize(op_, "operation"));
  CG_RETURN_IF_ERROR(graph_.create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR));
  CG_RETURN_IF_ERROR(set_attr(graph_.get(), CUDNN_ATTR_OPERATIONGRAPH_OPS,
                              CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &o, "graph ops"));
  CG_RETURN_IF_ERROR(set_attr(graph_.get(), CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1,
                              &handle, "graph handle"));
  return finalize(graph_, "operation graph");
}

Result<int64_t> ConvGraph::engine_count() const {
  int64_t count = 0, n = 0;
  Status s = cudnn_check(cudnnBackendGetAttribute(graph_.get(),
                                                  CUDNN_ATTR_OPERATIONGRAPH_ENGINE_GLOBAL_COUNT,
                                                  CUDNN_TYPE_INT64, 1, &n, &count),
                         "engine count");
  if (!s.ok()) return s;
  return count;
}

namespace {

Status make_engine(BackendDesc* e, cudnnBackendDescriptor_t graph, int64_t index) {
  CG_RETURN_IF_ERROR(e->create(CUDNN_BACKEND_ENGINE_DESCRIPTOR));
  CG_RETURN_IF_ERROR(set_attr(e->get(), CUDNN_ATTR_ENGINE_OPERATION_GRAPH,
                              CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph, "engine graph"));
  CG_RETURN_IF_ERROR(set_attr(e->get(), CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &index,
                              "engine index"));
  return finalize(*e, "engine");
}

}  // namespace

Result<std::vector<int>> list_engines(cudnnHandle_t handle, const Problem& p) {
  ConvGraph graph;
  Status s = graph.build(handle, p);
  if (s.code() == Code::kUnsupported) return std::vector<int>{};
  if (!s.ok()) return s;
  auto count = graph.engine_count();
  if (!count.ok()) return count.status();
  std::vector<int> out;
  for (int64_t i = 0; i < *count; ++i) {
    BackendDesc e;
    Status es = make_engine(&e, graph.graph(), i);
    if (es.ok()) out.push_back(static_cast<int>(i));
    else if (es.code() == Code::kDeviceLost) return es;
  }
  return out;
}

namespace {

std::vector<int> read_notes(const BackendDesc& engine) {
  std::vector<int> notes;
  cudnnBackendNumericalNote_t raw[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  int64_t n = 0;
  if (cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_NUMERICAL_NOTE,
                               CUDNN_TYPE_NUMERICAL_NOTE, CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &n,
                               raw) == CUDNN_STATUS_SUCCESS)
    for (int64_t i = 0; i < n && i < CUDNN_NUMERICAL_NOTE_TYPE_COUNT; ++i)
      notes.push_back(static_cast<int>(raw[i]));
  return notes;
}

}  // namespace

Result<std::vector<int>> engine_notes(const Problem& p, int index) {
  cudnnHandle_t handle = nullptr;
  Status s = cudnn_check(cudnnCreate(&handle), "cudnnCreate");
  if (!s.ok()) return s;
  std::vector<int> notes;
  {
    ConvGraph graph;
    BackendDesc engine;
    s = graph.build(handle, p);
    if (s.ok()) s = make_engine(&engine, graph.graph(), index);
    if (s.ok()) notes = read_notes(engine);
  }
  cudnnDestroy(handle);
  if (!s.ok()) return s;
  return notes;
}

std::string notes_text(const std::vector<int>& notes) {
  static const char* const kNames[] = {"TENSOR_CORE", "DOWN_CONVERT_INPUTS",
                                       "REDUCED_PRECISION_REDUCTION", "FFT", "NONDETERMINISTIC",
                                       "WINOGRAD", "WINOGRAD_TILE_4x4", "WINOGRAD_TILE_6x6",
                                       "WINOGRAD_TILE_13x13", "STRICT_NAN_PROP"};
  std::string out;
  for (int n : notes) {
    if (!out.empty()) out += ",";
    out += n >= 0 && n < int(std::size(kNames)) ? kNames[n] : std::to_string(n);
  }
  return out;
}

Status BackendPrepared::build_plan(int index, std::vector<int>* notes) {
  CG_RETURN_IF_ERROR(make_engine(&engine_, graph_.graph(), index));
  *notes = read_notes(engine_);
  auto e = engine_.get();
  CG_RETURN_IF_ERROR(config_.create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
  CG_RETURN_IF_ERROR(set_attr(config_.get(), CUDNN_ATTR_ENGINECFG_ENGINE,
                              CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &e, "config engine"));
  CG_RETURN_IF_ERROR(finalize(config_, "engine config"));
  auto c = config_.get();
  cudnnHandle_t h = ctx_->handle;
  CG_RETURN_IF_ERROR(plan_.create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR));
  CG_RETURN_IF_ERROR(set_attr(plan_.get(), CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1,
                              &h, "plan handle"));
  CG_RETURN_IF_ERROR(set_attr(plan_.get(), CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                              CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &c, "plan config"));
  return finalize(plan_, "execution plan");
}

Status BackendPrepared::build_variant_pack() {
  ptrs_[0] = x_.data(), ptrs_[1] = w_.data(), ptrs_[2] = y_.data();
  void* ws = ws_.data();
  CG_RETURN_IF_ERROR(pack_.create(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR));
  CG_RETURN_IF_ERROR(set_attr(pack_.get(), CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS,
                              CUDNN_TYPE_VOID_PTR, 3, ptrs_, "pack pointers"));
  CG_RETURN_IF_ERROR(set_attr(pack_.get(), CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3,
                              uids_, "pack uids"));
  CG_RETURN_IF_ERROR(set_attr(pack_.get(), CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR,
                              1, &ws, "pack workspace"));
  return finalize(pack_, "variant pack");
}

Status BackendPrepared::prepare(int index) {
  // The legacy descriptors serve the bias steps; the legacy API's symmetric-padding
  // limit does not apply to the backend graph, so only FWD_B/BWD_WB need them.
  if (p_.has_bias()) {
    CG_RETURN_IF_ERROR(build_descriptors());
  }
  CG_RETURN_IF_ERROR(graph_.build(ctx_->handle, p_));
  std::vector<int> notes;
  CG_RETURN_IF_ERROR(build_plan(index, &notes));
  set_algo(engine_name(index), engine_class(notes, p_.dt));
  int64_t ws = 0, n = 0;
  CG_RETURN_IF_ERROR(
      cudnn_check(cudnnBackendGetAttribute(plan_.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                           CUDNN_TYPE_INT64, 1, &n, &ws),
                  "plan workspace size"));
  CG_RETURN_IF_ERROR(allocate(static_cast<size_t>(ws)));
  return build_variant_pack();
}

Status BackendPrepared::launch() {
  return cudnn_check(cudnnBackendExecute(ctx_->handle, plan_.get(), pack_.get()),
                     "cudnnBackendExecute(" + algo() + ")");
}

}  // namespace convguard::cudnn
