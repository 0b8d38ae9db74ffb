#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "convguard/bounds.h"
#include "convguard/cpu_engines.h"
#include "convguard/fill.h"
#include "testing/conv_shapes.h"

namespace convguard {
namespace {

using testing::make_problem;
using testing::Shape;

// The shared shapes, and one where oneDNN offers Winograd.
const Shape kWinograd = {"winograd", 1, 1, 32, 14, 14, 32, 3, 3, 1, 1, 1, 1, 0, 0};
const std::vector<Shape> kShapes = [] {
  std::vector<Shape> v(std::begin(testing::kShapes), std::end(testing::kShapes));
  v.push_back(kWinograd);
  return v;
}();

ConvTensors reference_for(const Problem& p) {
  auto ref = make_ref_engine();
  ConvTensors t;
  resize_for(p, t);
  fill_inputs(p, t, 1);
  auto prepared = ref->prepare(p, "default");
  EXPECT_TRUE(prepared.ok());
  if (prepared.ok()) {
    EXPECT_TRUE((*prepared)->execute(t, {}).ok());
  }
  return t;
}

// Runs every algorithm onednn lists for p and compares each with ref. Returns how
// many ran (0 when the data type is unsupported on this CPU).
int check_all_algorithms(const Problem& p) {
  auto eng = make_onednn_engine();
  EXPECT_TRUE(eng->init().ok());
  const std::vector<std::string> algos = eng->algorithms(p);
  if (algos.empty()) {
    EXPECT_EQ(eng->prepare(p, "default").status().code(), Code::kUnsupported);
    return 0;
  }
  const ConvTensors want = reference_for(p);
  int ran = 0;
  for (const std::string& algo : algos) {
    SCOPED_TRACE(algo);
    auto prepared = eng->prepare(p, algo);
    EXPECT_TRUE(prepared.ok()) << prepared.status().to_string();
    if (!prepared.ok()) continue;
    EXPECT_EQ((*prepared)->algo(), algo);
    ConvTensors got;
    resize_for(p, got);
    fill_inputs(p, got, 1);
    poison_outputs(p, got);
    auto ms = (*prepared)->execute(got, {});
    EXPECT_TRUE(ms.ok()) << ms.status().to_string();
    if (!ms.ok()) continue;
    // oneDNN's classes (exact, winograd_6x6) are judged without magnitudes.
    EXPECT_FALSE(needs_magnitudes(p, (*prepared)->algo_class()));
    const Comparison c = compare_outputs(p, got, want, (*prepared)->algo_class(), nullptr);
    EXPECT_TRUE(c.pass) << c.message << " (max rel err " << c.max_rel_err << ")";
    if ((*prepared)->algo_class() == AlgoClass::exact && p.dt == DataType::f32) {
      EXPECT_EQ(c.max_rel_err, 0.0);
    }
    ++ran;
  }
  return ran;
}

using Case = std::tuple<Shape, Dir, Layout>;
class OnednnMatchesRef : public ::testing::TestWithParam<Case> {};

TEST_P(OnednnMatchesRef, EveryListedAlgorithmMatchesTheReferenceInF32) {
  const auto& [shape, dir, layout] = GetParam();
  const Problem p = make_problem(shape, dir, layout, DataType::f32);
  EXPECT_GT(check_all_algorithms(p), 0) << "onednn offered no f32 algorithm";
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const auto& [shape, dir, layout] = info.param;
  return std::string(shape.name) + "_" + to_string(dir) + "_" + to_string(layout);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, OnednnMatchesRef,
    ::testing::Combine(::testing::ValuesIn(kShapes),
                     ::testing::Values(Dir::FWD_D, Dir::FWD_B, Dir::BWD_D, Dir::BWD_W, Dir::BWD_WB),
                     ::testing::Values(Layout::nchw, Layout::nhwc)),
    case_name);

TEST(OnednnEngine, Bf16MatchesTheReferenceWhereTheCpuSupportsIt) {
  int ran = 0;
  for (const Shape& s : {kShapes[0], kShapes[2], kShapes[3]})
    for (Dir d : {Dir::FWD_B, Dir::BWD_D, Dir::BWD_WB})
      for (Layout l : {Layout::nchw, Layout::nhwc}) {
        SCOPED_TRACE(std::string(s.name) + " " + to_string(d) + " " + to_string(l));
        ran += check_all_algorithms(make_problem(s, d, l, DataType::bf16));
      }
  if (ran == 0) GTEST_SKIP() << "this CPU has no oneDNN bf16 convolution";
}

TEST(OnednnEngine, F16IsUnsupportedWithAReasonOrMatches) {
  const Problem p = make_problem(kShapes[0], Dir::FWD_D, Layout::nchw, DataType::f16);
  auto eng = make_onednn_engine();
  ASSERT_TRUE(eng->init().ok());
  auto prepared = eng->prepare(p, "default");
  if (!prepared.ok()) {
    EXPECT_EQ(prepared.status().code(), Code::kUnsupported);
    EXPECT_NE(prepared.status().message().find("f16"), std::string::npos);
    return;
  }
  check_all_algorithms(p);
}

// oneDNN 2.6 offers Winograd only for blocked (nChw16c) activations, never for the
// nchw/nhwc problems convguard poses, so every listed algorithm here is direct.
TEST(OnednnEngine, ListsItsImplementationsWithTheDefaultFirst) {
  const Problem p = make_problem(kWinograd, Dir::FWD_D, Layout::nhwc, DataType::f32);
  auto eng = make_onednn_engine();
  ASSERT_TRUE(eng->init().ok());
  const auto algos = eng->algorithms(p);
  ASSERT_FALSE(algos.empty());
  auto def = eng->prepare(p, "default");
  ASSERT_TRUE(def.ok());
  EXPECT_EQ((*def)->algo(), algos.front());
  bool has_direct = false;
  for (const auto& a : algos) has_direct |= a.rfind("direct:", 0) == 0;
  EXPECT_TRUE(has_direct);
  EXPECT_GT(algos.size(), 2u) << "nhwc f32 has jit, gemm and ref implementations";
  EXPECT_EQ(algos.back(), "direct:ref:any");
}

TEST(OnednnEngine, RejectsUnknownAlgorithmNames) {
  const Problem p = make_problem(kShapes[0], Dir::FWD_D, Layout::nchw, DataType::f32);
  auto eng = make_onednn_engine();
  ASSERT_TRUE(eng->init().ok());
  EXPECT_EQ(eng->prepare(p, "fastest").status().code(), Code::kInvalid);
  EXPECT_EQ(eng->prepare(p, "direct:no_such_impl").status().code(), Code::kUnsupported);
}

TEST(OnednnEngine, ReportsVersionAndFingerprint) {
  auto eng = make_onednn_engine();
  EXPECT_EQ(eng->version().rfind("oneDNN 2.", 0), 0u) << eng->version();
  ASSERT_TRUE(eng->init().ok());
  const auto f = eng->fingerprint();
  EXPECT_EQ(f.at("version"), eng->version());
  EXPECT_FALSE(f.at("cpu_isa").empty());
}

}  // namespace
}  // namespace convguard
