#include "engines/second_opinion.h"

#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "convguard/fill.h"
#include "engines/terms.h"

namespace convguard {
namespace {

constexpr int64_t kSpread = 32;  // outputs sampled per arg besides the flagged one

std::vector<int64_t> sample(int64_t n, const Comparison& c, Arg a) {
  std::vector<int64_t> out;
  if (c.first_arg == a && c.first_bad >= 0 && c.first_bad < n) out.push_back(c.first_bad);
  const int64_t step = std::max<int64_t>(1, n / kSpread);
  for (int64_t i = step / 2; i < n; i += step) out.push_back(i);
  return out;
}

}  // namespace

SecondOpinion second_opinion(const Problem& p, uint64_t seed, const ConvTensors& ref,
                             const ConvTensors* mag, const Comparison& c) {
  ConvTensors in;
  resize_for(p, in);
  fill_inputs(p, in, seed);
  SecondOpinion out;
  const double u = unit_roundoff(significant_bits(p.dt));
  for (Arg a : outputs_of(p.dir)) {
    const std::vector<float>& r = tensor(ref, a);
    for (int64_t i : sample(static_cast<int64_t>(r.size()), c, a)) {
      double sum = 0, abs_sum = 0;
      for_each_term(p, in, a, i, [&](float x, float y) {
        sum += double(x) * y;
        abs_sum += std::fabs(double(x) * y);
      });
      ++out.checked;
      const size_t k = static_cast<size_t>(i);
      // The reference rounds the exact sum once to p's type: within u of it, plus its
      // own f32 accumulation where partial sums can leave f32's exact integers.
      const double acc =
          abs_sum >= 0x1p24 ? accumulation_gamma(accumulation_length(p), 0x1p-24) * abs_sum : 0;
      auto off = [&](double got, double want) {
        return !(std::fabs(got - want) <= u * std::max(std::fabs(want), 1.0) + acc);
      };
      std::string what;
      if (off(r[k], sum))
        what = fmt::format("reference {} vs {}", r[k], sum);
      else if (mag && tensor(*mag, a).size() == r.size() && off(tensor(*mag, a)[k], abs_sum))
        what = fmt::format("magnitude {} vs {}", tensor(*mag, a)[k], abs_sum);
      if (what.empty()) continue;
      out.reference_agrees = false;
      out.message = fmt::format(
          "the reference disagrees with an independent double-precision check at {}[{}] ({}): "
          "a harness fault, not a finding",
          to_string(a), i, what);
      return out;
    }
  }
  return out;
}

}  // namespace convguard
