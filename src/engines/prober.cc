#include "convguard/prober.h"

namespace convguard {

Status run_all(Prober& prober, const std::vector<ProbeRequest>& requests,
               std::vector<ProbeResult>* results) {
  std::vector<ProbeResult> out(requests.size());
  std::vector<bool> seen(requests.size(), false);
  Status s = prober.run(requests, [&](size_t i, const ProbeResult& r) {
    if (i >= out.size()) return;
    out[i] = r;
    seen[i] = true;
  });
  for (size_t i = 0; i < requests.size(); ++i) {
    if (seen[i]) continue;
    ProbeResult& r = out[i];
    const Problem& p = requests[i].problem;
    r.problem = key(p);
    r.name = p.name;
    r.dir = p.dir;
    r.dt = p.dt;
    r.engine = prober.engine_name();
    r.algo = requests[i].algo;
    r.outcome = Outcome::suspect;
    r.message = s.ok() ? "no result reported" : "not run: " + s.to_string();
  }
  if (results) *results = std::move(out);
  return s;
}

}  // namespace convguard
