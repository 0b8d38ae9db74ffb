// The CPU engines: `ref` (naive reference) and `onednn` (oneDNN's CPU implementations).
#pragma once

#include <memory>

#include "convguard/engine.h"

namespace convguard {

/// `ref`: a plain multi-threaded CPU reference for all five directions, accumulating
/// in double, deterministic for any thread count. One algorithm: "direct".
std::unique_ptr<Engine> make_ref_engine();

/// `onednn`: oneDNN's CPU convolutions (f32; bf16/f16 where the CPU supports them),
/// listing each implementation oneDNN offers for a problem as an algorithm.
std::unique_ptr<Engine> make_onednn_engine();

}  // namespace convguard
