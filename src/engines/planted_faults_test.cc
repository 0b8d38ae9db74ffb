// Planted faults are `wrong` under every algorithm class's bound, on shapes from shapes/.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "convguard/bounds.h"
#include "convguard/cpu_engines.h"
#include "convguard/probe.h"
#include "testing/numeric_faults.h"

namespace convguard {
namespace {

using testing::NumericFault;

// Layers from the shape lists, at mb=1: ResNet-50's 3x3 bottleneck at 14x14, MobileNet's
// 14x14 depthwise (9 terms per output) and the awkward list's odd sizes.
std::vector<Problem> shapes() {
  std::vector<Problem> out;
  for (const auto& [file, name] :
       {std::pair<std::string, std::string>{"resnet50.txt", "resnet_50_v1_5:res4a_branch2b"},
        {"mobilenet_v1.txt", "mobilenet_v1:conv_dw_7"},
        {"awkward.txt", "awkward:odd_sizes_mb3"}}) {
    auto list = parse_batch_file(CONVGUARD_SOURCE_DIR "/shapes/" + file, Knobs{});
    EXPECT_TRUE(list.ok()) << file;
    if (!list.ok()) continue;
    for (const Problem& p : *list)
      if (p.name == name) out.push_back(p);
  }
  EXPECT_EQ(out.size(), 3u) << "a named layer is missing from shapes/";
  return out;
}

constexpr AlgoClass kClasses[] = {
    AlgoClass::exact,    AlgoClass::reduced,       AlgoClass::winograd_4x4, AlgoClass::winograd_6x6,
    AlgoClass::winograd, AlgoClass::winograd_tf32, AlgoClass::fft};
constexpr NumericFault kFaults[] = {NumericFault::flip_element, NumericFault::drop_halo_tap,
                                    NumericFault::swap_channels, NumericFault::bf16_accumulate,
                                    NumericFault::stale_output};

// TF32 in Winograd's transformed domain rounds each product to 11 bits on values grown by
// the transforms: its bound (lambda = 8 standard deviations of that rounding) exceeds a
// dropped halo tap on a 2304-term ResNet sum and a bf16 accumulator's error on short sums
// (depthwise, 9 terms; 15 terms of odd_sizes). Those faults are below what the
// arithmetic can resolve; every other fault must be wrong there too (docs/NUMERICS.md).
bool below_tf32_winograd_resolution(NumericFault f, AlgoClass cls) {
  return cls == AlgoClass::winograd_tf32 &&
         (f == NumericFault::drop_halo_tap || f == NumericFault::bf16_accumulate);
}

// The ref engine's outputs of p on the fills of `seed` (seed 1: what a stale kernel returns).
ConvTensors ref_outputs_of(const Problem& p, uint64_t seed) {
  ConvTensors t;
  resize_for(p, t);
  fill_inputs(p, t, seed);
  EXPECT_TRUE(testing::ref_outputs(p, t).ok());
  return t;
}

TEST(PlantedFaults, AreWrongUnderEveryClassBoundOnShapesFromTheLists) {
  for (Problem p : shapes())
    for (Dir dir : {Dir::FWD_D, Dir::BWD_D, Dir::BWD_W}) {
      p.dir = dir;
      Reference reference(make_ref_engine(), nullptr);
      const ConvTensors previous = ref_outputs_of(p, 1);
      for (NumericFault f : kFaults) {
        auto got = testing::faulty_outputs(p, 0, f, previous);
        ASSERT_TRUE(got.ok()) << got.status().to_string();
        for (AlgoClass cls : kClasses) {
          ProbeResult r;
          judge(p, *got, cls, reference, 0, r);
          if (below_tf32_winograd_resolution(f, cls)) {
            EXPECT_NE(r.outcome, Outcome::error) << r.message;
            if (r.outcome == Outcome::ok)
              std::printf("  below winograd_tf32's resolution: %s on %s %s (err/bound %.2g)\n",
                          to_string(f), p.name.c_str(), to_string(dir), r.err_ratio);
            continue;
          }
          EXPECT_EQ(r.outcome, Outcome::wrong)
              << to_string(f) << " under " << to_string(cls) << " on " << p.name << " "
              << to_string(dir) << ": " << to_string(r.outcome) << " " << r.message
              << " (err/bound " << r.err_ratio << ")";
        }
      }
    }
}

// Whether a fault changed any output at all: bf16 accumulation of f16's small integer sums
// (under 256) is exact, and no check can see a fault that changes nothing.
bool changes_outputs(const Problem& p, const ConvTensors& right, const ConvTensors& got) {
  for (Arg a : outputs_of(p.dir))
    if (tensor(right, a) != tensor(got, a)) return true;
  return false;
}

TEST(PlantedFaults, AreWrongInHalfPrecisionUnderTheDirectAndWinogradClasses) {
  // The reduced class allows bf16 partial sums of bf16 data (the fault bf16_accumulate, and a
  // dropped halo tap on some of these sums: below its resolution); f16 and bf16 FFTs and the
  // 13x13 Winograd tile are printed, not asserted (docs/NUMERICS.md, limits).
  constexpr AlgoClass asserted[] = {AlgoClass::exact, AlgoClass::winograd_4x4,
                                    AlgoClass::winograd_6x6, AlgoClass::winograd};
  constexpr AlgoClass printed[] = {AlgoClass::reduced, AlgoClass::fft, AlgoClass::winograd_13x13};
  int judged = 0;
  for (DataType dt : {DataType::f16, DataType::bf16})
    for (Problem p : shapes())
      for (Dir dir : {Dir::FWD_D, Dir::BWD_D, Dir::BWD_W}) {
        p.dir = dir;
        p.dt = dt;
        Reference reference(make_ref_engine(), nullptr);
        const ConvTensors previous = ref_outputs_of(p, 1), right = ref_outputs_of(p, 0);
        for (NumericFault f : kFaults) {
          auto got = testing::faulty_outputs(p, 0, f, previous);
          ASSERT_TRUE(got.ok()) << got.status().to_string();
          if (!changes_outputs(p, right, *got)) continue;
          for (AlgoClass cls : asserted) {
            ProbeResult r;
            judge(p, *got, cls, reference, 0, r);
            ++judged;
            EXPECT_EQ(r.outcome, Outcome::wrong)
                << to_string(f) << " under " << to_string(cls) << " on " << p.name << " "
                << to_string(dir) << " " << to_string(dt) << ": " << r.message;
          }
          for (AlgoClass cls : printed) {
            ProbeResult r;
            judge(p, *got, cls, reference, 0, r);
            EXPECT_NE(r.outcome, Outcome::error) << r.message;
            if (r.outcome == Outcome::ok)
              std::printf("  below %s's resolution in %s: %s on %s %s (err/bound %.2g)\n",
                          to_string(cls), to_string(dt), to_string(f), p.name.c_str(),
                          to_string(dir), r.err_ratio);
          }
        }
      }
  EXPECT_GT(judged, 300);
}

TEST(PlantedFaults, TheCorrectOutputsPassUnderEveryClass) {
  for (Problem p : shapes())
    for (Dir dir : {Dir::FWD_D, Dir::BWD_D, Dir::BWD_W}) {
      p.dir = dir;
      Reference reference(make_ref_engine(), nullptr);
      const ConvTensors t = ref_outputs_of(p, 0);
      for (AlgoClass cls : kClasses) {
        ProbeResult r;
        judge(p, t, cls, reference, 0, r);
        EXPECT_EQ(r.outcome, Outcome::ok) << to_string(cls) << " " << r.message;
        EXPECT_FALSE(r.inexact);
      }
    }
}

}  // namespace
}  // namespace convguard
