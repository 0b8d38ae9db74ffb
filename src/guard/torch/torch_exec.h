// Runs one convolution call along a guard route (route.h) with PyTorch's own operators:
// the original kernels (at::native::convolution / convolution_backward, so the guard's
// dispatcher override is not entered again), a knob for this call only, spatial tiles
// gathered into the batch dimension with device operators, batch or group chunks, or the CPU.
#pragma once

#include <functional>
#include <string>

#include "convguard/route.h"
#include "guard/torch/torch_call.h"

namespace convguard::torch_guard {

/// What a fault injector wants done to one library call (guard option `quirks`).
enum class Fault { none, wrong, slow };

/// Called before every library call the route makes, with the problem that call is (tile and
/// chunk problems included) and its knob. It may hang, crash or throw as a quirk file says;
/// `wrong` and `slow` are applied to the call's result by the caller. `slow_factor` receives
/// the factor for `slow`.
using Injector = std::function<Fault(const Problem& call, const std::string& knob, double* slow_factor)>;

struct Grads {
  at::Tensor input, weight, bias;
};

/// The forward call along `route` (p is the call's problem; route.kind is not refuse).
at::Tensor run_forward(const Route& route, const Problem& p, const ForwardCall& c,
                       const Injector& inject);

/// One backward direction along `route`: BWD_D fills `input`; BWD_W / BWD_WB fill `weight`
/// (and `bias`).
Grads run_backward(const Route& route, const Problem& p, const BackwardCall& c,
                   const Injector& inject);

/// The forward call through PyTorch's own kernel, as if no guard were installed.
at::Tensor run_forward_unguarded(const ForwardCall& c);

/// Every gradient `c.mask` asks for in one original-kernel call with `knob` (the common case:
/// every direction routed native with the same knob).
Grads run_backward_native(const std::string& knob, const BackwardCall& c, const Injector& inject);

}  // namespace convguard::torch_guard
