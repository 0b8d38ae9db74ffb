// What the torch engine's CPU and GPU tests share: shapes and a probe against `ref`.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "convguard/cpu_engines.h"
#include "convguard/probe.h"
#include "engines/torch/torch_engine.h"

namespace convguard::torch_test {

struct Shape {
  const char* name;
  int64_t g, mb, ic, ih, iw, oc, kh, kw, sh, sw, ph, pw, dh, dw;
};

// Groups, depthwise, stride, dilation, asymmetric kernels, wide padding and mb > 1.
inline const Shape kShapes[] = {
    {"plain3x3", 1, 2, 16, 10, 10, 16, 3, 3, 1, 1, 1, 1, 0, 0},
    {"groups", 2, 1, 8, 9, 9, 12, 3, 3, 1, 1, 1, 1, 0, 0},
    {"depthwise", 16, 2, 16, 10, 10, 16, 3, 3, 1, 1, 1, 1, 0, 0},
    {"stride2", 1, 1, 8, 11, 11, 16, 3, 3, 2, 2, 1, 1, 0, 0},
    {"kernel1x3", 1, 1, 8, 7, 9, 8, 1, 3, 1, 1, 0, 1, 0, 0},
    {"kernel3x1", 1, 1, 8, 9, 7, 8, 3, 1, 1, 1, 1, 0, 0, 0},
    {"dilated", 1, 1, 8, 12, 12, 8, 3, 3, 1, 1, 2, 2, 1, 1},
    {"widepad", 1, 3, 4, 6, 6, 8, 3, 3, 1, 1, 2, 3, 0, 0},
    {"pointwise_s2", 1, 2, 32, 8, 8, 16, 1, 1, 2, 2, 0, 0, 0, 0},
};

inline Problem make_problem(const Shape& s, Dir dir, Layout layout, DataType dt) {
  Problem p;
  p.dir = dir, p.dt = dt, p.layout = layout;
  p.g = s.g, p.mb = s.mb, p.ic = s.ic, p.ih = s.ih, p.iw = s.iw, p.oc = s.oc;
  p.kh = s.kh, p.kw = s.kw, p.sh = s.sh, p.sw = s.sw, p.ph = s.ph, p.pw = s.pw;
  p.dh = s.dh, p.dw = s.dw;
  p.oh = conv_out_size(s.ih, s.kh, s.sh, s.ph, s.dh);
  p.ow = conv_out_size(s.iw, s.kw, s.sw, s.pw, s.dw);
  return p;
}

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
