// Warm spares: workers started ahead, their engine coming up while the others probe, so
// that a killed worker's replacement (and the canary after a hang) starts at once.
#include "isolation/supervisor_impl.h"

namespace convguard {

void Supervisor::Impl::top_up_spares() {
  while (static_cast<int>(spares.size()) < opt.spares) {
    // One device at most (the constructor saw to it): slot 0's.
    auto w = WorkerProc::start(worker_spawn_options(opt, 0), opt.engine, -1);
    if (!w.ok()) return;  // no spare: replacements are spawned when needed, as without
    // The canary problem once, in canary mode: the first convolution of a process loads
    // kernels and builds plans (about 0.25 s with cuDNN), which the canary after a kill
    // should not wait for.
    Message m;
    own_job(opt.canary, true, &m);
    if ((*w)->send(m).ok()) (*w)->set_warmup_id(m.id);
    spares.push_back(std::move(*w));
    if (opt.on_event) {
      SupervisorEvent e{SupervisorEvent::spawned,
                        -1,
                        spares.back()->pid(),
                        0,
                        Phase::init,
                        Outcome::ok,
                        Clock::now(),
                        "spare"};
      opt.on_event(e);
    }
  }
}

bool Supervisor::Impl::take_spare(Slot& s) {
  while (!spares.empty()) {
    std::unique_ptr<WorkerProc> w = std::move(spares.front());
    spares.pop_front();
    // A spare that died or failed to start is replaced, not blamed on a probe.
    if (!idle_healthy(*w)) {
      if (!w->kill(std::chrono::milliseconds(0))) graveyard.push_back(std::move(w));
      continue;
    }
    w->set_slot(s.index);
    s.worker = std::move(w);
    return true;
  }
  return false;
}

void Supervisor::Impl::stop_spares(std::chrono::milliseconds wait) {
  // A spare holds no work, and one still creating its context would read a stop only once
  // the context is up (about 0.5 s on a GPU): it is killed rather than asked.
  for (auto& w : spares) w->signal_kill();
  for (auto& w : spares) w->finish(wait);
  spares.clear();
}

}  // namespace convguard
