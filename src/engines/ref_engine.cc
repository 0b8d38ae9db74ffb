// `ref`: the naive CPU reference. Every output element is one sum in a fixed order,
// accumulated in double, so results never depend on thread count or scheduling.
#include <algorithm>
#include <chrono>

#include "convguard/cpu_engines.h"
#include "convguard/fill.h"
#include "engines/parallel.h"

namespace convguard {
namespace {

int64_t out_size(int64_t i, int64_t k, int64_t s, int64_t p, int64_t d) {
  return (i - ((k - 1) * (d + 1) + 1) + 2 * p) / s + 1;
}

// A hand-built Problem may not have passed validate(); the reference indexes raw
// memory, so it refuses shapes it cannot address safely.
Status check_shape(const Problem& p) {
  for (int64_t v : {p.g, p.mb, p.ic, p.ih, p.iw, p.oc, p.oh, p.ow, p.kh, p.kw, p.sh, p.sw})
    if (v <= 0) return Status::Invalid("ref: every size, stride and group count must be positive");
  if (p.ph < 0 || p.pw < 0 || p.dh < 0 || p.dw < 0)
    return Status::Invalid("ref: padding and dilation must not be negative");
  if (p.ic % p.g || p.oc % p.g)
    return Status::Invalid("ref: channels not divisible by g=" + std::to_string(p.g));
  if (p.oh != out_size(p.ih, p.kh, p.sh, p.ph, p.dh) ||
      p.ow != out_size(p.iw, p.kw, p.sw, p.pw, p.dw))
    return Status::Invalid("ref: output size does not match the input size and kernel");
  return Status::Ok();
}

// Canonical offsets (see ConvTensors).
struct Index {
  const Problem& p;
  int64_t icg() const { return p.ic / p.g; }
  int64_t ocg() const { return p.oc / p.g; }
  int64_t src(int64_t n, int64_t c, int64_t h, int64_t w) const {
    return ((n * p.ic + c) * p.ih + h) * p.iw + w;
  }
  int64_t dst(int64_t n, int64_t c, int64_t h, int64_t w) const {
    return ((n * p.oc + c) * p.oh + h) * p.ow + w;
  }
};

// [outer][c][inner] -> [outer][inner][c]: the channel sums below then read
// contiguous memory. Their order (kh, kw, channel) is fixed, so results stay
// deterministic; integer-valued fills make them exact in double anyway.
std::vector<float> channels_last(const std::vector<float>& x, int64_t outer, int64_t c,
                                 int64_t inner) {
  std::vector<float> y(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t i = 0; i < inner; ++i) y[(o * inner + i) * c + k] = x[(o * c + k) * inner + i];
  return y;
}

// Four partial sums break the add-latency chain (~4x faster); the order is still
// fixed for a given n, so the result does not depend on threads.
double dot(const float* a, const float* b, int64_t n) {
  double acc[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) acc[k] += double(a[i + k]) * b[i + k];
  for (; i < n; ++i) acc[0] += double(a[i]) * b[i];
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

void fwd(const Problem& p, const ConvTensors& in, std::vector<float>& dst) {
  const Index x{p};
  const int64_t icg = x.icg();
  const std::vector<float> src = channels_last(in.src, p.mb, p.ic, p.ih * p.iw);
  const std::vector<float> wei = channels_last(in.wei, p.oc, icg, p.kh * p.kw);
  parallel_for(p.dst_elems(), double(icg * p.kh * p.kw), [&](int64_t i) {
    const int64_t ow = i % p.ow, oh = i / p.ow % p.oh, oc = i / (p.ow * p.oh) % p.oc,
                  n = i / (p.ow * p.oh * p.oc), g = oc / x.ocg();
    double acc = p.has_bias() ? in.bia[oc] : 0.0;
    for (int64_t kh = 0; kh < p.kh; ++kh) {
      const int64_t ih = oh * p.sh - p.ph + kh * (p.dh + 1);
      if (ih < 0 || ih >= p.ih) continue;
      for (int64_t kw = 0; kw < p.kw; ++kw) {
        const int64_t iw = ow * p.sw - p.pw + kw * (p.dw + 1);
        if (iw < 0 || iw >= p.iw) continue;
        acc += dot(&src[((n * p.ih + ih) * p.iw + iw) * p.ic + g * icg],
                   &wei[((oc * p.kh + kh) * p.kw + kw) * icg], icg);
      }
    }
    dst[i] = round_to(p.dt, static_cast<float>(acc));
  });
}

void bwd_d(const Problem& p, const ConvTensors& in, std::vector<float>& src) {
  const Index x{p};
  const int64_t icg = x.icg(), ocg = x.ocg(), khw = p.kh * p.kw;
  const std::vector<float> dst = channels_last(in.dst, p.mb, p.oc, p.oh * p.ow);
  // Weights (g, ocg, icg, kh, kw) -> (g, icg, kh, kw, ocg): this sum runs over ocg.
  std::vector<float> wei(in.wei.size());
  for (int64_t g = 0; g < p.g; ++g)
    for (int64_t o = 0; o < ocg; ++o)
      for (int64_t c = 0; c < icg; ++c)
        for (int64_t k = 0; k < khw; ++k)
          wei[((g * icg + c) * khw + k) * ocg + o] = in.wei[((g * ocg + o) * icg + c) * khw + k];
  parallel_for(p.src_elems(), double(ocg * p.kh * p.kw), [&](int64_t i) {
    const int64_t iw = i % p.iw, ih = i / p.iw % p.ih, ic = i / (p.iw * p.ih) % p.ic,
                  n = i / (p.iw * p.ih * p.ic), g = ic / icg;
    double acc = 0;
    for (int64_t kh = 0; kh < p.kh; ++kh) {
      const int64_t h = ih + p.ph - kh * (p.dh + 1);
      if (h < 0 || h % p.sh || h / p.sh >= p.oh) continue;
      for (int64_t kw = 0; kw < p.kw; ++kw) {
        const int64_t w = iw + p.pw - kw * (p.dw + 1);
        if (w < 0 || w % p.sw || w / p.sw >= p.ow) continue;
        acc += dot(&dst[((n * p.oh + h / p.sh) * p.ow + w / p.sw) * p.oc + g * ocg],
                   &wei[((ic * p.kh + kh) * p.kw + kw) * ocg], ocg);
      }
    }
    src[i] = round_to(p.dt, static_cast<float>(acc));
  });
}

void bwd_w(const Problem& p, const ConvTensors& in, std::vector<float>& wei) {
  const Index x{p};
  parallel_for(p.wei_elems(), double(p.mb * p.oh * p.ow), [&](int64_t i) {
    const int64_t kw = i % p.kw, kh = i / p.kw % p.kh, c = i / (p.kw * p.kh) % x.icg(),
                  oc = i / (p.kw * p.kh * x.icg()), ic = oc / x.ocg() * x.icg() + c;
    double acc = 0;
    for (int64_t n = 0; n < p.mb; ++n)
      for (int64_t oh = 0; oh < p.oh; ++oh) {
        const int64_t ih = oh * p.sh - p.ph + kh * (p.dh + 1);
        if (ih < 0 || ih >= p.ih) continue;
        for (int64_t ow = 0; ow < p.ow; ++ow) {
          const int64_t iw = ow * p.sw - p.pw + kw * (p.dw + 1);
          if (iw < 0 || iw >= p.iw) continue;
          acc += double(in.dst[x.dst(n, oc, oh, ow)]) * in.src[x.src(n, ic, ih, iw)];
        }
      }
    wei[i] = round_to(p.dt, static_cast<float>(acc));
  });
}

void bwd_b(const Problem& p, const ConvTensors& in, std::vector<float>& bia) {
  const Index x{p};
  parallel_for(p.oc, double(p.mb * p.oh * p.ow), [&](int64_t oc) {
    double acc = 0;
    for (int64_t n = 0; n < p.mb; ++n)
      for (int64_t h = 0; h < p.oh; ++h)
        for (int64_t w = 0; w < p.ow; ++w) acc += in.dst[x.dst(n, oc, h, w)];
    bia[oc] = round_to(p.dt, static_cast<float>(acc));
  });
}

Status check_sizes(const Problem& p, const ConvTensors& t) {
  for (Arg a : {Arg::src, Arg::wei, Arg::bia, Arg::dst})
    if (elems(p, a) != 0 && static_cast<int64_t>(tensor(t, a).size()) != elems(p, a))
      return Status::Error(std::string("ref: ") + to_string(a) + " has " +
                           std::to_string(tensor(t, a).size()) + " elements, expected " +
                           std::to_string(elems(p, a)));
  return Status::Ok();
}

// Inputs as the problem's data type sees them: an f16/bf16 engine reads rounded values.
ConvTensors rounded_inputs(const Problem& p, const ConvTensors& t) {
  ConvTensors r;
  for (Arg a : inputs_of(p.dir)) {
    tensor(r, a) = tensor(t, a);
    if (p.dt != DataType::f32)
      for (float& v : tensor(r, a)) v = round_to(p.dt, v);
  }
  return r;
}

void run_direction(const Problem& p, const ConvTensors& in, ConvTensors& t) {
  switch (p.dir) {
    case Dir::FWD_D:
    case Dir::FWD_B: return fwd(p, in, t.dst);
    case Dir::BWD_D: return bwd_d(p, in, t.src);
    case Dir::BWD_W: return bwd_w(p, in, t.wei);
    case Dir::BWD_WB:
      bwd_w(p, in, t.wei);
      return bwd_b(p, in, t.bia);
  }
}

class RefPrepared : public Prepared {
 public:
  explicit RefPrepared(const Problem& p) : p_(p) {}
  std::string algo() const override { return "direct"; }
  AlgoClass algo_class() const override { return AlgoClass::exact; }

  Result<double> execute(ConvTensors& t, const ExecOptions& opt) override {
    CG_RETURN_IF_ERROR(check_sizes(p_, t));
    const ConvTensors in = rounded_inputs(p_, t);
    for (int i = 0; i < opt.warmup; ++i) run_direction(p_, in, t);
    std::vector<double> ms;
    for (int i = 0; i < std::max(1, opt.repeats); ++i) {
      const auto start = std::chrono::steady_clock::now();
      run_direction(p_, in, t);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                             start).count());
    }
    std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
    return ms[ms.size() / 2];
  }

 private:
  Problem p_;
};

class RefEngine : public Engine {
 public:
  std::string name() const override { return "ref"; }
  std::string version() const override { return "convguard ref 1"; }
  Status init() override { return Status::Ok(); }
  std::vector<std::string> algorithms(const Problem&) override { return {"direct"}; }

  Result<std::unique_ptr<Prepared>> prepare(const Problem& p, const std::string& algo) override {
    if (algo != kDefaultAlgo && algo != "direct")
      return Status::Invalid("ref: unknown algorithm '" + algo + "' (ref has: direct)");
    CG_RETURN_IF_ERROR(check_shape(p));
    return std::unique_ptr<Prepared>(std::make_unique<RefPrepared>(p));
  }

  std::map<std::string, std::string> fingerprint() override {
    return {{"engine", "ref"}, {"version", version()},
            {"threads", std::to_string(hardware_threads())}};
  }
};

}  // namespace

std::unique_ptr<Engine> make_ref_engine() { return std::make_unique<RefEngine>(); }

}  // namespace convguard
