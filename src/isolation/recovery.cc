// The supervisor's verdicts on hangs, deaths and protocol errors, and what follows
// them: the canary in a fresh worker, re-runs of probes caught beside a failure, and
// the wedged stop.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "isolation/supervisor_impl.h"

namespace convguard {
namespace {

std::chrono::milliseconds ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(seconds * 1000)));
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string describe(const Job& job, const ProbeResult& r) {
  std::string who = (job.canary        ? "canary "
                     : job.calibration ? "calibration "
                                       : "") +
                    key(job.problem);
  return fmt::format("{} {} in {} ({})", who, to_string(r.outcome), to_string(r.phase),
                     r.message);
}

}  // namespace

ProbeResult Supervisor::Impl::base_result(const Slot& s, const Job& job) const {
  ProbeResult r;
  r.problem = key(job.problem);
  r.name = job.problem.name;
  r.dir = job.problem.dir;
  r.dt = job.problem.dt;
  r.engine = opt.engine.name;
  r.algo = job.algo;
  r.phase = job.phase;
  r.worker = s.index;
  r.worker_pid = s.worker ? s.worker->pid() : 0;
  r.attempt = job.attempt;
  return r;
}

void Supervisor::Impl::deliver(const Slot* s, size_t index, const ProbeResult& r) {
  if (opt.on_event) {
    SupervisorEvent e{SupervisorEvent::verdict, s ? s->index : r.worker, r.worker_pid, index,
                      r.phase, r.outcome, Clock::now(), r.message};
    opt.on_event(e);
  }
  if (on_result && *on_result) (*on_result)(index, r);
}

void Supervisor::Impl::finish_job(Slot& s, ProbeResult r) {
  Job job = std::move(*s.job);
  s.job.reset();
  r.worker = s.index;
  r.worker_pid = s.worker->pid();
  r.attempt = job.attempt;
  r.wall_ms = seconds_since(job.dispatched) * 1000;
  if (job.canary) return canary_done(s, r.outcome == Outcome::ok, describe(job, r));
  if (job.calibration && r.outcome != Outcome::crash) return calibration_result(job, r);
  // A crash outcome from the worker itself is a lost device: the worker exits on its own
  // and the device must prove itself before the next probe.
  if (r.outcome != Outcome::crash) {
    solo = false;
    // The result first: a journal then never shows the next request started while this
    // one still looks in flight.
    deliver(&s, job.index, r);
    return promote_queued(s);
  }
  r.stderr_tail = (s.worker->drain_stderr(), s.worker->stderr_tail());
  if (auto e = s.worker->reap_exited(ms(opt.kill_wait_s)); e && e->exited)
    r.exit_status = e->status;
  drop_worker(s);
  judge_failure(s, job, std::move(r));
}

void Supervisor::Impl::judge_failure(Slot& s, const Job& job, ProbeResult r) {
  if (job.canary) return canary_done(s, false, describe(job, r));
  if (job.calibration) {
    // Not a probe of the run, so no verdict; but the device is in doubt until a canary.
    end_calibration();
    return begin_recovery(s, describe(job, r));
  }
  std::string what = describe(job, r);
  // It may have failed only because the device was already in trouble, or was busy with its
  // neighbours: then it is held until the canary speaks, and runs again (alone).
  if (recovering || crowded_hang(s, job, r)) deferred.push_back({job.index, job.attempt, std::move(r)});
  else deliver(&s, job.index, r);
  begin_recovery(s, what);
}

bool Supervisor::Impl::crowded_hang(const Slot& s, const Job& job, const ProbeResult& r) const {
  if (r.outcome != Outcome::hang || job.phase != Phase::execute || job.attempt >= 2 ||
      opt.timeouts.execute_s > 0)
    return false;
  return std::any_of(slots.begin(), slots.end(), [&](const Slot& o) {
    return &o != &s && o.job && !o.job->canary && !o.job->calibration;
  });
}

void Supervisor::Impl::fail_job(Slot& s, Outcome o, const std::string& what,
                                std::optional<ExitInfo> exit) {
  Job job = std::move(*s.job);
  s.job.reset();
  ProbeResult r = base_result(s, job);
  r.outcome = o;
  r.message = what;
  r.wall_ms = seconds_since(job.dispatched) * 1000;
  if (s.worker) {
    s.worker->drain_stderr();
    r.stderr_tail = s.worker->stderr_tail();
  }
  if (exit) {
    r.signal = exit->signal;
    if (exit->exited) r.exit_status = exit->status;
  }
  drop_worker(s);
  judge_failure(s, job, std::move(r));
}

void Supervisor::Impl::on_hang(Slot& s) {
  const Job& job = *s.job;
  double limit = std::chrono::duration<double>(job.deadline - job.phase_start).count();
  pid_t pid = s.worker->pid();
  auto exit = s.worker->kill(ms(opt.kill_wait_s));
  std::string what = fmt::format("no progress in {} within its deadline of {:.3g} s; killed "
                                 "worker {} (pid {})",
                                 to_string(job.phase), limit, s.index, pid);
  if (job.waited_s > 0)
    what +=
        fmt::format(" (the deadline included {:.3g} s the worker waited for a CPU)", job.waited_s);
  if (!exit)
    what += fmt::format("; it was still not dead {:.3g} s after SIGKILL", opt.kill_wait_s);
  fail_job(s, Outcome::hang, what, std::nullopt);
}

void Supervisor::Impl::on_death(Slot& s) {
  auto exit = s.worker->reap_exited(ms(opt.kill_wait_s));
  if (!s.job) return drop_worker(s);  // an idle worker's end costs no probe
  std::string how = exit ? exit->describe() : "closed its pipe and would not die";
  if (!ever_ready && s.job->phase == Phase::init && !s.job->canary) {
    // The program cannot run here (a library the loader cannot find, a missing interpreter),
    // which says nothing of the device, so no canary is tried.
    s.worker->drain_stderr();
    return stop_never_started(
        Code::kError, fmt::format("its program {} {}; its stderr: {}",
                                  opt.worker_argv.empty() ? "?" : opt.worker_argv[0], how,
                                  s.worker->stderr_tail()));
  }
  std::string what = fmt::format("worker {} (pid {}) died in {}: {}", s.index,
                                 s.worker->pid(), to_string(s.job->phase), how);
  if (exit && exit->exited) what += " before answering";
  fail_job(s, Outcome::crash, what, exit);
}

void Supervisor::Impl::on_protocol_error(Slot& s, const Status& st) {
  if (!s.job) return drop_worker(s);
  std::string what = fmt::format("worker protocol error: {} (worker {}, pid {}, killed)",
                                 st.message(), s.index, s.worker->pid());
  auto exit = s.worker->kill(ms(opt.kill_wait_s));
  (void)exit;  // the SIGKILL is ours, not the probe's
  fail_job(s, Outcome::crash, what, std::nullopt);
}

void Supervisor::Impl::on_fatal(Slot& s, const Message& m) {
  bool canary = s.job && s.job->canary;
  if (!ever_ready && !canary)
    return stop_never_started(m.code == Code::kOk ? Code::kError : m.code, m.message);
  if (!s.job) return drop_worker(s);
  auto exit = s.worker->reap_exited(ms(opt.kill_wait_s));
  fail_job(s, Outcome::crash, "worker could not start the engine: " + m.message, exit);
}

void Supervisor::Impl::stop_never_started(Code code, const std::string& why) {
  stop = Status(code, fmt::format("engine {} could not start in a worker: {}", opt.engine.name, why));
  kill_all();
}

void Supervisor::Impl::begin_recovery(const Slot& s, const std::string& what) {
  if (recovering) return;
  recovering = true;
  recovery_start = next_canary_at = Clock::now();
  canary_failures = 0;
  canary_slot = s.index;
  trigger = what;
}

void Supervisor::Impl::start_canary_if_due() {
  // The canary runs alone: a probe still running beside it could hold the device and
  // make a healthy device look wedged.
  for (const Slot& s : slots)
    if (s.job) return;
  if (Clock::now() < next_canary_at) return;
  Slot& s = slots[static_cast<size_t>(canary_slot)];
  drop_worker(s);  // always a fresh process
  if (!ensure_worker(s)) return;
  Message m;
  Job job = own_job(opt.canary, true, &m);
  job.canary = true;
  if (send_job(s, std::move(job), m)) emit(SupervisorEvent::canary_started, &s, &*s.job);
}

void Supervisor::Impl::canary_done(Slot& s, bool passed, const std::string& what) {
  if (passed) {
    recovering = false;
    solo = true;
    emit(SupervisorEvent::canary_passed, &s, nullptr, what);
    for (Deferred& d : deferred) {
      if (d.attempt >= 2) {
        deliver(nullptr, d.index, d.result);  // failed twice, the second time after a canary
        continue;
      }
      requeue(d.index, d.attempt + 1);
    }
    deferred.clear();
    return;
  }
  ++canary_failures;
  last_canary_failure = what;
  emit(SupervisorEvent::canary_failed, &s, nullptr, what, Outcome::wedged);
  drop_worker(s);
  if (canary_failures >= opt.canary_tries || seconds_since(recovery_start) >= opt.canary_budget_s)
    return wedge();
  // The device may need a moment after its last user was killed.
  next_canary_at = Clock::now() + std::chrono::milliseconds(250 * canary_failures);
}

void Supervisor::Impl::wedge() {
  std::string msg = fmt::format(
      "device wedged: after {}, a fresh worker failed the canary {} {} time(s) in {:.1f} s "
      "(last: {}). Every worker was stopped and no further probe was run; the results "
      "reported so far stand. Reset the device (e.g. nvidia-smi --gpu-reset, rocm-smi "
      "--gpureset) or reboot, then resume the run.",
      trigger, key(opt.canary), canary_failures, seconds_since(recovery_start),
      last_canary_failure);
  kill_all();
  pending.clear();
  deferred.clear();
  emit(SupervisorEvent::wedged, nullptr, nullptr, msg, Outcome::wedged);
  stop = Status::DeviceLost(msg);
}

}  // namespace convguard
