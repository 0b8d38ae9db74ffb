#include "engines/cudnn/cudnn_prepared.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <vector>

namespace convguard::cudnn {
namespace {
std::atomic<int64_t> g_test_overrun{0};
}  // namespace

void set_test_overrun(int64_t bytes) { g_test_overrun = bytes; }

Dims dims_of(const Problem& p) {
  return Dims{{p.mb, p.ic, p.ih, p.iw},
              {p.oc, p.ic / p.g, p.kh, p.kw},
              {p.mb, p.oc, p.oh, p.ow},
              {1, p.oc, 1, 1}};
}

cudnnDataType_t data_type(DataType dt) {
  switch (dt) {
    case DataType::f16: return CUDNN_DATA_HALF;
    case DataType::bf16: return CUDNN_DATA_BFLOAT16;
    case DataType::f32: break;
  }
  return CUDNN_DATA_FLOAT;
}

Descriptors::~Descriptors() {
  if (x) cudnnDestroyTensorDescriptor(x);
  if (y) cudnnDestroyTensorDescriptor(y);
  if (b) cudnnDestroyTensorDescriptor(b);
  if (w) cudnnDestroyFilterDescriptor(w);
  if (conv) cudnnDestroyConvolutionDescriptor(conv);
}

namespace {

Status check_int_range(const Problem& p) {
  for (int64_t v : {p.mb, p.ic, p.ih, p.iw, p.oc, p.oh, p.ow, p.src_elems(), p.dst_elems(),
                    p.wei_elems()})
    if (v > INT_MAX) return Status::Unsupported("legacy cuDNN API: a size over INT_MAX");
  return Status::Ok();
}

Status set_tensor(cudnnTensorDescriptor_t d, const int64_t n[4], cudnnTensorFormat_t f,
                  cudnnDataType_t t, const char* what) {
  return cudnn_check(cudnnSetTensor4dDescriptor(d, f, t, int(n[0]), int(n[1]), int(n[2]),
                                                int(n[3])),
                     std::string("cudnnSetTensor4dDescriptor(") + what + ")", true);
}

Status set_conv(cudnnConvolutionDescriptor_t conv, const Problem& p) {
  CG_RETURN_IF_ERROR(
      cudnn_check(cudnnSetConvolution2dDescriptor(conv, int(p.ph), int(p.pw), int(p.sh), int(p.sw),
                                                  int(p.dh + 1), int(p.dw + 1),
                                                  CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                  "cudnnSetConvolution2dDescriptor", true));
  return cudnn_check(cudnnSetConvolutionGroupCount(conv, int(p.g)),
                     "cudnnSetConvolutionGroupCount", true);
}

}  // namespace

Status Descriptors::build(const Problem& p) {
  CG_RETURN_IF_ERROR(check_int_range(p));
  const Dims d = dims_of(p);
  const cudnnDataType_t t = data_type(p.dt);
  const cudnnTensorFormat_t f = p.layout == Layout::nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
  for (auto* desc : {&x, &y, &b})
    CG_RETURN_IF_ERROR(cudnn_check(cudnnCreateTensorDescriptor(desc), "cudnnCreateTensorDescriptor"));
  CG_RETURN_IF_ERROR(cudnn_check(cudnnCreateFilterDescriptor(&w), "cudnnCreateFilterDescriptor"));
  CG_RETURN_IF_ERROR(
      cudnn_check(cudnnCreateConvolutionDescriptor(&conv), "cudnnCreateConvolutionDescriptor"));
  CG_RETURN_IF_ERROR(set_tensor(x, d.x, f, t, "x"));
  CG_RETURN_IF_ERROR(set_tensor(y, d.y, f, t, "y"));
  CG_RETURN_IF_ERROR(set_tensor(b, d.b, CUDNN_TENSOR_NCHW, t, "bias"));
  CG_RETURN_IF_ERROR(cudnn_check(
      cudnnSetFilter4dDescriptor(w, t, f, int(d.w[0]), int(d.w[1]), int(d.w[2]), int(d.w[3])),
      "cudnnSetFilter4dDescriptor", true));
  CG_RETURN_IF_ERROR(set_conv(conv, p));
  int n = 0, c = 0, h = 0, wd = 0;
  CG_RETURN_IF_ERROR(cudnn_check(cudnnGetConvolution2dForwardOutputDim(conv, x, w, &n, &c, &h, &wd),
                                 "cudnnGetConvolution2dForwardOutputDim", true));
  if (n != p.mb || c != p.oc || h != p.oh || wd != p.ow)
    return Status::Unsupported("legacy cuDNN API computes output " + std::to_string(h) + "x" +
                               std::to_string(wd) + " (symmetric padding only), problem has " +
                               std::to_string(p.oh) + "x" + std::to_string(p.ow));
  return Status::Ok();
}

size_t workspace_limit() { return size_t{8} << 30; }

ConvPrepared::ConvPrepared(std::shared_ptr<Context> ctx, const Problem& p)
    : ctx_(std::move(ctx)), p_(p) {}

void ConvPrepared::set_algo(std::string name, AlgoClass cls) {
  algo_ = std::move(name);
  class_ = cls;
}

Status ConvPrepared::allocate(size_t workspace) {
  if (workspace > workspace_limit())
    return Status::Unsupported("workspace of " + std::to_string(workspace >> 20) +
                               " MiB is over the engine's limit of " +
                               std::to_string(workspace_limit() >> 20) + " MiB");
  const size_t e = static_cast<size_t>(dt_size(p_.dt));
  CG_RETURN_IF_ERROR(x_.allocate(ctx_.get(), e * size_t(p_.src_elems()), "src"));
  CG_RETURN_IF_ERROR(w_.allocate(ctx_.get(), e * size_t(p_.wei_elems()), "wei"));
  CG_RETURN_IF_ERROR(y_.allocate(ctx_.get(), e * size_t(p_.dst_elems()), "dst"));
  if (p_.has_bias()) {
    CG_RETURN_IF_ERROR(b_.allocate(ctx_.get(), e * size_t(p_.oc), "bia"));
  }
  return ws_.allocate(ctx_.get(), workspace, "workspace");
}

GuardedBuffer& ConvPrepared::buffer(Arg a) {
  switch (a) {
    case Arg::src: return x_;
    case Arg::wei: return w_;
    case Arg::bia: return b_;
    case Arg::dst: break;
  }
  return y_;
}

std::vector<const GuardedBuffer*> ConvPrepared::all_buffers() const {
  std::vector<const GuardedBuffer*> v{&x_, &w_, &y_, &ws_};
  if (p_.has_bias()) v.push_back(&b_);
  return v;
}

namespace {
const int64_t* dims_for(const Dims& d, Arg a) {
  switch (a) {
    case Arg::src: return d.x;
    case Arg::wei: return d.w;
    case Arg::bia: return d.b;
    case Arg::dst: break;
  }
  return d.y;
}
}  // namespace

Status ConvPrepared::upload(const ConvTensors& t) {
  const Dims d = dims_of(p_);
  for (Arg a : inputs_of(p_.dir)) {
    const std::vector<float>& host = tensor(t, a);
    if (static_cast<int64_t>(host.size()) != elems(p_, a))
      return Status::Invalid(std::string("invalid ") + to_string(a) + " size " +
                             std::to_string(host.size()));
    auto bytes = pack(host, dims_for(d, a), p_.layout == Layout::nhwc && a != Arg::bia, p_.dt);
    CG_RETURN_IF_ERROR(
        ctx_->note(cuda_check(cudaMemcpyAsync(buffer(a).data(), bytes.data(), bytes.size(),
                                              cudaMemcpyHostToDevice, ctx_->stream),
                              std::string("upload ") + to_string(a))));
    // The host bytes die with this scope: wait for the copy.
    CG_RETURN_IF_ERROR(ctx_->note(cuda_check(cudaStreamSynchronize(ctx_->stream), "upload sync")));
  }
  return Status::Ok();
}

Status ConvPrepared::download(ConvTensors& t) {
  const Dims d = dims_of(p_);
  for (Arg a : outputs_of(p_.dir)) {
    std::vector<unsigned char> bytes(buffer(a).bytes());
    CG_RETURN_IF_ERROR(
        ctx_->note(cuda_check(cudaMemcpyAsync(bytes.data(), buffer(a).data(), bytes.size(),
                                              cudaMemcpyDeviceToHost, ctx_->stream),
                              std::string("download ") + to_string(a))));
    CG_RETURN_IF_ERROR(ctx_->note(cuda_check(cudaStreamSynchronize(ctx_->stream), "download sync")));
    unpack(bytes, dims_for(d, a), p_.layout == Layout::nhwc && a != Arg::bia, p_.dt,
           &tensor(t, a));
  }
  return Status::Ok();
}

Status ConvPrepared::poison_outputs() {
  // 0xFF bytes are NaN in f32, f16 and bf16 alike.
  for (Arg a : outputs_of(p_.dir))
    CG_RETURN_IF_ERROR(ctx_->note(cuda_check(
        cudaMemsetAsync(buffer(a).data(), 0xFF, buffer(a).bytes(), ctx_->stream), "poison")));
  return Status::Ok();
}

Status ConvPrepared::launch_with_bias() {
  CG_RETURN_IF_ERROR(launch());
  const float one = 1.f, zero = 0.f;
  if (p_.dir == Dir::FWD_B)
    return cudnn_check(cudnnAddTensor(ctx_->handle, &one, desc_.b, b_.data(), &one, desc_.y,
                                      y_.data()),
                       "cudnnAddTensor(bias)");
  if (p_.dir == Dir::BWD_WB)
    return cudnn_check(cudnnConvolutionBackwardBias(ctx_->handle, &one, desc_.y, y_.data(), &zero,
                                                    desc_.b, b_.data()),
                       "cudnnConvolutionBackwardBias");
  return Status::Ok();
}

Result<float> ConvPrepared::timed_run() {
  cudaEvent_t ev[2] = {nullptr, nullptr};
  Status s = cuda_check(cudaEventCreate(&ev[0]), "cudaEventCreate");
  if (s.ok()) s = cuda_check(cudaEventCreate(&ev[1]), "cudaEventCreate");
  if (s.ok()) s = poison_outputs();
  if (s.ok()) s = cuda_check(cudaEventRecord(ev[0], ctx_->stream), "cudaEventRecord");
  if (s.ok()) s = launch_with_bias();
  if (s.ok()) s = cuda_check(cudaEventRecord(ev[1], ctx_->stream), "cudaEventRecord");
  if (s.ok()) s = cuda_check(cudaEventSynchronize(ev[1]), "execution");
  float ms = 0;
  if (s.ok()) s = cuda_check(cudaEventElapsedTime(&ms, ev[0], ev[1]), "cudaEventElapsedTime");
  for (cudaEvent_t e : ev)
    if (e) cudaEventDestroy(e);
  if (!s.ok()) return ctx_->note(s);
  return ms;
}

Result<double> ConvPrepared::execute(ConvTensors& t, const ExecOptions& opt) {
  if (!ctx_->lost.ok()) return ctx_->lost;
  resize_for(p_, t);
  CG_RETURN_IF_ERROR(upload(t));
  const auto buffers = all_buffers();
  CG_RETURN_IF_ERROR(fill_bands(ctx_.get(), buffers));
  std::vector<float> times;
  const int runs = std::max(0, opt.warmup) + std::max(1, opt.repeats);
  for (int i = 0; i < runs; ++i) {
    auto ms = timed_run();
    if (!ms.ok()) return ms.status();
    if (i >= std::max(0, opt.warmup)) times.push_back(*ms);
  }
  if (int64_t over = g_test_overrun.load(); over > 0) {
    GuardedBuffer& out = buffer(outputs_of(p_.dir).front());
    CG_RETURN_IF_ERROR(cuda_check(
        cuda::launch_overrun(static_cast<char*>(out.data()) + out.bytes(), over, ctx_->stream),
        "test overrun"));
  }
  // A sticky error from any kernel shows here; it outranks a band change.
  CG_RETURN_IF_ERROR(ctx_->note(cuda_check(cudaStreamSynchronize(ctx_->stream), "execution")));
  CG_RETURN_IF_ERROR(ctx_->note(cuda_check(cudaGetLastError(), "execution")));
  CG_RETURN_IF_ERROR(check_bands(ctx_.get(), buffers));
  CG_RETURN_IF_ERROR(download(t));
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return static_cast<double>(times[times.size() / 2]);
}

}  // namespace convguard::cudnn
