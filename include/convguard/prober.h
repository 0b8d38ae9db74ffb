// The seam between what decides which probes to run (sweeps, boundary search,
// shrinking, the guard's learning) and what runs them (the isolated supervisor,
// an in-process runner, a store that reuses earlier results).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "convguard/outcome.h"
#include "convguard/problem.h"
#include "convguard/status.h"

namespace convguard {

struct ProbeRequest {
  Problem problem;
  std::string algo = "default";
};

/// Called once per request as its result is known, in completion order.
using ResultCallback = std::function<void(size_t index, const ProbeResult& result)>;
/// Called just before request `index` is handed to a worker (the store journals it).
using DispatchCallback = std::function<void(size_t index)>;

class Prober {
 public:
  virtual ~Prober() = default;
  /// Runs every request and reports each result through `on_result`. `on_dispatch(i)`, when
  /// given, is called as request i becomes the one its executor runs (from a worker's queue:
  /// as the worker moves on to it; at most one per worker is announced and unreported); see
  /// reports_dispatch(). Returns a non-ok Status
  /// only when the harness cannot go on (wedged device: Code::kDeviceLost; store
  /// unusable: Code::kIo); results already reported stand. Requests not run then get no
  /// callback.
  Status run(const std::vector<ProbeRequest>& requests, const ResultCallback& on_result,
             const DispatchCallback& on_dispatch = {}) {
    return do_run(requests, on_result, on_dispatch);
  }
  /// Whether run() announces every request through `on_dispatch` before it can start.
  /// Only then can a store that journals the announcements name exactly the probe that
  /// was in flight when the process died.
  virtual bool reports_dispatch() const { return false; }
  /// Algorithms the engine offers for p, its default first (asked of a worker when
  /// isolated: listing may touch the device).
  virtual Result<std::vector<std::string>> algorithms(const Problem& p) = 0;
  /// The engine's fingerprint (asked of a worker when isolated), for the store.
  virtual Result<std::map<std::string, std::string>> fingerprint() = 0;
  /// Engine label used in results ("onednn", "sim").
  virtual std::string engine_name() const = 0;

 protected:
  /// run()'s implementation, under run()'s contract.
  virtual Status do_run(const std::vector<ProbeRequest>& requests, const ResultCallback& on_result,
                        const DispatchCallback& on_dispatch) = 0;
};

/// Convenience: runs requests and returns results in request order. Missing results
/// (harness stopped) are left with outcome `suspect` and the returned Status says why.
Status run_all(Prober& prober, const std::vector<ProbeRequest>& requests,
               std::vector<ProbeResult>* results);

}  // namespace convguard
