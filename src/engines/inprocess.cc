#include "convguard/inprocess.h"

#include "convguard/cpu_engines.h"

namespace convguard {

std::unique_ptr<Reference> make_cpu_reference(const std::string& judged_engine) {
  auto r = std::make_unique<Reference>(make_ref_engine(), make_onednn_engine());
  r->exclude(judged_engine);
  // sim does not say what it wraps; onednn is the likely base, and a fault-free
  // sim over onednn would otherwise be judged by itself.
  if (judged_engine == "sim") r->exclude("onednn");
  return r;
}

InProcessProber::InProcessProber(std::unique_ptr<Engine> engine, ProbeOptions opt)
    : engine_(std::move(engine)), opt_(opt) {
  if (engine_) reference_ = make_cpu_reference(engine_->name());
}

InProcessProber::InProcessProber(std::unique_ptr<Engine> engine,
                                 std::unique_ptr<Reference> reference, ProbeOptions opt)
    : engine_(std::move(engine)), reference_(std::move(reference)), opt_(opt) {}

InProcessProber::~InProcessProber() = default;

Status InProcessProber::do_run(const std::vector<ProbeRequest>& requests,
                               const ResultCallback& on_result,
                               const DispatchCallback& on_dispatch) {
  if (!engine_) return Status::Error("in-process prober has no engine");
  for (size_t i = 0; i < requests.size(); ++i) {
    if (on_dispatch) on_dispatch(i);
    bool lost = false;
    ProbeResult r = run_probe(*engine_, requests[i].problem, requests[i].algo, reference_.get(),
                              opt_, {}, &lost);
    if (on_result) on_result(i, r);
    if (lost)
      return Status::DeviceLost(engine_->name() + " lost its device while probing " + r.problem +
                                "; the remaining " + std::to_string(requests.size() - i - 1) +
                                " probes were not run");
  }
  return Status::Ok();
}

Result<std::vector<std::string>> InProcessProber::algorithms(const Problem& p) {
  if (!engine_) return Status::Error("in-process prober has no engine");
  CG_RETURN_IF_ERROR(engine_->init());
  return engine_->algorithms(p);
}

Result<std::map<std::string, std::string>> InProcessProber::fingerprint() {
  if (!engine_) return Status::Error("in-process prober has no engine");
  CG_RETURN_IF_ERROR(engine_->init());
  return engine_->fingerprint();
}

std::string InProcessProber::engine_name() const { return engine_ ? engine_->name() : ""; }

}  // namespace convguard
