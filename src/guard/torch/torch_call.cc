#include "guard/torch/torch_call.h"

#include <string>

namespace convguard::torch_guard {

namespace {

Result<DataType> data_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return DataType::f32;
    case at::kHalf: return DataType::f16;
    case at::kBFloat16: return DataType::bf16;
    default: return Status::Unsupported(std::string("data type ") + c10::toString(t));
  }
}

}  // namespace

Result<Problem> problem_of(const at::Tensor& input, const at::Tensor& weight, const ConvParams& c,
                           Dir dir) {
  if (c.transposed) return Status::Unsupported("transposed convolution");
  if (input.dim() != 4) return Status::Unsupported(std::to_string(input.dim() - 2) + "-D convolution");
  for (int64_t v : c.output_padding)
    if (v != 0) return Status::Unsupported("output padding");
  auto dt = data_type(input.scalar_type());
  if (!dt.ok()) return dt.status();
  Problem p;
  p.dir = dir;
  p.dt = *dt;
  p.layout = input.suggest_memory_format() == at::MemoryFormat::ChannelsLast ? Layout::nhwc
                                                                              : Layout::nchw;
  p.g = c.groups;
  p.mb = input.size(0), p.ic = input.size(1), p.ih = input.size(2), p.iw = input.size(3);
  p.oc = weight.size(0), p.kh = weight.size(2), p.kw = weight.size(3);
  p.sh = c.stride.at(0), p.sw = c.stride.at(1);
  p.ph = c.padding.at(0), p.pw = c.padding.at(1);
  p.dh = c.dilation.at(0) - 1, p.dw = c.dilation.at(1) - 1;
  p.oh = conv_out_size(p.ih, p.kh, p.sh, p.ph, p.dh);
  p.ow = conv_out_size(p.iw, p.kw, p.sw, p.pw, p.dw);
  CG_RETURN_IF_ERROR(validate(p));
  return p;
}

std::vector<Dir> backward_dirs(const std::array<bool, 3>& mask) {
  std::vector<Dir> dirs;
  if (mask[0]) dirs.push_back(Dir::BWD_D);
  if (mask[1]) dirs.push_back(mask[2] ? Dir::BWD_WB : Dir::BWD_W);
  return dirs;
}

at::MemoryFormat memory_format(Layout l) {
  return l == Layout::nhwc ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
}

}  // namespace convguard::torch_guard
