#include "convguard/fill.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engines/parallel.h"

namespace convguard {
namespace {

// splitmix64's finaliser: a counter-based generator, so element i's value needs no
// state from elements before it and any split of the index range gives the same fill.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Longest sum of products any output element of the direction accumulates.
double reduction_length(const Problem& p) {
  switch (p.dir) {
    case Dir::FWD_D:
    case Dir::FWD_B: return double(p.ic / p.g) * p.kh * p.kw + 1;  // +1: bias
    case Dir::BWD_D: return double(p.oc / p.g) * p.kh * p.kw;
    case Dir::BWD_W:
    case Dir::BWD_WB: return double(p.mb) * p.oh * p.ow;
  }
  return 1;
}

struct FillParams {
  int magnitude = 1;     // values are integers in [-magnitude, magnitude]
  double density = 1.0;  // share of elements that are drawn rather than 0
};

// Every partial sum stays an integer below `limit` in magnitude when
// reduction_length * magnitude^2 <= limit, so exact algorithms are exact in f32
// whatever their summation order. f32 and bf16 accumulate in f32 (2^24 integers are
// exact); f16 results must also fit f16's exact-integer range (2^11), far inside its
// 65504 maximum. The magnitude cap keeps bf16 inputs exact (8 significant bits) and
// f16 inputs small. Past the limit, inputs become sparse +-1: the random signs keep
// typical sums near sqrt(n), so overflow of the exact range is vanishingly unlikely.
FillParams params_for(const Problem& p) {
  const double limit = p.dt == DataType::f16 ? 2048.0 : 16777216.0;
  const int cap = p.dt == DataType::f16 ? 4 : 16;
  const double n = std::max(1.0, reduction_length(p));
  FillParams f;
  f.magnitude = static_cast<int>(std::clamp(std::floor(std::sqrt(limit / n)), 1.0, double(cap)));
  if (n > limit) f.density = std::max(limit / n, 1e-3);
  return f;
}

float fill_value(const FillParams& f, uint64_t seed, Arg a, int64_t i) {
  const uint64_t h = mix(mix(seed * 4 + static_cast<uint64_t>(a)) ^ static_cast<uint64_t>(i));
  if (f.density < 1.0 && double(h >> 11) * 0x1.0p-53 >= f.density) return 0.0f;
  const uint64_t span = 2 * static_cast<uint64_t>(f.magnitude) + 1;
  return static_cast<float>(static_cast<int64_t>((h >> 7) % span) - f.magnitude);
}

}  // namespace

float round_to(DataType dt, float v) {
  switch (dt) {
    case DataType::f32: return v;
    case DataType::f16: return static_cast<float>(static_cast<_Float16>(v));
    case DataType::bf16: {
      if (std::isnan(v)) return v;
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even
      bits &= 0xffff0000u;
      std::memcpy(&v, &bits, 4);
      return v;
    }
  }
  return v;
}

void fill_range(const Problem& p, Arg a, uint64_t seed, int64_t begin, int64_t end, float* out) {
  const FillParams f = params_for(p);
  for (int64_t i = begin; i < end; ++i) out[i - begin] = fill_value(f, seed, a, i);
}

void fill_inputs(const Problem& p, ConvTensors& t, uint64_t seed) {
  for (Arg a : inputs_of(p.dir)) {
    std::vector<float>& v = tensor(t, a);
    parallel_ranges(static_cast<int64_t>(v.size()), int64_t{1} << 16, [&](int64_t b, int64_t e) {
      fill_range(p, a, seed, b, e, v.data() + b);
    });
  }
}

void poison_outputs(const Problem& p, ConvTensors& t) {
  for (Arg a : outputs_of(p.dir)) {
    std::vector<float>& v = tensor(t, a);
    std::fill(v.begin(), v.end(), std::numeric_limits<float>::quiet_NaN());
  }
}

int fill_magnitude(const Problem& p) { return params_for(p).magnitude; }

double fill_density(const Problem& p) { return params_for(p).density; }

double fill_mean_square(const Problem& p) {
  // Uniform integers in [-m, m]: E[x^2] = m (m + 1) / 3, times the density.
  const FillParams f = params_for(p);
  return f.density * f.magnitude * (f.magnitude + 1) / 3.0;
}

double accumulation_length(const Problem& p) { return reduction_length(p); }

}  // namespace convguard
