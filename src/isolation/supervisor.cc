// The supervisor's dispatch and poll loop; verdicts and recovery are in recovery.cc.
#include "isolation/supervisor_impl.h"

#include <poll.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "convguard/inprocess.h"

namespace convguard {
namespace {

std::chrono::milliseconds ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(seconds * 1000)));
}

std::string fmt_seconds(const std::string& what, double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g s", s);
  return what + buf;
}

}  // namespace

SpawnOptions worker_spawn_options(const SupervisorOptions& opt, int slot) {
  SpawnOptions so;
  so.argv = opt.worker_argv;
  so.env_set = opt.worker_env;
  if (!opt.devices.empty()) {
    const std::string& dev = opt.devices[static_cast<size_t>(slot) % opt.devices.size()];
    so.env_set["CUDA_VISIBLE_DEVICES"] = dev;
    so.env_set["HIP_VISIBLE_DEVICES"] = dev;
  }
  return so;
}

const char* to_string(SupervisorEvent::Kind k) {
  switch (k) {
    case SupervisorEvent::spawned: return "spawned";
    case SupervisorEvent::dispatched: return "dispatched";
    case SupervisorEvent::phase_change: return "phase";
    case SupervisorEvent::verdict: return "verdict";
    case SupervisorEvent::canary_started: return "canary_started";
    case SupervisorEvent::canary_passed: return "canary_passed";
    case SupervisorEvent::canary_failed: return "canary_failed";
    case SupervisorEvent::wedged: return "wedged";
    case SupervisorEvent::calibrated: return "calibrated";
  }
  return "?";
}

Problem default_canary() {
  Problem p;
  p.dir = Dir::FWD_D;
  p.mb = 1;
  p.ic = 4, p.ih = 8, p.iw = 8;
  p.oc = 4, p.oh = 8, p.ow = 8;
  p.kh = 3, p.kw = 3;
  p.ph = 1, p.pw = 1;
  return p;
}

Supervisor::Impl::Impl(SupervisorOptions o)
    : opt(std::move(o)), model(opt.timeouts.prior_gflops) {
  if (opt.jobs < 1) opt.jobs = 1;
  if (opt.canary.ic == 0) opt.canary = default_canary();
  if (opt.canary_tries < 1) opt.canary_tries = 1;
  if (opt.devices.size() > 1) opt.spares = 0;
  calibrated = !opt.calibrate;
  slots.resize(static_cast<size_t>(opt.jobs));
  for (int i = 0; i < opt.jobs; ++i) slots[static_cast<size_t>(i)].index = i;
}

Supervisor::Supervisor(SupervisorOptions opt) : impl_(std::make_unique<Impl>(std::move(opt))) {}

Supervisor::~Supervisor() {
  impl_->end_slot_workers();
  if (impl_->opt.wait_for_workers) impl_->reap_all();
  else impl_->release_all();
}

void Supervisor::Impl::end_slot_workers() {
  // Everyone is told first, then waited for: the workers exit in parallel. A worker not yet
  // ready would read a stop only after its engine came up, and a busy one after its probe
  // (never, if it hangs): those are killed instead.
  for (Slot& s : slots)
    if (s.worker && s.worker->ready() && !s.job && s.queued.empty()) s.worker->request_stop();
    else if (s.worker) s.worker->signal_kill();
}

void Supervisor::Impl::reap_all() {
  for (Slot& s : slots)
    if (s.worker) s.worker->finish(std::chrono::milliseconds(500));
  stop_spares(std::chrono::milliseconds(500));
  for (auto& w : graveyard) w->finish(std::chrono::milliseconds(100));
}

void Supervisor::Impl::release_all() {
  for (Slot& s : slots)
    if (s.worker) s.worker->release();
  for (auto& w : spares) w->signal_kill(), w->release();
  for (auto& w : graveyard) w->release();  // killed already
}

Status Supervisor::do_run(const std::vector<ProbeRequest>& requests, const ResultCallback& cb,
                          const DispatchCallback& on_dispatch) {
  return impl_->run(requests, cb, on_dispatch);
}

Status Supervisor::start() { return impl_->start_all(); }

Status Supervisor::Impl::start_all() {
  for (Slot& s : slots)
    if (!s.job && !ensure_worker(s)) {
      Status st = stop;
      stop = Status::Ok();
      return st;
    }
  top_up_spares();
  auto deadline = Clock::now() + ms(opt.timeouts.init_s);
  for (;;) {
    std::vector<struct pollfd> fds;
    for (Slot& s : slots)
      if (s.worker && !s.worker->ready()) fds.push_back({s.worker->result_fd(), POLLIN, 0});
    if (fds.empty()) return Status::Ok();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    for (Slot& s : slots) {
      if (!s.worker || s.worker->ready()) continue;
      bool ok = s.worker->pump().ok();
      for (;;) {
        auto m = s.worker->next();
        if (!m.ok()) ok = false;
        if (!m.ok() || !m->has_value()) break;
        if ((*m)->type == MsgType::ready) mark_ready(*s.worker, /*timely=*/true);
        if ((*m)->type == MsgType::fatal) {
          Status st((*m)->code == Code::kOk ? Code::kError : (*m)->code,
                    "engine " + opt.engine.name + " could not start in a worker: " + (*m)->message);
          kill_all();
          return st;
        }
      }
      if (!ok || s.worker->eof()) {
        std::string tail = (s.worker->drain_stderr(), s.worker->stderr_tail());
        drop_worker(s);
        return Status::Error("a worker died while starting engine " + opt.engine.name +
                             (tail.empty() ? "" : "; stderr: " + tail));
      }
    }
  }
  kill_all();
  return Status::Error(fmt_seconds("workers did not start engine " + opt.engine.name + " within ",
                                   opt.timeouts.init_s));
}

std::string Supervisor::engine_name() const { return impl_->opt.engine.name; }

void Supervisor::seed_speed(double gflops) {
  if (!(gflops > 0)) return;
  impl_->model.set_speed(gflops);
  impl_->speed_seeded = true;
}

void Supervisor::Impl::emit(SupervisorEvent::Kind k, const Slot* s, const Job* job,
                            std::string msg, Outcome o) const {
  if (!opt.on_event) return;
  SupervisorEvent e{k, s ? s->index : -1, s && s->worker ? s->worker->pid() : 0,
                    job ? job->index : 0, job ? job->phase : Phase::init, o, Clock::now(),
                    std::move(msg)};
  if (job) {
    e.deadline_s = std::chrono::duration<double>(job->deadline - job->phase_start).count();
    if (job->phase == Phase::execute) e.expected_s = model.expected_s(job->flops, job->calls);
  }
  opt.on_event(e);
}

Status Supervisor::Impl::run(const std::vector<ProbeRequest>& reqs, const ResultCallback& cb,
                             const DispatchCallback& dispatch_cb) {
  requests = &reqs;
  on_result = &cb;
  on_dispatch = &dispatch_cb;
  pending.clear();
  deferred.clear();
  stop = Status::Ok();
  for (size_t i = 0; i < reqs.size(); ++i) pending.emplace_back(i, 1);
  if (recovering) {  // a new run after wedged gets fresh tries
    canary_failures = 0;
    recovery_start = next_canary_at = Clock::now();
  }
  while (stop.ok() && work_left()) {
    dispatch();
    if (!stop.ok()) break;
    wait_and_handle();
    check_deadlines();
    reap_graveyard();
  }
  requests = nullptr;
  on_result = nullptr;
  on_dispatch = nullptr;
  return stop;
}

bool Supervisor::Impl::work_left() const {
  // Held probes count: they wait for the canary (deferred is only filled while
  // recovering), and ending the run before it speaks would lose their verdicts.
  return !pending.empty() || !deferred.empty() ||
         std::any_of(slots.begin(), slots.end(), [](const Slot& s) { return s.job; });
}

void Supervisor::Impl::dispatch() {
  if (recovering)
    start_canary_if_due();
  else if (!calibrated)
    calibrate_step();
  // Not `else`: calibration may just have ended, and the loop would otherwise sleep.
  if (!recovering && calibrated) dispatch_probes();
  // After the slots' own workers, so that spares never delay the first probe.
  if (stop.ok()) top_up_spares();
}

void Supervisor::Impl::dispatch_probes() {
  if (solo) {
    if (std::any_of(slots.begin(), slots.end(), [](const Slot& s) { return s.job; })) return;
    if (pending.empty() || !stop.ok()) return;
    // The canary's slot: its worker has just proven the device.
    Slot& s = slots[static_cast<size_t>(canary_slot)];
    auto [index, attempt] = pending.front();
    pending.pop_front();
    return start_probe(s, index, attempt);
  }
  // A slot that took a spare still warming up (its context and first convolution: about
  // 0.5 s on a GPU) gets no probe while a warm worker can queue it: it would wait there. A
  // freshly spawned worker does get one, so that a worker that cannot start is judged as
  // before rather than respawned quietly.
  const bool any_warm = std::any_of(slots.begin(), slots.end(), [](const Slot& s) {
    return s.worker && s.worker->warm();
  });
  for (Slot& s : slots) {
    if (s.job || pending.empty() || !stop.ok()) continue;
    if (any_warm && (!ensure_worker(s) || s.worker->warmup_id() != 0)) continue;
    auto [index, attempt] = pending.front();
    pending.pop_front();
    start_probe(s, index, attempt);
  }
  // Further passes keep request order: every idle worker gets work before any queues,
  // and queues grow evenly.
  for (int depth = 0; depth < opt.queue_depth; ++depth)
    for (Slot& s : slots) {
      if (!s.job || s.queued.size() != static_cast<size_t>(depth) ||
          s.queued.size() >= queue_target(s) || !s.worker || !s.worker->ready() ||
          pending.empty() || !stop.ok())
        continue;
      auto [index, attempt] = pending.front();
      pending.pop_front();
      queue_probe(s, index, attempt);
    }
}

void Supervisor::Impl::observe_pace(Slot& s, Clock::time_point now) {
  // Only busy time counts: a slot that runs dry between runs or while the supervisor
  // is late would otherwise look slow and keep a short queue, which keeps it running dry.
  ++s.pace_done;
  double busy = s.pace_busy_s + std::chrono::duration<double>(now - s.busy_since).count();
  s.busy_since = now;
  s.pace_busy_s = busy;
  if (busy < 0.01) return;
  double each = busy / s.pace_done;
  s.probe_s = s.probe_s > 0 ? 0.7 * s.probe_s + 0.3 * each : each;
  s.pace_busy_s = 0;
  s.pace_done = 0;
}

size_t Supervisor::Impl::queue_target(const Slot& s) const {
  if (opt.queue_depth <= 0) return 0;
  const double cap = opt.queue_depth;
  if (s.probe_s <= 0) return static_cast<size_t>(std::min(2.0, cap));
  return static_cast<size_t>(std::clamp(std::ceil(opt.queue_ahead_s / s.probe_s), 1.0, cap));
}

void Supervisor::Impl::requeue(size_t index, int attempt) {
  auto pos = std::lower_bound(pending.begin(), pending.end(), std::pair{index, 0});
  pending.insert(pos, {index, attempt});
}

void Supervisor::Impl::promote_queued(Slot& s) {
  if (s.queued.empty()) return;
  s.job = std::move(s.queued.front());
  s.queued.pop_front();
  if (on_dispatch && *on_dispatch) (*on_dispatch)(s.job->index);
  set_phase(*s.job, Phase::init, Clock::now());
}

bool Supervisor::Impl::ensure_worker(Slot& s) {
  // An idle worker may have died or babbled since its last probe; that is no probe's
  // fault, so it is replaced quietly rather than blamed on the next one.
  if (s.worker) {
    if (idle_healthy(*s.worker)) return true;
    drop_worker(s);
  }
  if (take_spare(s)) {
    top_up_spares();
    return true;
  }
  auto w = WorkerProc::start(worker_spawn_options(opt, s.index), opt.engine, s.index);
  if (!w.ok()) {
    stop = Status(w.status().code(), "cannot start a worker: " + w.status().message());
    return false;
  }
  s.worker = std::move(*w);
  emit(SupervisorEvent::spawned, &s, nullptr);
  return true;
}

bool Supervisor::Impl::idle_healthy(WorkerProc& w) {
  bool healthy = w.pump().ok();
  while (healthy) {
    auto m = w.next();
    if (!m.ok() || !m->has_value()) {
      healthy = m.ok();
      break;
    }
    const Message& got = **m;
    if (got.type == MsgType::ready) {
      mark_ready(w, /*timely=*/false);
    } else if (got.type == MsgType::result && w.warmup_id() && got.id == w.warmup_id()) {
      healthy = got.result.outcome == Outcome::ok;
      w.set_warmup_id(0);
    } else if (got.type != MsgType::phase) {
      healthy = false;
    }
  }
  return healthy && !w.eof();
}

bool Supervisor::Impl::send_job(Slot& s, Job job, const Message& m) {
  auto now = Clock::now();
  job.dispatched = now;
  set_phase(job, Phase::init, now);
  s.job = std::move(job);
  s.busy_since = now;  // the slot was idle
  // A worker that cannot take the request gets a second chance with a fresh process;
  // a failure after that is the probe's (it shows up as the worker's death).
  if (!s.worker->send(m).ok()) {
    drop_worker(s);
    if (!ensure_worker(s)) return false;
    (void)s.worker->send(m);
  }
  return true;
}

Job Supervisor::Impl::make_job(size_t index, int attempt, Message* m) {
  const ProbeRequest& req = (*requests)[index];
  Job job;
  job.index = index;
  job.attempt = attempt;
  job.id = next_id++;
  job.problem = req.problem;
  job.algo = req.algo;
  job.flops = req.problem.flops();
  m->type = MsgType::probe;
  m->id = job.id;
  m->problem = to_string(req.problem);
  m->algo = req.algo;
  m->verify = opt.probe.verify;
  m->exec = opt.probe.exec;
  m->seed = opt.probe.seed;
  job.calls = m->exec.warmup + m->exec.repeats;
  return job;
}

void Supervisor::Impl::start_probe(Slot& s, size_t index, int attempt) {
  if (!ensure_worker(s)) return;
  if (on_dispatch && *on_dispatch) (*on_dispatch)(index);
  Message m;
  Job job = make_job(index, attempt, &m);
  if (send_job(s, std::move(job), m)) emit(SupervisorEvent::dispatched, &s, &*s.job);
}

// A queued request is announced when its worker moves on to it (promote_queued): until
// then it cannot have started, and a store that journals the announcements names at most
// one probe per worker as in flight when the process dies.
void Supervisor::Impl::queue_probe(Slot& s, size_t index, int attempt) {
  Message m;
  Job job = make_job(index, attempt, &m);
  job.dispatched = Clock::now();
  if (!s.worker->send(m).ok()) return requeue(index, attempt);  // the worker's end shows soon
  s.queued.push_back(std::move(job));
  emit(SupervisorEvent::dispatched, &s, &s.queued.back());
}

void Supervisor::Impl::mark_ready(WorkerProc& w, bool timely) {
  w.set_ready();
  ever_ready = true;
  if (timely) slowest_start_s = std::max(slowest_start_s, w.startup_s());
}

void Supervisor::Impl::set_phase(Job& job, Phase ph, Clock::time_point now) {
  job.phase = ph;
  job.phase_start = now;
  job.waited_s = 0;
  // The canary and calibration run first calls in fresh processes, and a false hang of
  // theirs would stop the run: they keep the floor that needs no measured jitter.
  PhaseTimeouts t = opt.timeouts;
  if (!job.real()) t.jitter_factor = 0;
  job.own_s = phase_deadline_s(t, model, ph, job.flops, job.calls);
  if (job.canary && canary_failures > 0 && (ph == Phase::init || ph == Phase::prepare))
    job.own_s = canary_retry_deadline_s(
        job.own_s, ph == Phase::init ? slowest_start_s : slowest_canary_prepare_s,
        opt.canary_retry_factor, opt.canary_retry_min_s);
  job.deadline = now + ms(job.own_s);
  if (job.canary) job.deadline = std::min(job.deadline, recovery_start + ms(opt.canary_budget_s));
}

void Supervisor::Impl::end_execute(Job& job, Clock::time_point now) {
  job.exec_s = std::chrono::duration<double>(now - job.exec_start).count();
}

void Supervisor::Impl::observe_execute(const Job& job, const ProbeResult& r) {
  if (job.exec_s < 0 || r.outcome != Outcome::ok || !(r.time_ms > 0)) return;
  // The speed is learnt from the engine's own clock (the median of the calls), so that
  // pipes and a busy scheduler do not pass for a slow engine; they are the overhead, which
  // sets the floor.
  if (job.real()) model.observe(job.flops, 1, r.time_ms * 1e-3);
  model.observe_overhead(job.exec_s - job.calls * r.time_ms * 1e-3);
}

Job Supervisor::Impl::own_job(const Problem& p, bool verify, Message* m) {
  Job job;
  job.id = next_id++;
  job.problem = p;
  job.algo = kDefaultAlgo;
  job.flops = p.flops();
  m->type = MsgType::probe;
  m->id = job.id;
  m->problem = to_string(p);
  m->algo = kDefaultAlgo;
  m->canary = true;
  m->verify = verify;
  job.calls = m->exec.warmup + m->exec.repeats;
  m->seed = opt.probe.seed;
  return job;
}

bool Supervisor::Impl::all_fed() const {
  bool busy = false;
  for (const Slot& s : slots) {
    if (!s.job) continue;
    if (s.queued.empty()) return false;
    busy = true;
  }
  return busy;
}

void Supervisor::Impl::wait_and_handle() {
  // Every message would otherwise wake the supervisor, and on a busy machine each
  // wake-up can cost a worker its CPU. While every worker has requests queued, reading
  // a millisecond late loses nothing: deadlines are seconds, and phase times are only
  // learned from phases long enough for that not to matter.
  if (all_fed()) {
    auto until = Clock::now() + std::chrono::milliseconds(1);
    for (const Slot& s : slots)
      if (s.job) until = std::min(until, s.job->deadline);
    std::this_thread::sleep_until(until);
  }
  std::vector<struct pollfd> fds;
  std::vector<Slot*> owners;
  auto now = Clock::now();
  auto wake = now + std::chrono::seconds(1);
  for (Slot& s : slots) {
    if (s.job) wake = std::min(wake, s.job->deadline);
    if (!s.worker) continue;
    fds.push_back({s.worker->result_fd(), POLLIN, 0});
    owners.push_back(&s);
    if (s.worker->stderr_fd() >= 0) {
      fds.push_back({s.worker->stderr_fd(), POLLIN, 0});
      owners.push_back(&s);
    }
  }
  if (recovering) wake = std::min(wake, next_canary_at);
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count() + 1;
  int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(wait, 0)));
  if (n <= 0) return;
  std::vector<Slot*> ready;
  for (size_t i = 0; i < fds.size(); ++i)
    if (fds[i].revents && std::find(ready.begin(), ready.end(), owners[i]) == ready.end())
      ready.push_back(owners[i]);
  for (Slot* s : ready)
    if (s->worker) handle_readable(*s);
}

void Supervisor::Impl::handle_readable(Slot& s) {
  WorkerProc* w = s.worker.get();
  Status st = w->pump();
  if (!st.ok()) return on_protocol_error(s, st);
  for (;;) {
    auto m = w->next();
    if (!m.ok()) return on_protocol_error(s, m.status());
    if (!m->has_value()) break;
    on_message(s, **m);
    if (s.worker.get() != w) return;  // the message ended this worker
  }
  if (w->eof()) on_death(s);
}

void Supervisor::Impl::on_message(Slot& s, const Message& m) {
  // A spare taken before its warm-up ended finishes it first.
  const uint64_t warmup = s.worker->warmup_id();
  if (warmup && m.id == warmup && (m.type == MsgType::phase || m.type == MsgType::result)) {
    if (m.type == MsgType::result) s.worker->set_warmup_id(0);
    return;
  }
  switch (m.type) {
    case MsgType::ready: mark_ready(*s.worker, /*timely=*/true); return;
    case MsgType::phase: return on_phase(s, m);
    case MsgType::result: return on_result_msg(s, m);
    case MsgType::fatal: return on_fatal(s, m);
    default:
      on_protocol_error(s, Status::Corrupt(std::string("unexpected ") + to_string(m.type) +
                                           " message"));
  }
}

void Supervisor::Impl::on_phase(Slot& s, const Message& m) {
  if (!s.job) return;  // the init of an idle worker: nothing is waiting on it
  if (m.id != 0 && m.id != s.job->id)
    return on_protocol_error(s, Status::Corrupt("phase for unknown request " +
                                                std::to_string(m.id)));
  Job& job = *s.job;
  auto now = Clock::now();
  if (job.phase == Phase::execute && m.phase == Phase::verify) end_execute(job, now);
  if (job.canary && job.phase == Phase::prepare)
    slowest_canary_prepare_s = std::max(
        slowest_canary_prepare_s, std::chrono::duration<double>(now - job.phase_start).count());
  if (m.phase == Phase::execute) {
    job.exec_start = now;
    job.sched_start = job.sched_last = sched_times(s.worker->pid());
  }
  set_phase(job, m.phase, now);
  emit(SupervisorEvent::phase_change, &s, &job);
}

void Supervisor::Impl::on_result_msg(Slot& s, const Message& m) {
  if (!s.job || m.id != s.job->id)
    return on_protocol_error(s, Status::Corrupt("result for unknown request " +
                                                std::to_string(m.id)));
  Job& job = *s.job;
  auto now = Clock::now();
  if (job.phase == Phase::execute && m.result.outcome == Outcome::ok) end_execute(job, now);
  observe_execute(job, m.result);
  if (job.real()) observe_pace(s, now);
  finish_job(s, m.result);
}

void Supervisor::Impl::check_deadlines() {
  auto now = Clock::now();
  for (Slot& s : slots)
    if (s.job && s.worker && now >= s.job->deadline && !moved_for_waits(s, now)) on_hang(s);
}

bool Supervisor::Impl::moved_for_waits(Slot& s, Clock::time_point now) {
  // Short execute deadlines are only fair to a worker that had a CPU: on a machine with
  // more runnable threads than cores, a healthy probe can wait longer than the floor.
  // One that got a quarter of its deadline on a CPU had 2.5 times what the cost model
  // expects it to need (deadlines are 10 times that), so a spinning hang that waits too
  // is judged soon after, while one stuck asleep (a GPU sync) never waits.
  constexpr double kMinWaitS = 0.005, kFairRun = 0.25, kMaxMoves = 5;
  Job& job = *s.job;
  if (job.phase != Phase::execute) return false;
  const std::map<int, SchedTimes> times = sched_times(s.worker->pid());
  double ran = 0, waited = 0;
  for (const auto& [tid, t] : times) {
    auto start = job.sched_start.find(tid), last = job.sched_last.find(tid);
    ran = std::max(ran, t.run_s - (start == job.sched_start.end() ? 0.0 : start->second.run_s));
    waited =
        std::max(waited, t.wait_s - (last == job.sched_last.end() ? 0.0 : last->second.wait_s));
  }
  if (ran >= kFairRun * job.own_s || waited < kMinWaitS ||
      job.waited_s + waited > kMaxMoves * job.own_s)
    return false;
  job.sched_last = times;
  job.waited_s += waited;
  job.deadline = now + ms(waited);
  return true;
}

void Supervisor::Impl::drop_worker(Slot& s) {
  // A queued request never started: it is nobody's verdict and runs again later.
  for (const Job& q : s.queued) requeue(q.index, q.attempt);
  s.queued.clear();
  if (!s.worker) return;
  if (!s.worker->kill(ms(opt.kill_wait_s))) graveyard.push_back(std::move(s.worker));
  s.worker.reset();
}

void Supervisor::Impl::reap_graveyard() {
  for (auto& w : graveyard)
    if (w && w->kill(std::chrono::milliseconds(0))) w.reset();
  std::erase(graveyard, nullptr);
}

void Supervisor::Impl::kill_all() {
  for (Slot& s : slots) {
    s.job.reset();
    drop_worker(s);
  }
  stop_spares(std::chrono::milliseconds(0));
  pending.clear();
}

Result<Message> Supervisor::Impl::ask(Message req, MsgType want) {
  Slot& s = slots[0];
  if (!ensure_worker(s)) {
    Status st = stop;
    stop = Status::Ok();
    return st;
  }
  req.id = next_id++;
  const auto init_deadline = Clock::now() + ms(opt.timeouts.init_s);
  std::optional<Clock::time_point> answer_deadline;  // prepare_s from the moment it is ready
  if (!s.worker->send(req).ok()) {
    drop_worker(s);
    return Status::Error("worker would not take a " + std::string(to_string(req.type)) + " request");
  }
  for (;;) {
    const auto now = Clock::now();
    // A worker that cannot even start the engine says more about the device than about
    // the question: it is named at the init deadline, not after init and prepare both.
    if (!s.worker->ready() && now >= init_deadline) {
      drop_worker(s);
      return Status::DeviceLost(fmt::format(
          "the worker did not start the {} engine within the init deadline of {:g} s (asked "
          "for {}); the device may be wedged or its library stuck loading",
          opt.engine.name, opt.timeouts.init_s, to_string(req.type)));
    }
    if (s.worker->ready() && !answer_deadline) answer_deadline = now + ms(opt.timeouts.prepare_s);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        answer_deadline.value_or(init_deadline) - now);
    if (answer_deadline && left.count() <= 0) {
      drop_worker(s);
      return Status::Error("worker did not answer " + std::string(to_string(req.type)) +
                           " in time; killed it");
    }
    struct pollfd p = {s.worker->result_fd(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (!s.worker->pump().ok()) break;
    for (;;) {
      auto m = s.worker->next();
      if (!m.ok() || !m->has_value()) break;
      const Message& got = **m;
      if (got.type == MsgType::ready) mark_ready(*s.worker, /*timely=*/true);
      if (got.type == MsgType::fatal) {
        drop_worker(s);
        return Status(got.code, "worker could not start the engine: " + got.message);
      }
      if (got.type == want && got.id == req.id) {
        if (got.code != Code::kOk) return Status(got.code, got.message);
        return got;
      }
    }
    if (s.worker->eof()) break;
  }
  std::string tail = (s.worker->drain_stderr(), s.worker->stderr_tail());
  drop_worker(s);
  return Status::Error("worker died or failed while answering " + std::string(to_string(req.type)) +
                       (tail.empty() ? "" : "; stderr: " + tail));
}

Result<std::vector<std::string>> Supervisor::algorithms(const Problem& p) {
  Message m;
  m.type = MsgType::list_algorithms;
  m.problem = to_string(p);
  auto r = impl_->ask(std::move(m), MsgType::algorithms);
  if (!r.ok()) return r.status();
  return r->algos;
}

Result<std::map<std::string, std::string>> Supervisor::fingerprint() {
  Message m;
  m.type = MsgType::fingerprint;
  auto r = impl_->ask(std::move(m), MsgType::fingerprint_reply);
  if (!r.ok()) return r.status();
  return r->fingerprint;
}

}  // namespace convguard
