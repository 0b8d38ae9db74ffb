#include "convguard/tiling.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>

#include "engines/parallel.h"

namespace convguard {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Input elements one output element reads along an axis: (k - 1) * (d + 1) + 1.
int64_t kernel_extent(int64_t k, int64_t d) { return (k - 1) * (d + 1) + 1; }

Status check_tensors(const Problem& p, const ConvTensors& t) {
  for (Arg a : {Arg::src, Arg::wei, Arg::bia, Arg::dst})
    if (elems(p, a) != 0 && static_cast<int64_t>(tensor(t, a).size()) != elems(p, a))
      return Status::Invalid(std::string(to_string(a)) + " has " +
                             std::to_string(tensor(t, a).size()) + " elements, expected " +
                             std::to_string(elems(p, a)) + " for " + key(p));
  return Status::Ok();
}

// A Prepared made of several library calls: times the whole composite, as one run of
// the native problem would be timed.
class Composite : public Prepared {
 public:
  Composite(Problem p, std::string algo, AlgoClass cls)
      : p_(std::move(p)), algo_(std::move(algo)), cls_(cls) {}
  std::string algo() const override { return algo_; }
  AlgoClass algo_class() const override { return cls_; }

  Result<double> execute(ConvTensors& t, const ExecOptions& opt) override {
    CG_RETURN_IF_ERROR(check_tensors(p_, t));
    for (int i = 0; i < opt.warmup; ++i) CG_RETURN_IF_ERROR(run_once(t));
    std::vector<double> ms;
    for (int i = 0; i < std::max(1, opt.repeats); ++i) {
      const auto start = std::chrono::steady_clock::now();
      CG_RETURN_IF_ERROR(run_once(t));
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                             start).count());
    }
    std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
    return ms[ms.size() / 2];
  }

 protected:
  virtual Status run_once(ConvTensors& t) = 0;
  const Problem& problem() const { return p_; }

 private:
  Problem p_;
  std::string algo_;
  AlgoClass cls_;
};

// Runs one inner call; the inner Prepared's own timing is not used.
Status run_inner(Prepared& inner, ConvTensors& t) {
  Result<double> r = inner.execute(t, ExecOptions{});
  return r.ok() ? Status::Ok() : r.status();
}

// Prepares each distinct problem of a decomposition (at most a few shapes).
Result<std::vector<std::unique_ptr<Prepared>>> prepare_all(Engine& engine,
                                                           const std::vector<Problem>& problems,
                                                           const std::string& algo) {
  std::vector<std::unique_ptr<Prepared>> out;
  for (const Problem& sp : problems) {
    auto r = engine.prepare(sp, algo);
    if (!r.ok()) return Status(r.status().code(), "preparing " + key(sp) + ": " + r.status().message());
    out.push_back(std::move(r.value()));
  }
  return out;
}

// --- spatial tiling ----------------------------------------------------------

// One H x W plane's rectangle of h x w elements at (y, x), which may lie partly outside
// the plane: gathered into `stage` (zeros outside), or put/added back from it (the part
// outside is dropped).
enum class Move { gather, put, add };

void move_rect(Move m, float* plane, int64_t H, int64_t W, int64_t y, int64_t x, float* stage,
               int64_t h, int64_t w) {
  const int64_t lo = std::clamp<int64_t>(-x, 0, w), hi = std::clamp<int64_t>(W - x, lo, w);
  for (int64_t r = 0; r < h; ++r, stage += w) {
    const bool inside = y + r >= 0 && y + r < H;
    if (m == Move::gather && !inside) {
      std::fill(stage, stage + w, 0.0f);
      continue;
    }
    if (!inside) continue;
    float* row = plane + (y + r) * W;
    if (m == Move::gather) {
      std::fill(stage, stage + lo, 0.0f);
      std::copy(row + x + lo, row + x + hi, stage + lo);
      std::fill(stage + hi, stage + w, 0.0f);
    } else if (m == Move::put) {
      std::copy(stage + lo, stage + hi, row + x + lo);
    } else {
      for (int64_t i = lo; i < hi; ++i) row[x + i] += stage[i];
    }
  }
}

class Tiled : public Composite {
 public:
  Tiled(const Problem& p, const std::string& algo, AlgoClass cls, TileGeometry g,
        int64_t per_call, std::vector<std::unique_ptr<Prepared>> inner)
      : Composite(p, algo, cls), g_(g), per_call_(per_call), inner_(std::move(inner)) {}

 protected:
  Status run_once(ConvTensors& t) override {
    const Problem& p = problem();
    const int64_t images = p.mb * g_.tiles();
    if (p.dir == Dir::BWD_D && !g_.by_input) std::fill(t.src.begin(), t.src.end(), 0.0f);
    for (int64_t b0 = 0; b0 < images; b0 += per_call_) {
      const int64_t b1 = std::min(images, b0 + per_call_);
      Prepared& inner = b1 - b0 == per_call_ ? *inner_.front() : *inner_.back();
      CG_RETURN_IF_ERROR(run_chunk(inner, t, b0, b1));
    }
    return Status::Ok();
  }

 private:
  // Where a tile's part of one side begins, relative to the tile's owned block at (ty*th,
  // tx*tw): the input window starts p before (stride s apart); by_input, the diff_dst window
  // starts extent - 1 - p before the diff_src block.
  struct Side {
    int64_t h, w, y0, x0, sy, sx;
  };
  Side side_of(Arg a) const {
    const Problem& p = problem();
    const bool window = (a == Arg::src) != g_.by_input;
    if (!window) return {g_.th, g_.tw, 0, 0, 1, 1};
    if (!g_.by_input) return {g_.tin_h, g_.tin_w, -p.ph, -p.pw, p.sh, p.sw};
    return {g_.tin_h, g_.tin_w, p.ph - (g_.tin_h - g_.th), p.pw - (g_.tin_w - g_.tw), 1, 1};
  }

  // Moves the src-side or dst-side part of staging images [b0, b1) between the real
  // tensor and the staging tensor.
  void move_images(Move m, Arg a, ConvTensors& t, int64_t b0, int64_t b1) {
    const Problem& p = problem();
    const bool src_side = a == Arg::src;
    const Side sd = side_of(a);
    const int64_t C = src_side ? p.ic : p.oc, H = src_side ? p.ih : p.oh,
                  W = src_side ? p.iw : p.ow, h = sd.h, w = sd.w;
    float* real = tensor(t, a).data();
    float* stage = tensor(stage_, a).data();
    // Threads take whole channels: tiles of one channel may overlap in the real tensor
    // (halos, where Move::add accumulates), planes of different channels never do.
    parallel_for(C, double((b1 - b0) * h * w), [&](int64_t c) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t n = b / g_.tiles(), ty = b % g_.tiles() / g_.ntx, tx = b % g_.ntx;
        const int64_t y = ty * g_.th * sd.sy + sd.y0, x = tx * g_.tw * sd.sx + sd.x0;
        move_rect(m, real + (n * C + c) * H * W, H, W, y, x,
                  stage + ((b - b0) * C + c) * h * w, h, w);
      }
    });
  }

  Status run_chunk(Prepared& inner, ConvTensors& t, int64_t b0, int64_t b1) {
    const Problem& p = problem();
    const int64_t n = b1 - b0;
    const Side src = side_of(Arg::src), dst = side_of(Arg::dst);
    stage_.src.resize(size_t(n * p.ic * src.h * src.w));
    stage_.dst.resize(size_t(n * p.oc * dst.h * dst.w));
    const bool fwd = p.dir == Dir::FWD_D || p.dir == Dir::FWD_B;
    const bool bwd_w = p.dir == Dir::BWD_W || p.dir == Dir::BWD_WB;
    if (p.dir != Dir::BWD_D) move_images(Move::gather, Arg::src, t, b0, b1);
    if (!fwd) move_images(Move::gather, Arg::dst, t, b0, b1);
    // Weights and bias are the same for every tile: lend the caller's buffers.
    if (!bwd_w) std::swap(stage_.wei, t.wei), std::swap(stage_.bia, t.bia);
    if (bwd_w) stage_.wei.resize(t.wei.size()), stage_.bia.resize(t.bia.size());
    Status s = run_inner(inner, stage_);
    if (!bwd_w) std::swap(stage_.wei, t.wei), std::swap(stage_.bia, t.bia);
    if (!s.ok()) return s;
    if (fwd) move_images(Move::put, Arg::dst, t, b0, b1);
    if (p.dir == Dir::BWD_D) move_images(g_.by_input ? Move::put : Move::add, Arg::src, t, b0, b1);
    if (bwd_w) accumulate(t, b0 == 0);
    return Status::Ok();
  }

  void accumulate(ConvTensors& t, bool first) {
    for (Arg a : outputs_of(problem().dir)) {
      std::vector<float>& out = tensor(t, a);
      const std::vector<float>& part = tensor(stage_, a);
      if (first) std::copy(part.begin(), part.end(), out.begin());
      else for (size_t i = 0; i < out.size(); ++i) out[i] += part[i];
    }
  }

  TileGeometry g_;
  int64_t per_call_;
  std::vector<std::unique_ptr<Prepared>> inner_;  // full chunk first, then the last chunk
  ConvTensors stage_;
};

Problem staging_problem(const Problem& p, const TileGeometry& g, int64_t images) {
  Problem s = p;
  s.name.clear();
  s.mb = images;
  if (g.by_input) {
    // diff_src block th x tw from its diff_dst window: every tap of the window's border rows
    // reaches past the block, hence padding extent - 1.
    s.ih = g.th, s.iw = g.tw, s.oh = g.tin_h, s.ow = g.tin_w;
    s.ph = g.tin_h - g.th, s.pw = g.tin_w - g.tw;
    return s;
  }
  s.ih = g.tin_h, s.iw = g.tin_w, s.oh = g.th, s.ow = g.tw;
  s.ph = s.pw = 0;
  return s;
}

int64_t images_per_call(const Problem& p, const TileGeometry& g, const TilePlan& plan) {
  const int64_t images = p.mb * g.tiles();
  return plan.max_images > 0 ? std::min(images, plan.max_images) : images;
}

// --- batch and group splitting ------------------------------------------------

// Where an arg's slice lives: `count` runs of `run` contiguous elements, run i starting
// at i * stride + offset in the real tensor and at i * run in the sub tensor.
struct Slice {
  int64_t count, run, stride, offset;
};

Slice slice_of(const Problem& p, Arg a, int64_t n0, int64_t nn, int64_t g0, int64_t gn) {
  const int64_t icg = p.ic / p.g, ocg = p.oc / p.g;
  switch (a) {
    case Arg::src:
      return {nn, gn * icg * p.ih * p.iw, p.ic * p.ih * p.iw,
              n0 * p.ic * p.ih * p.iw + g0 * icg * p.ih * p.iw};
    case Arg::dst:
      return {nn, gn * ocg * p.oh * p.ow, p.oc * p.oh * p.ow,
              n0 * p.oc * p.oh * p.ow + g0 * ocg * p.oh * p.ow};
    case Arg::wei: return {1, gn * ocg * icg * p.kh * p.kw, 0, g0 * ocg * icg * p.kh * p.kw};
    case Arg::bia: break;
  }
  return {1, gn * ocg, 0, g0 * ocg};
}

void move_slice(Move m, const Slice& s, float* real, float* sub) {
  for (int64_t i = 0; i < s.count; ++i) {
    float* r = real + i * s.stride + s.offset;
    float* u = sub + i * s.run;
    if (m == Move::gather) std::copy(r, r + s.run, u);
    else if (m == Move::put) std::copy(u, u + s.run, r);
    else for (int64_t j = 0; j < s.run; ++j) r[j] += u[j];
  }
}

Problem sub_problem(const Problem& p, int64_t nn, int64_t gn) {
  Problem s = p;
  s.name.clear();
  s.mb = nn;
  s.ic = p.ic / p.g * gn, s.oc = p.oc / p.g * gn, s.g = gn;
  return s;
}

class Split : public Composite {
 public:
  Split(const Problem& p, const std::string& algo, AlgoClass cls, int64_t mb_chunk,
        int64_t g_chunk, std::vector<Problem> shapes, std::vector<std::unique_ptr<Prepared>> inner)
      : Composite(p, algo, cls), mb_chunk_(mb_chunk), g_chunk_(g_chunk),
        shapes_(std::move(shapes)), inner_(std::move(inner)) {}

 protected:
  Status run_once(ConvTensors& t) override {
    const Problem& p = problem();
    for (int64_t g0 = 0; g0 < p.g; g0 += g_chunk_)
      for (int64_t n0 = 0; n0 < p.mb; n0 += mb_chunk_)
        CG_RETURN_IF_ERROR(
            run_chunk(t, n0, std::min(mb_chunk_, p.mb - n0), g0, std::min(g_chunk_, p.g - g0)));
    return Status::Ok();
  }

 private:
  Status run_chunk(ConvTensors& t, int64_t n0, int64_t nn, int64_t g0, int64_t gn) {
    const Problem& p = problem();
    const Problem sp = sub_problem(p, nn, gn);
    const auto it = std::find(shapes_.begin(), shapes_.end(), sp);
    if (it == shapes_.end()) return Status::Error("split: no prepared shape for " + key(sp));
    resize_for(sp, sub_);
    for (Arg a : inputs_of(p.dir))
      move_slice(Move::gather, slice_of(p, a, n0, nn, g0, gn), tensor(t, a).data(),
                 tensor(sub_, a).data());
    CG_RETURN_IF_ERROR(run_inner(*inner_[size_t(it - shapes_.begin())], sub_));
    // Backward weights of a batch chunk is a partial sum over its images.
    const Move out = (p.dir == Dir::BWD_W || p.dir == Dir::BWD_WB) && n0 > 0 ? Move::add : Move::put;
    for (Arg a : outputs_of(p.dir))
      move_slice(out, slice_of(p, a, n0, nn, g0, gn), tensor(t, a).data(),
                 tensor(sub_, a).data());
    return Status::Ok();
  }

  int64_t mb_chunk_, g_chunk_;
  std::vector<Problem> shapes_;
  std::vector<std::unique_ptr<Prepared>> inner_;  // parallel to shapes_
  ConvTensors sub_;
};

}  // namespace

namespace {

bool by_input(const Problem& p) { return p.dir == Dir::BWD_D && p.sh == 1 && p.sw == 1; }

}  // namespace

Extent tiled_extent(const Problem& p) {
  if (by_input(p)) return {p.ih, p.iw};
  return {p.oh, p.ow};
}

Result<TileGeometry> tile_geometry(const Problem& p, const TilePlan& plan) {
  CG_RETURN_IF_ERROR(validate(p));
  if (plan.th < 1) return Status::Invalid("invalid tile th=" + std::to_string(plan.th) + ": must be >= 1");
  if (plan.tw < 1) return Status::Invalid("invalid tile tw=" + std::to_string(plan.tw) + ": must be >= 1");
  if (plan.max_images < 0)
    return Status::Invalid("invalid tile max_images=" + std::to_string(plan.max_images) +
                           ": must be >= 0");
  TileGeometry g;
  g.by_input = by_input(p);
  const Extent e = tiled_extent(p);
  g.nty = ceil_div(e.h, plan.th), g.ntx = ceil_div(e.w, plan.tw);
  g.th = ceil_div(e.h, g.nty), g.tw = ceil_div(e.w, g.ntx);
  // Forward: the input rows one tile's outputs read. by_input: the diff_dst rows that reach
  // one block of diff_src (stride 1).
  g.tin_h = (g.th - 1) * p.sh + kernel_extent(p.kh, p.dh);
  g.tin_w = (g.tw - 1) * p.sw + kernel_extent(p.kw, p.dw);
  return g;
}

std::vector<Problem> tile_problems(const Problem& p, const TilePlan& plan) {
  auto g = tile_geometry(p, plan);
  if (!g.ok()) return {};
  const int64_t images = p.mb * g->tiles(), per_call = images_per_call(p, *g, plan);
  std::vector<Problem> out{staging_problem(p, *g, per_call)};
  if (images % per_call) out.push_back(staging_problem(p, *g, images % per_call));
  return out;
}

Result<std::unique_ptr<Prepared>> prepare_tiled(Engine& engine, const Problem& p,
                                                const std::string& algo, const TilePlan& plan) {
  auto g = tile_geometry(p, plan);
  if (!g.ok()) return g.status();
  auto inner = prepare_all(engine, tile_problems(p, plan), algo);
  if (!inner.ok()) return inner.status();
  const std::string name = inner->front()->algo();
  const AlgoClass cls = inner->front()->algo_class();
  return std::unique_ptr<Prepared>(std::make_unique<Tiled>(
      p, name, cls, *g, images_per_call(p, *g, plan), std::move(inner.value())));
}

std::vector<Problem> split_problems(const Problem& p, const SplitPlan& plan) {
  if (plan.max_mb < 0 || plan.max_groups < 0 || !validate(p).ok()) return {};
  const int64_t mbc = plan.max_mb ? std::min(plan.max_mb, p.mb) : p.mb;
  const int64_t gc = plan.max_groups ? std::min(plan.max_groups, p.g) : p.g;
  std::vector<Problem> out;
  for (int64_t nn : {mbc, p.mb % mbc})
    for (int64_t gn : {gc, p.g % gc})
      if (nn > 0 && gn > 0) out.push_back(sub_problem(p, nn, gn));
  return out;
}

Result<std::unique_ptr<Prepared>> prepare_split(Engine& engine, const Problem& p,
                                                const std::string& algo, const SplitPlan& plan) {
  CG_RETURN_IF_ERROR(validate(p));
  if (plan.max_mb < 0 || plan.max_groups < 0)
    return Status::Invalid("invalid split max_mb=" + std::to_string(plan.max_mb) +
                           " max_groups=" + std::to_string(plan.max_groups) + ": must be >= 0");
  std::vector<Problem> shapes = split_problems(p, plan);
  auto inner = prepare_all(engine, shapes, algo);
  if (!inner.ok()) return inner.status();
  const std::string name = inner->front()->algo();
  const AlgoClass cls = inner->front()->algo_class();
  return std::unique_ptr<Prepared>(std::make_unique<Split>(
      p, name, cls, shapes.front().mb, shapes.front().g, std::move(shapes),
      std::move(inner.value())));
}

}  // namespace convguard
