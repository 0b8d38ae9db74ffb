#include "guard/torch/torch_exec.h"

#include <chrono>
#include <optional>
#include <thread>

#include <ATen/ops/convolution_backward_native.h>
#include <ATen/ops/convolution_native.h>

#include "convguard/tiling.h"
#include "engines/torch/torch_knobs.h"

namespace convguard::torch_guard {
namespace {

using Clock = std::chrono::steady_clock;

/// Sets a knob for one call: PyTorch's global flags (restored after), or channels_last,
/// which the call's tensors carry instead.
class Knob {
 public:
  explicit Knob(const std::string& knob) : channels_last_(knob == "channels_last") {
    if (knob != "default" && !channels_last_) scope_.emplace(knob);
  }
  at::Tensor operator()(const at::Tensor& t) const {
    return channels_last_ ? t.contiguous(at::MemoryFormat::ChannelsLast) : t;
  }

 private:
  bool channels_last_;
  std::optional<torch_engine::KnobScope> scope_;
};

/// Sleeps as long again as `since` ago times (factor - 1): a `slow` fault.
void slow_down(Clock::time_point since, double factor) {
  std::this_thread::sleep_for((Clock::now() - since) * (factor - 1));
}

/// A `wrong` fault: the first, middle and last elements changed by 1 + |v|, as sim does.
void corrupt(at::Tensor& t) {
  if (!t.defined() || t.numel() == 0) return;
  auto flat = t.view(-1);
  for (int64_t i : {int64_t{0}, t.numel() / 2, t.numel() - 1}) {
    auto e = flat.select(0, i);
    e.add_(e.abs() + 1);
  }
}

/// Calls the injector (if any) with the problem this library call is.
Fault before_call(const Injector& inject, const at::Tensor& in, const at::Tensor& w,
                  const ConvParams& cp, Dir dir, const std::string& knob, double* factor) {
  if (!inject) return Fault::none;
  auto p = problem_of(in, w, cp, dir);
  return p.ok() ? inject(*p, knob, factor) : Fault::none;
}

at::Tensor native_forward(const std::string& knob, const at::Tensor& in, const at::Tensor& w,
                          const std::optional<at::Tensor>& bias, const ConvParams& cp,
                          const Injector& inject) {
  double factor = 1;
  Fault f = before_call(inject, in, w, cp, bias ? Dir::FWD_B : Dir::FWD_D, knob, &factor);
  auto t0 = Clock::now();
  Knob k(knob);
  at::Tensor y = at::native::convolution(k(in), k(w), bias, cp.stride, cp.padding, cp.dilation,
                                         cp.transposed, cp.output_padding, cp.groups);
  if (f == Fault::wrong) corrupt(y);
  if (f == Fault::slow) slow_down(t0, factor);
  return y.contiguous(in.suggest_memory_format());
}

Grads native_backward(const std::string& knob, const at::Tensor& go, const at::Tensor& in,
                      const at::Tensor& w, const std::optional<std::vector<int64_t>>& bias_sizes,
                      const ConvParams& cp, std::array<bool, 3> mask, const Injector& inject) {
  double factor = 1;
  Fault f = Fault::none;
  for (Dir d : backward_dirs(mask)) {
    Fault fd = before_call(inject, in, w, cp, d, knob, &factor);
    if (fd != Fault::none) f = fd;
  }
  auto t0 = Clock::now();
  Knob k(knob);
  at::OptionalIntArrayRef bs = bias_sizes ? at::OptionalIntArrayRef(*bias_sizes) : std::nullopt;
  auto [gi, gw, gb] = at::native::convolution_backward(
      k(go), k(in), k(w), bs, cp.stride, cp.padding, cp.dilation, cp.transposed,
      cp.output_padding, cp.groups, mask);
  if (f == Fault::wrong) corrupt(mask[0] ? gi : gw);
  if (f == Fault::slow) slow_down(t0, factor);
  if (gi.defined()) gi = gi.contiguous(in.suggest_memory_format());
  return {gi, gw, gb};
}

std::array<bool, 3> mask_of(Dir d) {
  return {d == Dir::BWD_D, d != Dir::BWD_D, d == Dir::BWD_WB};
}

// --- spatial tiles ------------------------------------------------------------------------------

/// The zero padding (negative: cropping) that makes the tensor the tiles read (the input; by_input
/// the output gradient) exactly the tiles' windows.
struct Window {
  int64_t top, bottom, left, right;
  std::vector<int64_t> pad() const { return {left, right, top, bottom}; }
  std::vector<int64_t> unpad() const { return {-left, -right, -top, -bottom}; }
};

struct Tiles {
  TileGeometry g;
  Window win;
  int64_t max_images;  ///< staging images per library call (0: all)
  ConvParams staging;  ///< the staging problem's geometry (tile_problems)
  at::MemoryFormat fmt;
};

Tiles tiles_for(const Route& r, const Problem& p, const ConvParams& cp) {
  auto g = tile_geometry(p, r.tiles);
  TORCH_CHECK(g.ok(), "convguard: ", g.status().message());
  Tiles t{*g, {}, r.tiles.max_images, cp, memory_format(p.layout)};
  const int64_t need_h = (g->nty - 1) * g->th * p.sh + g->tin_h;
  const int64_t need_w = (g->ntx - 1) * g->tw * p.sw + g->tin_w;
  if (g->by_input) {
    // The output gradient's windows start extent - 1 - p before their blocks (stride 1).
    const int64_t top = g->tin_h - g->th - p.ph, left = g->tin_w - g->tw - p.pw;
    t.win = {top, need_h - top - p.oh, left, need_w - left - p.ow};
    t.staging.padding = {g->tin_h - g->th, g->tin_w - g->tw};
    return t;
  }
  t.win = {p.ph, need_h - p.ph - p.ih, p.pw, need_w - p.pw - p.iw};
  t.staging.padding = {0, 0};
  return t;
}

/// (N, C, Hp, Wp) -> (tiles x N, C, tin_h, tin_w): every tile's window, halo included.
at::Tensor gather_windows(const at::Tensor& padded, const Tiles& t, const Problem& p) {
  const auto& g = t.g;
  auto w = padded.unfold(2, g.tin_h, g.th * p.sh).unfold(3, g.tin_w, g.tw * p.sw);
  return w.permute({2, 3, 0, 1, 4, 5})
      .reshape({g.tiles() * p.mb, padded.size(1), g.tin_h, g.tin_w})
      .contiguous(t.fmt);
}

/// (N, C, nty*th, ntx*tw) -> (tiles x N, C, th, tw): the output cut into its tiles.
at::Tensor gather_tiles(const at::Tensor& y, const Tiles& t, int64_t n) {
  const auto& g = t.g;
  return y.reshape({n, y.size(1), g.nty, g.th, g.ntx, g.tw})
      .permute({2, 4, 0, 1, 3, 5})
      .reshape({g.tiles() * n, y.size(1), g.th, g.tw})
      .contiguous(t.fmt);
}

/// The inverse of gather_tiles.
at::Tensor scatter_tiles(const at::Tensor& ys, const Tiles& t, int64_t n) {
  const auto& g = t.g;
  return ys.reshape({g.nty, g.ntx, n, ys.size(1), g.th, g.tw})
      .permute({2, 3, 0, 4, 1, 5})
      .reshape({n, ys.size(1), g.nty * g.th, g.ntx * g.tw});
}

/// Adds every tile's window (tiles x N, C, tin_h, tin_w) back into (N, C, Hp, Wp): windows
/// overlap by the halo. Reduced precision accumulates in f32.
at::Tensor scatter_add_windows(const at::Tensor& xs, const Tiles& t, const Problem& p,
                               int64_t hp, int64_t wp) {
  const auto& g = t.g;
  auto cols = xs.to(at::kFloat)
                  .reshape({g.nty, g.ntx, p.mb, xs.size(1), g.tin_h, g.tin_w})
                  .permute({2, 3, 4, 5, 0, 1})
                  .reshape({p.mb, xs.size(1) * g.tin_h * g.tin_w, g.tiles()});
  return at::col2im(cols, {hp, wp}, {g.tin_h, g.tin_w}, {1, 1}, {0, 0}, {g.th * p.sh, g.tw * p.sw})
      .to(xs.scalar_type());
}

/// Staging images in chunks of at most t.max_images.
std::vector<at::Tensor> chunks(const at::Tensor& x, const Tiles& t) {
  if (t.max_images <= 0 || x.size(0) <= t.max_images) return {x};
  return x.split(t.max_images, 0);
}

/// The chunks' results joined along `dim`; one chunk is returned as it is, since at::cat
/// would copy it.
at::Tensor joined(const std::vector<at::Tensor>& parts, int64_t dim = 0) {
  return parts.size() == 1 ? parts.front() : at::cat(parts, dim);
}

at::Tensor tiled_forward(const Route& r, const Problem& p, const ForwardCall& c,
                         const Injector& inject) {
  Tiles t = tiles_for(r, p, c.params);
  auto xs = gather_windows(at::constant_pad_nd(c.input, t.win.pad(), 0), t, p);
  std::vector<at::Tensor> ys;
  for (const auto& x : chunks(xs, t))
    ys.push_back(native_forward(r.algo, x, c.weight, c.bias, t.staging, inject));
  auto y = scatter_tiles(joined(ys), t, p.mb);
  return y.narrow(2, 0, p.oh).narrow(3, 0, p.ow).contiguous(t.fmt);
}

/// The staging problem's input gradients, h x w each, one library call per chunk of output
/// gradients `gos`, joined.
at::Tensor staged_input_grads(const Route& r, const Problem& p, const BackwardCall& c,
                              const Tiles& t, const std::vector<at::Tensor>& gos, int64_t h,
                              int64_t w, const Injector& inject) {
  std::vector<at::Tensor> parts;
  for (const auto& gc : gos) {
    // The input's values are not read for BWD_D, only its sizes and layout.
    auto xs = at::empty({gc.size(0), p.ic, h, w}, c.input.options().memory_format(t.fmt));
    parts.push_back(native_backward(r.algo, gc, xs, c.weight, std::nullopt, t.staging,
                                    mask_of(Dir::BWD_D), inject).input);
  }
  return joined(parts);
}

/// Backward data at stride 1: each tile a block of the input gradient from the window of the
/// output gradient that reaches it; blocks never overlap, so they are put back as they are.
at::Tensor blocks_backward_data(const Route& r, const Problem& p, const BackwardCall& c,
                                const Tiles& t, const Injector& inject) {
  auto gos = chunks(gather_windows(at::constant_pad_nd(c.grad_output, t.win.pad(), 0), t, p), t);
  auto gi = scatter_tiles(staged_input_grads(r, p, c, t, gos, t.g.th, t.g.tw, inject), t, p.mb);
  return gi.narrow(2, 0, p.ih).narrow(3, 0, p.iw).contiguous(t.fmt);
}

Grads tiled_backward(const Route& r, const Problem& p, const BackwardCall& c,
                     const Injector& inject) {
  Tiles t = tiles_for(r, p, c.params);
  const auto& g = t.g;
  if (g.by_input) return {blocks_backward_data(r, p, c, t, inject), {}, {}};
  auto go = at::constant_pad_nd(c.grad_output, {0, g.ntx * g.tw - p.ow, 0, g.nty * g.th - p.oh}, 0);
  auto gos = chunks(gather_tiles(go, t, p.mb), t);
  const int64_t hp = p.ih + t.win.top + t.win.bottom, wp = p.iw + t.win.left + t.win.right;
  Grads out;
  if (p.dir == Dir::BWD_D) {
    auto padded = scatter_add_windows(staged_input_grads(r, p, c, t, gos, g.tin_h, g.tin_w, inject),
                                      t, p, hp, wp);
    out.input = at::constant_pad_nd(padded, t.win.unpad(), 0).contiguous(t.fmt);
    return out;
  }
  auto xs = chunks(gather_windows(at::constant_pad_nd(c.input, t.win.pad(), 0), t, p), t);
  for (size_t i = 0; i < xs.size(); ++i) {
    auto part = native_backward(r.algo, gos[i], xs[i], c.weight,
                                p.dir == Dir::BWD_WB ? c.bias_sizes : std::nullopt, t.staging,
                                mask_of(p.dir), inject);
    out.weight = out.weight.defined() ? out.weight + part.weight : part.weight;
    if (part.bias.defined()) out.bias = out.bias.defined() ? out.bias + part.bias : part.bias;
  }
  return out;
}

// --- batch and group chunks ---------------------------------------------------------------------

/// [start, count) ranges of at most `max` (0: one range) over `n`.
std::vector<std::pair<int64_t, int64_t>> ranges(int64_t n, int64_t max) {
  if (max <= 0 || max >= n) return {{0, n}};
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t s = 0; s < n; s += max) out.emplace_back(s, std::min(max, n - s));
  return out;
}

/// One batch chunk x group chunk of a call: the tensors narrowed to it.
struct Chunk {
  at::Tensor in, w, go;
  std::optional<at::Tensor> bias;
  ConvParams cp;
};

Chunk chunk(const Problem& p, const at::Tensor& in, const at::Tensor& w,
            const std::optional<at::Tensor>& bias, const at::Tensor& go, const ConvParams& cp,
            std::pair<int64_t, int64_t> b, std::pair<int64_t, int64_t> gr) {
  const int64_t icg = p.ic / p.g, ocg = p.oc / p.g;
  const auto fmt = memory_format(p.layout);
  Chunk c{in.narrow(0, b.first, b.second).narrow(1, gr.first * icg, gr.second * icg).contiguous(fmt),
          w.narrow(0, gr.first * ocg, gr.second * ocg).contiguous(fmt), {}, std::nullopt, cp};
  if (go.defined())
    c.go = go.narrow(0, b.first, b.second).narrow(1, gr.first * ocg, gr.second * ocg).contiguous(fmt);
  if (bias) c.bias = bias->narrow(0, gr.first * ocg, gr.second * ocg);
  c.cp.groups = gr.second;
  return c;
}

at::Tensor split_forward(const Route& r, const Problem& p, const ForwardCall& c,
                         const Injector& inject) {
  std::vector<at::Tensor> rows;
  for (auto b : ranges(p.mb, r.split.max_mb)) {
    std::vector<at::Tensor> cols;
    for (auto gr : ranges(p.g, r.split.max_groups)) {
      Chunk k = chunk(p, c.input, c.weight, c.bias, {}, c.params, b, gr);
      cols.push_back(native_forward(r.algo, k.in, k.w, k.bias, k.cp, inject));
    }
    rows.push_back(joined(cols, 1));
  }
  return joined(rows).contiguous(memory_format(p.layout));
}

Grads split_backward(const Route& r, const Problem& p, const BackwardCall& c,
                     const Injector& inject) {
  std::vector<at::Tensor> rows;
  const auto groups = ranges(p.g, r.split.max_groups);
  std::vector<at::Tensor> wsum(groups.size()), bsum(groups.size());
  for (auto b : ranges(p.mb, r.split.max_mb)) {
    std::vector<at::Tensor> cols;
    for (size_t i = 0; i < groups.size(); ++i) {
      Chunk k = chunk(p, c.input, c.weight, std::nullopt, c.grad_output, c.params, b, groups[i]);
      std::optional<std::vector<int64_t>> bs;
      if (p.dir == Dir::BWD_WB) bs = std::vector<int64_t>{k.w.size(0)};
      auto part = native_backward(r.algo, k.go, k.in, k.w, bs, k.cp, mask_of(p.dir), inject);
      if (p.dir == Dir::BWD_D) cols.push_back(part.input);
      if (part.weight.defined()) wsum[i] = wsum[i].defined() ? wsum[i] + part.weight : part.weight;
      if (part.bias.defined()) bsum[i] = bsum[i].defined() ? bsum[i] + part.bias : part.bias;
    }
    if (!cols.empty()) rows.push_back(joined(cols, 1));
  }
  Grads out;
  if (p.dir == Dir::BWD_D) out.input = joined(rows).contiguous(memory_format(p.layout));
  else out.weight = joined(wsum);
  if (p.dir == Dir::BWD_WB) out.bias = joined(bsum);
  return out;
}

// --- the CPU ------------------------------------------------------------------------------------

/// Reduced precision runs in f32 on the CPU, where PyTorch's f16/bf16 kernels are slow or absent.
at::Tensor on_cpu(const at::Tensor& t) { return t.to(at::kCPU, at::kFloat); }

at::Tensor cpu_forward(const Problem& p, const ForwardCall& c) {
  std::optional<at::Tensor> bias;
  if (c.bias) bias = on_cpu(*c.bias);
  auto y = at::native::convolution(on_cpu(c.input), on_cpu(c.weight), bias, c.params.stride,
                                   c.params.padding, c.params.dilation, false,
                                   c.params.output_padding, c.params.groups);
  return y.to(c.input.device(), c.input.scalar_type()).contiguous(memory_format(p.layout));
}

Grads cpu_backward(const Problem& p, const BackwardCall& c) {
  at::OptionalIntArrayRef bs = c.bias_sizes ? at::OptionalIntArrayRef(*c.bias_sizes) : std::nullopt;
  auto [gi, gw, gb] = at::native::convolution_backward(
      on_cpu(c.grad_output), on_cpu(c.input), on_cpu(c.weight), bs, c.params.stride,
      c.params.padding, c.params.dilation, false, c.params.output_padding, c.params.groups,
      mask_of(p.dir));
  auto back = [&](const at::Tensor& t) {
    return t.defined() ? t.to(c.input.device(), c.input.scalar_type()) : t;
  };
  Grads out{back(gi), back(gw), back(gb)};
  if (out.input.defined()) out.input = out.input.contiguous(memory_format(p.layout));
  return out;
}

}  // namespace

at::Tensor run_forward(const Route& route, const Problem& p, const ForwardCall& c,
                       const Injector& inject) {
  switch (route.kind) {
    case RouteKind::native:
    case RouteKind::other_algo:
      return native_forward(route.algo, c.input, c.weight, c.bias, c.params, inject);
    case RouteKind::tiles: return tiled_forward(route, p, c, inject);
    case RouteKind::split_batch:
    case RouteKind::split_groups: return split_forward(route, p, c, inject);
    case RouteKind::cpu: return cpu_forward(p, c);
    case RouteKind::refuse: break;
  }
  TORCH_CHECK(false, "convguard refuses ", key(p), ": ", route.reason);
}

Grads run_backward(const Route& route, const Problem& p, const BackwardCall& c,
                   const Injector& inject) {
  switch (route.kind) {
    case RouteKind::native:
    case RouteKind::other_algo: {
      std::optional<std::vector<int64_t>> bs;
      if (p.dir == Dir::BWD_WB) bs = c.bias_sizes;
      return native_backward(route.algo, c.grad_output, c.input, c.weight, bs, c.params,
                             mask_of(p.dir), inject);
    }
    case RouteKind::tiles: return tiled_backward(route, p, c, inject);
    case RouteKind::split_batch:
    case RouteKind::split_groups: return split_backward(route, p, c, inject);
    case RouteKind::cpu: return cpu_backward(p, c);
    case RouteKind::refuse: break;
  }
  TORCH_CHECK(false, "convguard refuses ", key(p), ": ", route.reason);
}

at::Tensor run_forward_unguarded(const ForwardCall& c) {
  const auto& cp = c.params;
  return at::native::convolution(c.input, c.weight, c.bias, cp.stride, cp.padding, cp.dilation,
                                 cp.transposed, cp.output_padding, cp.groups);
}

Grads run_backward_native(const std::string& knob, const BackwardCall& c, const Injector& inject) {
  return native_backward(knob, c.grad_output, c.input, c.weight, c.bias_sizes, c.params, c.mask,
                         inject);
}

}  // namespace convguard::torch_guard
