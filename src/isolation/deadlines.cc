// The execute cost model and the per-phase deadlines of include/convguard/supervisor.h.
#include <algorithm>
#include <vector>

#include "convguard/supervisor.h"

namespace convguard {
namespace {

// Below this an execute phase measures pipe and wake-up latency (and the supervisor's
// 1 ms batching of reads), not the convolution.
constexpr double kMinTimedSeconds = 0.02;
// How fast the speed estimate follows a faster or a slower measurement.
constexpr double kRiseWeight = 0.2, kFallWeight = 0.5;
// The floor follows the largest of this many recent overheads, once it has a few.
constexpr size_t kJitterWindow = 256, kMinJitterSamples = 3;
// What a probe of a few FLOPs costs end to end through a worker (dispatch, fills, result
// and verdict): about 2 ms for sim over ref on one core (convguard sweep of 8x8 problems).
constexpr double kProbeFixedS = 0.002;

}  // namespace

double ExecCostModel::expected_s(double flops, int calls) const {
  return std::max(1, calls) * flops / (gflops_ * 1e9);
}

void ExecCostModel::observe(double flops, int calls, double seconds) {
  if (flops <= 0 || seconds <= 0) return;
  const double measured = std::max(1, calls) * flops / seconds / 1e9;
  // A short phase is mostly overhead, so its rate is only a lower bound on the engine's
  // speed: it may raise the estimate (a GPU runs every small probe in well under
  // kMinTimedSeconds and would otherwise keep the prior forever) but never lower it.
  if (seconds < kMinTimedSeconds && measured <= gflops_) return;
  const double w = measured > gflops_ ? kRiseWeight : kFallWeight;
  gflops_ = (1 - w) * gflops_ + w * measured;
}

void ExecCostModel::observe_overhead(double seconds) {
  overhead_.push_back(std::max(0.0, seconds));
  if (overhead_.size() > kJitterWindow) overhead_.pop_front();
}

double ExecCostModel::floor_s(const PhaseTimeouts& t) const {
  if (t.jitter_factor <= 0 || overhead_.size() < kMinJitterSamples) return t.execute_floor_s;
  const double worst = *std::max_element(overhead_.begin(), overhead_.end());
  return std::max(t.execute_floor_min_s, t.jitter_factor * worst);
}

double speed_prior_gflops(const std::vector<SpeedSample>& samples) {
  std::vector<double> speeds;
  for (const SpeedSample& s : samples)
    if (s.flops > 0 && s.time_ms > 0) speeds.push_back(s.flops / (s.time_ms * 1e-3) / 1e9);
  if (speeds.size() < 3) return 0;
  const size_t k = speeds.size() / 2;
  std::nth_element(speeds.begin(), speeds.begin() + static_cast<ptrdiff_t>(k), speeds.end());
  return speeds[k];
}

double canary_retry_deadline_s(double own_s, double slowest_seen_s, double factor, double min_s) {
  if (slowest_seen_s < 0) return own_s;
  return std::min(own_s, std::max(min_s, factor * slowest_seen_s));
}

double phase_deadline_s(const PhaseTimeouts& t, const ExecCostModel& model, Phase phase,
                        double flops, int calls) {
  switch (phase) {
    case Phase::init: return t.init_s;
    case Phase::prepare: return t.prepare_s;
    case Phase::execute:
      if (t.execute_s > 0) return t.execute_s;
      return std::max(model.floor_s(t), t.execute_factor * model.expected_s(flops, calls));
    case Phase::verify:
      if (t.verify_s > 0) return t.verify_s;
      return t.verify_floor_s + flops / (t.verify_gflops * 1e9);
  }
  return t.init_s;
}

double expected_probe_s(const SupervisorOptions& opt, double flops) {
  const PhaseTimeouts& t = opt.timeouts;
  const int calls = opt.probe.exec.warmup + opt.probe.exec.repeats;
  double s = kProbeFixedS + ExecCostModel(t.prior_gflops).expected_s(flops, calls);
  if (opt.probe.verify && t.verify_gflops > 0) s += flops / (t.verify_gflops * 1e9);
  return s;
}

}  // namespace convguard
