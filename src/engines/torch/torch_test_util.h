// What the torch engine's CPU and GPU tests share: shapes and a probe against `ref`.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "convguard/cpu_engines.h"
#include "convguard/probe.h"
#include "engines/torch/torch_engine.h"
#include "testing/conv_shapes.h"

namespace convguard::torch_test {

using testing::kShapes;
using testing::make_problem;
using testing::Shape;

/// An initialised torch engine (a test failure where the build cannot make one).
inline std::unique_ptr<Engine> torch_engine() {
  auto e = make_torch_engine();
  EXPECT_TRUE(e.ok()) << e.status().to_string();
  if (!e.ok()) return nullptr;
  EXPECT_TRUE((*e)->init().ok());
  return std::move(*e);
}

/// The reference every test judges with: ref, and onednn above ref's FLOP limit.
inline Reference make_reference() { return Reference(make_ref_engine(), make_onednn_engine()); }

/// Probes p with every algorithm torch lists; each must be ok or one of `also`.
/// Returns how many ran ok.
inline int probe_all_algorithms(Engine& e, Reference& ref, const Problem& p,
                                const std::vector<Outcome>& also = {}) {
  int ok = 0;
  for (const std::string& algo : e.algorithms(p)) {
    SCOPED_TRACE(algo);
    const ProbeResult r = run_probe(e, p, algo, &ref, ProbeOptions{});
    const bool passes =
        r.outcome == Outcome::ok || std::find(also.begin(), also.end(), r.outcome) != also.end();
    EXPECT_TRUE(passes) << to_string(r.outcome) << " in " << to_string(r.phase) << ": "
                        << r.message;
    ok += r.outcome == Outcome::ok;
  }
  return ok;
}

}  // namespace convguard::torch_test
