// Test doubles for the probers: a base that names itself "fake", and (for boundary_test,
// shrink_test and the report tests) a Prober whose outcome is a function of the problem (and
// of a seeded generator, for flaky rules).
#pragma once

#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "convguard/prober.h"

namespace convguard::testing {

/// A Prober named "fake" on device "fake" that offers only the default algorithm; test
/// probers derive from it and say how they run.
class FakeProberBase : public Prober {
 public:
  Result<std::vector<std::string>> algorithms(const Problem&) override {
    return std::vector<std::string>{"default"};
  }
  Result<std::map<std::string, std::string>> fingerprint() override {
    return std::map<std::string, std::string>{{"device", "fake"}};
  }
  std::string engine_name() const override { return "fake"; }
};

class FakeProber : public FakeProberBase {
 public:
  using Rule = std::function<Outcome(const Problem&, std::mt19937&)>;
  explicit FakeProber(Rule rule, uint32_t seed = 1) : rule_(std::move(rule)), rng_(seed) {}

  Status do_run(const std::vector<ProbeRequest>& requests, const ResultCallback& on_result,
                const DispatchCallback&) override {
    batches.push_back(requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
      ++probes;
      problems.push_back(requests[i].problem);
      on_result(i, result_for(requests[i]));
    }
    return Status::Ok();
  }

  int probes = 0;
  std::vector<size_t> batches;
  std::vector<Problem> problems;

 private:
  ProbeResult result_for(const ProbeRequest& rq) {
    ProbeResult r;
    r.problem = key(rq.problem);
    r.dir = rq.problem.dir;
    r.dt = rq.problem.dt;
    r.engine = "fake";
    r.algo = rq.algo;
    r.outcome = rule_(rq.problem, rng_);
    r.phase = r.outcome == Outcome::wrong         ? Phase::verify
              : r.outcome == Outcome::unsupported ? Phase::prepare
                                                  : Phase::execute;
    r.time_ms = r.outcome == Outcome::ok ? 0.2 : 0;
    return r;
  }
  Rule rule_;
  std::mt19937 rng_;
};

/// The seed's case: a 3x3 forward convolution hangs from 44x44 up.
inline Outcome seed_rule(const Problem& p, std::mt19937&) {
  return p.kh == 3 && p.ih >= 44 ? Outcome::hang : Outcome::ok;
}

/// Steps needed to bisect n points: ceil(log2(n)).
inline int log2_ceil(int64_t n) { return static_cast<int>(std::ceil(std::log2(double(n)))); }

}  // namespace convguard::testing
