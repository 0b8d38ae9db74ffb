// Exact decompositions of one convolution into smaller library calls, so that a problem
// whose native shape is unsafe can run as problems of shapes proven safe:
//
//  - spatial tiling (docs/DESIGN.md): the output is cut into tiles of at
//    most th x tw; each tile's input window, halo included (kernel extent, stride and
//    dilation), is gathered into a staging tensor whose batch dimension holds the tiles,
//    with zeros where the window leaves the real tensor (the padding); the library runs
//    once on (mb x tiles, C, tile_in_h, tile_in_w) with no padding and the output tiles
//    are scattered back. Every tile has one shape: edge tiles are padded with zeros, their
//    extra outputs are dropped (forward) or fed zero gradients (backward), so they add
//    nothing. Backward data at stride 1 cuts diff_src instead: each tile owns a block of
//    it and reads the window of diff_dst that reaches the block (the block grown by the
//    kernel extent - 1; the staging problem pads by extent - 1), so tiles never overlap
//    and each block is put back whole; at other strides it uses the windows above and adds
//    each tile's diff_src window into diff_src (windows overlap by the halo). Backward
//    weights sums over the staging batch inside the library (and over batch chunks here). Groups and bias pass through: bias is added once per
//    output element because every output element lies in exactly one tile.
//  - batch and group splitting: the same problem on fewer images or fewer groups per call;
//    backward weights sums the partial diff_wei (and diff_bia) of the batch chunks.
//
// Exactness: every output element is the same set of products as the untiled problem,
// only summed in another order; with the integer fills of fill.h every partial sum is an
// integer inside the exact range, so exact algorithms give bit-identical f32 results.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "convguard/engine.h"
#include "convguard/status.h"

namespace convguard {

/// How to tile: output tiles of at most th x tw; `max_images` caps the staging images
/// (mb x tiles) per library call (0: all in one call).
struct TilePlan {
  int64_t th = 0, tw = 0;
  int64_t max_images = 0;
  bool operator==(const TilePlan&) const = default;
};

/// The uniform tile shape chosen for a problem and a plan: the tile counts are
/// ceil(o / t_max) and the tile sizes are balanced (ceil(o / count)), so a 64-wide map
/// with t_max 42 gives two tiles of 32, not 42 + 22. by_input (backward data at stride 1):
/// the same over the input, i, instead of the output, o.
struct TileGeometry {
  int64_t nty = 1, ntx = 1;      ///< tiles along h and w
  int64_t th = 0, tw = 0;        ///< rows and columns one tile owns (of the output; by_input: of diff_src)
  int64_t tin_h = 0, tin_w = 0;  ///< rows and columns one tile reads, halo included (of the input; by_input: of diff_dst)
  bool by_input = false;         ///< backward data at stride 1: tiles cut diff_src and never overlap
  int64_t tiles() const { return nty * ntx; }
};

/// The rows and columns tiles cut: the output's, or the input's for backward data at stride 1
/// (TileGeometry::by_input). A plan's th and tw are limits on these.
struct Extent {
  int64_t h = 0, w = 0;
};
Extent tiled_extent(const Problem& p);

/// The geometry of `plan` for p. Invalid names the field for a plan with th or tw < 1,
/// max_images < 0, or a problem that fails validate().
Result<TileGeometry> tile_geometry(const Problem& p, const TilePlan& plan);

/// The distinct problems the library sees when p runs under `plan`: the staging problem
/// (mb = images per call, ph = pw = 0, input = tile window, output = tile), and the
/// smaller last chunk when max_images does not divide mb x tiles. These are the problems a
/// profile must prove safe before the plan is used. Empty when the plan is invalid for p
/// (tile_geometry says why).
std::vector<Problem> tile_problems(const Problem& p, const TilePlan& plan);

/// Prepares p to run tiled on `engine` with `algo`: the returned Prepared gathers, runs the
/// staging problem(s) and scatters on each execute(). Its time is the wall time of the
/// whole tiled execution, gather and scatter included. `engine` must outlive it.
Result<std::unique_ptr<Prepared>> prepare_tiled(Engine& engine, const Problem& p,
                                                const std::string& algo, const TilePlan& plan);

/// How to split: at most `max_mb` images and at most `max_groups` groups per library call
/// (0: no limit on that axis).
struct SplitPlan {
  int64_t max_mb = 0, max_groups = 0;
  bool operator==(const SplitPlan&) const = default;
};

/// The distinct problems the library sees when p runs under `plan` (up to four: full and
/// last chunks along each axis). Empty when the plan is invalid for p (negative limits, or
/// a problem that fails validate()).
std::vector<Problem> split_problems(const Problem& p, const SplitPlan& plan);

/// Prepares p to run in batch and group chunks on `engine` with `algo`; as prepare_tiled.
Result<std::unique_ptr<Prepared>> prepare_split(Engine& engine, const Problem& p,
                                                const std::string& algo, const SplitPlan& plan);

}  // namespace convguard
