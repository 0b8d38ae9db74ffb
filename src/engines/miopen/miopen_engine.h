// The miopen engine: AMD's MIOpen reached directly, as MIOpenDriver reaches it, every
// convolution solver individually and the Find step as probes of their own. MIOpen and the
// HIP runtime are loaded at run time (miopen_api.h): the engine is in every build, and
// reports itself unavailable, with the reason, where they are not found.
#pragma once

#include <memory>

#include "convguard/engine.h"
#include "convguard/status.h"

namespace convguard {

/// `miopen`: algorithms are
///   default        the first solution MIOpen offers (its find-db or heuristic choice),
///   <SolverName>   one solver by name (miopen_solvers.h; "solver<N>" for ids the table
///                  does not name): compiled in prepare (CompileSolution), run in execute
///                  through the immediate-mode call,
///   find.normal, find.fast, find.hybrid
///                  the Find call under that MIOPEN_FIND_MODE in prepare, then the solution
///                  it picked (resolved as its solver name) in execute.
/// `all` lists default and every applicable solver (not the Find probes). Directions
/// FWD_D, BWD_D, BWD_W, and FWD_B / BWD_WB with MIOpen's separate bias calls
/// (miopenConvolutionForwardBias / BackwardBias, which refuse bf16); f32, f16, bf16; nchw,
/// nhwc. Output and workspace buffers sit inside guard bands ("oob:" errors). Each worker
/// keeps MIOpen's user databases and kernel cache in a private folder
/// (CONVGUARD_MIOPEN_STATE: a base folder, or `user` for the user's own; the CLI's
/// --miopen-state sets it). Never fails; init() reports a missing library.
Result<std::unique_ptr<Engine>> make_miopen_engine();

}  // namespace convguard
