#include <numeric>

#include <gtest/gtest.h>

#include "convguard/cpu_engines.h"
#include "convguard/fill.h"

namespace convguard {
namespace {

// A square-input problem with output sizes deduced as benchdnn does.
Problem conv(Dir dir, int64_t ic, int64_t ih, int64_t oc, int64_t kh, int64_t sh = 1,
             int64_t ph = 0, int64_t dh = 0, int64_t g = 1, int64_t mb = 1) {
  Problem p;
  p.dir = dir;
  p.g = g;
  p.mb = mb;
  p.ic = ic;
  p.ih = p.iw = ih;
  p.oc = oc;
  p.kh = p.kw = kh;
  p.sh = p.sw = sh;
  p.ph = p.pw = ph;
  p.dh = p.dw = dh;
  p.oh = p.ow = (ih - ((kh - 1) * (dh + 1) + 1) + 2 * ph) / sh + 1;
  return p;
}

ConvTensors run_ref(const Problem& p, ConvTensors t) {
  auto e = make_ref_engine();
  EXPECT_TRUE(e->init().ok());
  auto prepared = e->prepare(p, "default");
  EXPECT_TRUE(prepared.ok()) << prepared.status().to_string();
  if (!prepared.ok()) return t;
  resize_for(p, t);  // keeps the given inputs, sizes the outputs
  poison_outputs(p, t);
  auto ms = (*prepared)->execute(t, {});
  EXPECT_TRUE(ms.ok()) << ms.status().to_string();
  return t;
}

ConvTensors io(std::vector<float> src, std::vector<float> wei, std::vector<float> bia,
               std::vector<float> dst) {
  ConvTensors t;
  t.src = std::move(src), t.wei = std::move(wei), t.bia = std::move(bia), t.dst = std::move(dst);
  return t;
}

std::vector<float> iota(size_t n, float from = 1) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), from);
  return v;
}

TEST(RefEngine, ForwardAddsTheProductsUnderTheKernel) {
  const Problem p = conv(Dir::FWD_D, 1, 3, 1, 2);
  const ConvTensors t = run_ref(p, io(iota(9), {1, 0, 0, 1}, {}, {}));
  EXPECT_EQ(t.dst, (std::vector<float>{6, 8, 12, 14}));
}

TEST(RefEngine, ForwardWithBiasAddsTheBiasOfTheOutputChannel) {
  const Problem p = conv(Dir::FWD_B, 1, 3, 1, 2);
  const ConvTensors t = run_ref(p, io(iota(9), {1, 0, 0, 1}, {10}, {}));
  EXPECT_EQ(t.dst, (std::vector<float>{16, 18, 22, 24}));
}

TEST(RefEngine, StrideAndPaddingSkipInputsOutsideTheImage) {
  const Problem p = conv(Dir::FWD_D, 1, 3, 1, 3, /*sh=*/2, /*ph=*/1);
  ASSERT_EQ(p.oh, 2);
  const ConvTensors t = run_ref(p, io(iota(9), std::vector<float>(9, 1), {}, {}));
  EXPECT_EQ(t.dst, (std::vector<float>{12, 16, 24, 28}));
}

TEST(RefEngine, DilationSpreadsTheKernelTaps) {
  const Problem p = conv(Dir::FWD_D, 1, 3, 1, 2, 1, 0, /*dh=*/1);
  ASSERT_EQ(p.oh, 1);
  const ConvTensors t = run_ref(p, io(iota(9), {1, 2, 3, 4}, {}, {}));
  EXPECT_EQ(t.dst, (std::vector<float>{1 * 1 + 2 * 3 + 3 * 7 + 4 * 9}));
}

TEST(RefEngine, GroupsKeepChannelsApart) {
  const Problem p = conv(Dir::FWD_D, 2, 1, 4, 1, 1, 0, 0, /*g=*/2);
  // Group 0 maps input channel 0 to outputs 0,1; group 1 maps channel 1 to outputs 2,3.
  const ConvTensors t = run_ref(p, io({3, 5}, {2, 4, 7, 11}, {}, {}));
  EXPECT_EQ(t.dst, (std::vector<float>{6, 12, 35, 55}));
}

TEST(RefEngine, BackwardDataScattersEachOutputThroughTheKernel) {
  const Problem p = conv(Dir::BWD_D, 1, 3, 1, 2);
  const ConvTensors t = run_ref(p, io({}, {1, 0, 0, 1}, {}, {1, 2, 3, 4}));
  EXPECT_EQ(t.src, (std::vector<float>{1, 2, 0, 3, 5, 2, 0, 3, 4}));
}

TEST(RefEngine, BackwardWeightsCorrelatesInputWithOutputGradient) {
  const Problem p = conv(Dir::BWD_W, 1, 3, 1, 2);
  const ConvTensors t = run_ref(p, io(iota(9), {}, {}, {1, 2, 3, 4}));
  EXPECT_EQ(t.wei, (std::vector<float>{37, 47, 67, 77}));
}

TEST(RefEngine, BackwardWeightsWithBiasSumsTheOutputGradient) {
  const Problem p = conv(Dir::BWD_WB, 1, 3, 1, 2);
  const ConvTensors t = run_ref(p, io(iota(9), {}, {}, {1, 2, 3, 4}));
  EXPECT_EQ(t.wei, (std::vector<float>{37, 47, 67, 77}));
  EXPECT_EQ(t.bia, (std::vector<float>{10}));
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

// <fwd(x, w), y> = <x, bwd_d(y, w)> = <w, bwd_w(x, y)>: the backward passes are the
// adjoints of the forward one, for any stride, padding, dilation and groups.
void expect_adjoint(Problem p) {
  ConvTensors in;
  p.dir = Dir::FWD_D;
  resize_for(p, in);
  for (Dir d : {Dir::FWD_D, Dir::BWD_D}) {
    p.dir = d;
    fill_inputs(p, in, 7);
  }
  p.dir = Dir::FWD_D;
  const ConvTensors f = run_ref(p, in);
  p.dir = Dir::BWD_D;
  const ConvTensors bd = run_ref(p, in);
  p.dir = Dir::BWD_W;
  const ConvTensors bw = run_ref(p, io(in.src, {}, {}, in.dst));
  const double y_fx = dot(f.dst, in.dst);
  EXPECT_EQ(y_fx, dot(in.src, bd.src));
  EXPECT_EQ(y_fx, dot(in.wei, bw.wei));
}

TEST(RefEngine, BackwardPassesAreAdjointsOfForwardWithStridePaddingDilationAndGroups) {
  expect_adjoint(conv(Dir::FWD_D, 4, 9, 6, 3, /*sh=*/2, /*ph=*/1, 0, /*g=*/2, /*mb=*/2));
  expect_adjoint(conv(Dir::FWD_D, 3, 8, 3, 3, 1, /*ph=*/3, /*dh=*/1, /*g=*/3));
  Problem asym = conv(Dir::FWD_D, 2, 7, 4, 3, 2, 1);
  asym.kw = 1;
  asym.pw = 0;
  asym.ow = (asym.iw - 1) / asym.sw + 1;
  expect_adjoint(asym);
}

TEST(RefEngine, Bf16RoundsInputsAndOutputsToNearestEven) {
  Problem p = conv(Dir::FWD_D, 2, 1, 1, 1);
  p.dt = DataType::bf16;
  // 257 is not a bf16 value: the input rounds to 256; 256 + 1 = 257 rounds to 256.
  EXPECT_EQ(run_ref(p, io({257, 0}, {1, 1}, {}, {})).dst, std::vector<float>{256});
  EXPECT_EQ(run_ref(p, io({256, 1}, {1, 1}, {}, {})).dst, std::vector<float>{256});
  p.dt = DataType::f32;
  EXPECT_EQ(run_ref(p, io({256, 1}, {1, 1}, {}, {})).dst, std::vector<float>{257});
}

TEST(RefEngine, LargeProblemsGiveTheSameResultOnEveryRun) {
  const Problem p = conv(Dir::FWD_B, 32, 20, 32, 3, 1, 1, 0, 1, 2);
  ConvTensors in;
  resize_for(p, in);
  fill_inputs(p, in, 3);
  EXPECT_EQ(run_ref(p, in).dst, run_ref(p, in).dst);
}

TEST(RefEngine, RejectsUnknownAlgorithmsAndInconsistentShapes) {
  auto e = make_ref_engine();
  Problem p = conv(Dir::FWD_D, 1, 3, 1, 2);
  EXPECT_EQ(e->prepare(p, "winograd").status().code(), Code::kInvalid);
  EXPECT_EQ(e->algorithms(p), std::vector<std::string>{"direct"});
  p.oh = 5;
  EXPECT_EQ(e->prepare(p, "direct").status().code(), Code::kInvalid);
}

}  // namespace
}  // namespace convguard
