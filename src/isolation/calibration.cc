// Calibration: before the first probe, a ladder of known-good problems in canary mode
// measures the engine's speed (the cost model's start) and the overhead around an
// execute phase (the jitter floor), so that deadlines are realistic from the first probe.
#include <fmt/format.h>

#include <algorithm>

#include "isolation/supervisor_impl.h"

namespace convguard {
namespace {

// A rung is long enough to measure speed once the engine's own clock says this.
constexpr double kCalibrationMs = 5;
constexpr size_t kMinRungs = 3;

}  // namespace

std::vector<Problem> calibration_ladder() {
  std::vector<Problem> ladder{default_canary()};
  // Channels and map double each rung (about 16x the FLOPs): 8x16, 16x32, 32x64, 64x128.
  for (int64_t c = 8, h = 16; c <= 64; c *= 2, h *= 2) {
    Problem p = default_canary();
    p.ic = p.oc = c;
    p.ih = p.iw = p.oh = p.ow = h;
    ladder.push_back(p);
  }
  return ladder;
}

void Supervisor::Impl::calibrate_step() {
  for (const Slot& s : slots)
    if (s.job) return;  // the rung in flight
  static const std::vector<Problem> ladder = calibration_ladder();
  if (calibration_rung >= ladder.size()) return end_calibration();
  Slot& s = slots[0];
  if (!ensure_worker(s)) return;
  Message m;
  Job job = own_job(ladder[calibration_rung], false, &m);
  // The median of three calls after a warm-up: a first call's one-time work is overhead
  // (the floor's business), not speed.
  m.exec.warmup = 1;
  m.exec.repeats = 3;
  job.calls = 4;
  job.calibration = true;
  send_job(s, std::move(job), m);
}

void Supervisor::Impl::calibration_result(const Job& job, const ProbeResult& r) {
  // An engine that cannot run a rung (unsupported, an error) keeps what was measured.
  if (r.outcome != Outcome::ok || !(r.time_ms > 0)) return end_calibration();
  calibrated_gflops = job.flops / (r.time_ms * 1e-3) / 1e9;
  ++calibration_rung;
  if (r.time_ms >= kCalibrationMs && calibration_rung >= kMinRungs) end_calibration();
}

void Supervisor::Impl::end_calibration() {
  if (calibrated) return;
  calibrated = true;
  // A stored speed is the median over every stored problem, small ones included, which
  // run far below the engine's speed; the largest rung is measured now at a size where
  // the engine runs near it. Both are measurements, so the higher one stands.
  const double stored = speed_seeded ? model.gflops() : 0;
  model.set_speed(std::max(stored, calibrated_gflops));
  emit(SupervisorEvent::calibrated, &slots[0], nullptr,
       fmt::format(
           "{} rungs: {:.3g} GFLOP/s (stored: {:.3g}), execute floor {:.3g} s ({} overheads)",
           calibration_rung, calibrated_gflops, stored, model.floor_s(opt.timeouts),
           model.overhead_samples()));
}

}  // namespace convguard
