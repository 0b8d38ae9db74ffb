// Property tests: tiled and split executions equal the untiled reference exactly with the
// integer fills, for random problems in all five directions and random plans.
#include "convguard/tiling.h"

#include <chrono>
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "convguard/cpu_engines.h"
#include "convguard/fill.h"
#include "guard/guard_plan.h"

namespace convguard {
namespace {

constexpr Dir kDirs[] = {Dir::FWD_D, Dir::FWD_B, Dir::BWD_D, Dir::BWD_W, Dir::BWD_WB};

int64_t pick(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

// A random valid problem: strides 1-3, dilation 0-2, padding 0..k, groups 1, grouped or
// depthwise, small channels and maps so that a few hundred cases run in seconds.
Problem random_problem(std::mt19937_64& rng) {
  for (;;) {
    Problem p;
    p.dir = kDirs[pick(rng, 0, 4)];
    p.dt = pick(rng, 0, 3) == 0 ? DataType::f16 : DataType::f32;
    const int64_t kind = pick(rng, 0, 2);
    p.g = kind == 0 ? 1 : pick(rng, 2, 3);
    const int64_t icg = kind == 2 ? 1 : pick(rng, 1, 3), ocg = kind == 2 ? 1 : pick(rng, 1, 3);
    p.ic = p.g * icg, p.oc = p.g * ocg, p.mb = pick(rng, 1, 3);
    p.kh = pick(rng, 1, 4), p.kw = pick(rng, 1, 4);
    p.sh = pick(rng, 1, 3), p.sw = pick(rng, 1, 3);
    p.dh = pick(rng, 0, 2), p.dw = pick(rng, 0, 2);
    p.ph = pick(rng, 0, p.kh), p.pw = pick(rng, 0, p.kw);
    p.ih = pick(rng, 1, 30), p.iw = pick(rng, 1, 30);
    p.oh = conv_out_size(p.ih, p.kh, p.sh, p.ph, p.dh);
    p.ow = conv_out_size(p.iw, p.kw, p.sw, p.pw, p.dw);
    if (p.oh >= 1 && p.ow >= 1 && validate(p).ok()) return p;
  }
}

ConvTensors reference_run(Engine& ref, const Problem& p, uint64_t seed) {
  ConvTensors t;
  resize_for(p, t);
  fill_inputs(p, t, seed);
  poison_outputs(p, t);
  auto prep = ref.prepare(p, kDefaultAlgo);
  EXPECT_TRUE(prep.ok()) << prep.status().to_string();
  if (prep.ok()) {
    EXPECT_TRUE((*prep)->execute(t, {}).ok());
  }
  return t;
}

// Runs p through `prepared` on the same fills and expects bit-equal outputs.
void expect_exact(Prepared& prepared, const Problem& p, const ConvTensors& want, uint64_t seed,
                  const std::string& what) {
  ConvTensors t;
  resize_for(p, t);
  fill_inputs(p, t, seed);
  poison_outputs(p, t);
  auto r = prepared.execute(t, {});
  ASSERT_TRUE(r.ok()) << what << ": " << r.status().to_string();
  for (Arg a : outputs_of(p.dir)) {
    const auto& got = tensor(t, a);
    const auto& ref = tensor(want, a);
    ASSERT_EQ(got.size(), ref.size()) << what;
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_TRUE(got[i] == ref[i]) << what << ": " << to_string(a) << "[" << i << "] = " << got[i]
                                    << ", reference " << ref[i];
  }
}

std::string describe(const Problem& p, const TilePlan& plan) {
  return key(p) + " tiles<=" + std::to_string(plan.th) + "x" + std::to_string(plan.tw) +
         " max_images=" + std::to_string(plan.max_images);
}

TEST(TileGeometry, BalancesTilesSoSixtyFourWithLimitFortyTwoGivesTwoOfThirtyTwo) {
  auto p = parse_problem("--dir=FWD_D mb1ic16ih64iw64oc32kh3kw3ph1pw1");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  auto g = tile_geometry(*p, {42, 42, 0});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->nty, 2);
  EXPECT_EQ(g->th, 32);
  EXPECT_EQ(g->tin_h, 34);  // the halo of a 3x3 kernel
  const auto tiles = tile_problems(*p, {42, 42, 0});
  ASSERT_EQ(tiles.size(), 1u);
  EXPECT_EQ(key(tiles[0]), "--dir=FWD_D --dt=f32 g1mb4ic16ih34iw34oc32oh32ow32kh3kw3sh1sw1ph0pw0dh0dw0");
}

TEST(TileGeometry, HaloCoversStrideAndDilation) {
  auto p = parse_problem("--dir=FWD_D mb1ic1ih50iw50oc1kh3kw3sh2sw2ph1pw1dh1dw1");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  auto g = tile_geometry(*p, {10, 10, 0});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->tin_h, (g->th - 1) * 2 + 5);
}

TEST(TileGeometry, ChunkedImagesGiveAFullAndALastProblem) {
  auto p = parse_problem("--dir=BWD_W mb3ic2ih20iw20oc2kh3kw3ph1pw1");
  ASSERT_TRUE(p.ok());
  const auto tiles = tile_problems(*p, {10, 10, 5});  // 3 x 4 = 12 images: 5, 5, 2
  ASSERT_EQ(tiles.size(), 2u);
  EXPECT_EQ(tiles[0].mb, 5);
  EXPECT_EQ(tiles[1].mb, 2);
}

TEST(TileGeometry, BackwardDataAtStrideOneCutsTheInputGradientIntoBlocksThatNeverOverlap) {
  auto p = parse_problem("--dir=BWD_D mb1ic16ih56iw56oc32kh3kw3ph1pw1");
  ASSERT_TRUE(p.ok());
  auto g = tile_geometry(*p, {28, 28, 0});
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->by_input);
  EXPECT_EQ(g->th, 28);
  EXPECT_EQ(g->tin_h, 30);  // the diff_dst rows that reach 28 rows of diff_src
  const auto tiles = tile_problems(*p, {28, 28, 0});
  ASSERT_EQ(tiles.size(), 1u);
  EXPECT_EQ(key(tiles[0]), "--dir=BWD_D --dt=f32 g1mb4ic16ih28iw28oc32oh30ow30kh3kw3sh1sw1ph2pw2dh0dw0");
  auto strided = parse_problem("--dir=BWD_D mb1ic16ih56iw56oc32kh3kw3sh2sw2ph1pw1");
  ASSERT_TRUE(strided.ok());
  EXPECT_FALSE(tile_geometry(*strided, {14, 14, 0})->by_input);  // windows, added back
}

TEST(TileGeometry, PlansForBackwardDataAtStrideOneCountTilesOverTheInput) {
  // ih 48 without padding: oh 46. Two tiles a side are two blocks of 24 rows of diff_src.
  auto p = parse_problem("--dir=BWD_D mb1ic4ih48iw48oc4kh3kw3");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(tiled_extent(*p).h, 48);
  const auto plans = tile_candidates(*p, 8);
  ASSERT_GE(plans.size(), 2u);
  EXPECT_EQ(plans[1], (TilePlan{24, 48, 0}));  // after the whole map, two tiles
  auto fwd = parse_problem("--dir=FWD_D mb1ic4ih48iw48oc4kh3kw3");
  ASSERT_TRUE(fwd.ok());
  EXPECT_EQ(tiled_extent(*fwd).h, 46);
  EXPECT_EQ(tile_candidates(*fwd, 8)[1], (TilePlan{23, 46, 0}));
}

TEST(TileGeometry, RejectsAnEmptyTileNamingTheField) {
  auto p = parse_problem("mb1ic1ih8oc1kh3");
  ASSERT_TRUE(p.ok());
  auto g = tile_geometry(*p, {0, 4, 0});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("th=0"), std::string::npos);
  EXPECT_TRUE(tile_problems(*p, {0, 4, 0}).empty());
}

TEST(Tiling, RandomTiledProblemsEqualTheUntiledReferenceExactly) {
  auto ref = make_ref_engine();
  std::mt19937_64 rng(20261124);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int cases = 0, multi_tile = 0;
  for (; cases < 600 && std::chrono::steady_clock::now() < deadline; ++cases) {
    const Problem p = random_problem(rng);
    const TilePlan plan{pick(rng, 1, p.oh + 1), pick(rng, 1, p.ow + 1),
                        pick(rng, 0, 1) ? 0 : pick(rng, 1, 2 * p.mb + 2)};
    const uint64_t seed = static_cast<uint64_t>(cases);
    const ConvTensors want = reference_run(*ref, p, seed);
    auto tiled = prepare_tiled(*ref, p, kDefaultAlgo, plan);
    ASSERT_TRUE(tiled.ok()) << describe(p, plan) << ": " << tiled.status().to_string();
    ASSERT_NO_FATAL_FAILURE(expect_exact(**tiled, p, want, seed, describe(p, plan)));
    multi_tile += tile_geometry(p, plan)->tiles() > 1;
  }
  EXPECT_GE(cases, 200) << "too few cases ran in the time bound";
  EXPECT_GE(multi_tile, cases / 2) << "most cases must really cut the map";
}

TEST(Tiling, BackwardDataBlocksEqualTheUntiledReferenceExactly) {
  auto ref = make_ref_engine();
  std::mt19937_64 rng(20261202);
  int cases = 0;
  for (int n = 0; n < 20000 && cases < 150; ++n) {
    Problem p = random_problem(rng);
    if (p.dir != Dir::BWD_D || p.sh != 1 || p.sw != 1) continue;
    const TilePlan plan{pick(rng, 1, p.ih), pick(rng, 1, p.iw), pick(rng, 0, 1) ? 0 : pick(rng, 1, 3)};
    ASSERT_TRUE(tile_geometry(p, plan)->by_input);
    const uint64_t seed = static_cast<uint64_t>(n);
    const ConvTensors want = reference_run(*ref, p, seed);
    auto tiled = prepare_tiled(*ref, p, kDefaultAlgo, plan);
    ASSERT_TRUE(tiled.ok()) << describe(p, plan) << ": " << tiled.status().to_string();
    ASSERT_NO_FATAL_FAILURE(expect_exact(**tiled, p, want, seed, describe(p, plan)));
    ++cases;
  }
  EXPECT_GE(cases, 100);
}

TEST(Tiling, SplitBatchesAndGroupsEqualTheReferenceExactly) {
  auto ref = make_ref_engine();
  std::mt19937_64 rng(7);
  for (int i = 0; i < 300; ++i) {
    const Problem p = random_problem(rng);
    const SplitPlan plan{pick(rng, 0, p.mb), pick(rng, 0, p.g)};
    const std::string what = key(p) + " max_mb=" + std::to_string(plan.max_mb) +
                             " max_groups=" + std::to_string(plan.max_groups);
    const ConvTensors want = reference_run(*ref, p, uint64_t(i));
    auto split = prepare_split(*ref, p, kDefaultAlgo, plan);
    ASSERT_TRUE(split.ok()) << what << ": " << split.status().to_string();
    ASSERT_NO_FATAL_FAILURE(expect_exact(**split, p, want, uint64_t(i), what));
  }
}

TEST(Tiling, OneDnnRunsStagingProblemsExactly) {
  auto ref = make_ref_engine();
  auto onednn = make_onednn_engine();
  ASSERT_TRUE(onednn->init().ok());
  std::mt19937_64 rng(11);
  for (int i = 0; i < 60; ++i) {
    Problem p = random_problem(rng);
    p.dt = DataType::f32;
    const TilePlan plan{pick(rng, 1, p.oh), pick(rng, 1, p.ow), 0};
    const ConvTensors want = reference_run(*ref, p, uint64_t(i));
    auto tiled = prepare_tiled(*onednn, p, kDefaultAlgo, plan);
    ASSERT_TRUE(tiled.ok()) << describe(p, plan) << ": " << tiled.status().to_string();
    ASSERT_NO_FATAL_FAILURE(expect_exact(**tiled, p, want, uint64_t(i), describe(p, plan)));
  }
}

TEST(Tiling, ReportsAWrongTensorSizeInsteadOfReadingPastIt) {
  auto ref = make_ref_engine();
  auto p = parse_problem("--dir=FWD_D mb1ic2ih9iw9oc2kh3kw3");
  ASSERT_TRUE(p.ok());
  auto tiled = prepare_tiled(*ref, *p, kDefaultAlgo, {4, 4, 0});
  ASSERT_TRUE(tiled.ok());
  ConvTensors t;
  resize_for(*p, t);
  t.src.pop_back();
  auto r = (*tiled)->execute(t, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("src has"), std::string::npos);
}

}  // namespace
}  // namespace convguard
