// The Engine interface: every library that computes convolutions (ref, onednn,
// cudnn, sim, later miopen and torch) fits behind it, in process or in a worker.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "convguard/problem.h"
#include "convguard/status.h"

namespace convguard {

/// Host tensors of one convolution, always in canonical layouts whatever Problem::layout:
///   src (diff_src for BWD_D): mb, ic, ih, iw
///   wei (diff_wei for BWD_W*): g, oc/g, ic/g, kh, kw
///   bia (diff_bia for BWD_WB): oc
///   dst (diff_dst for BWD_*):  mb, oc, oh, ow
/// Values are float; an engine converts to and from the problem's data type.
struct ConvTensors {
  std::vector<float> src, wei, bia, dst;
};

enum class Arg { src, wei, bia, dst };
/// Which args a direction reads and which it writes (FWD_D: src,wei -> dst;
/// FWD_B: src,wei,bia -> dst; BWD_D: dst,wei -> src; BWD_W: src,dst -> wei;
/// BWD_WB: src,dst -> wei,bia).
std::vector<Arg> inputs_of(Dir d);
std::vector<Arg> outputs_of(Dir d);
std::vector<float>& tensor(ConvTensors& t, Arg a);
const std::vector<float>& tensor(const ConvTensors& t, Arg a);
const char* to_string(Arg a);
/// Element count of an arg for a problem (bia: oc; 0 where the direction has no bias).
int64_t elems(const Problem& p, Arg a);
/// Sizes every tensor for p (contents unspecified).
void resize_for(const Problem& p, ConvTensors& t);

/// How exact an algorithm is; selects the error bound (bounds.h, docs/NUMERICS.md).
enum class AlgoClass {
  exact,           ///< direct/implicit GEMM in the problem's type, f32 accumulation
  reduced,         ///< lower internal precision (TF32 inputs, f16/bf16 accumulation)
  winograd,        ///< Winograd, tile unknown: judged as a 6x6 input tile
  fft,             ///< FFT, whole or tiled
  winograd_4x4,    ///< Winograd with a 4x4 input tile (F(2x2,3x3))
  winograd_6x6,    ///< 6x6 input tile (F(4x4,3x3), F(2x2,5x5))
  winograd_13x13,  ///< 13x13 input tile
  winograd_tf32,   ///< Winograd whose transformed-domain products may use TF32 (f32 only)
};
const char* to_string(AlgoClass c);

struct ExecOptions {
  int warmup = 0;   ///< untimed runs before the timed ones
  int repeats = 1;  ///< timed runs; the reported time is their median
};

/// A problem bound to one algorithm, ready to run: the product of the prepare phase
/// (descriptors, find/plan, kernel compilation, device buffers).
class Prepared {
 public:
  virtual ~Prepared() = default;
  /// The resolved algorithm name (e.g. "default" resolves to what the engine chose).
  virtual std::string algo() const = 0;
  virtual AlgoClass algo_class() const = 0;
  /// Phase execute: reads the direction's inputs from `t`, writes its outputs.
  /// Returns the median time of one execution in milliseconds. A Status with
  /// Code::kDeviceLost means the process must stop using the device; an Error whose
  /// message starts with "oob:" means the engine saw a write outside an output buffer.
  virtual Result<double> execute(ConvTensors& t, const ExecOptions& opt) = 0;
};

/// Name of the algorithm every engine accepts: the engine's own default choice.
inline constexpr const char* kDefaultAlgo = "default";

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string name() const = 0;
  /// Library version string ("oneDNN 2.6.3", "cuDNN 9.19.0").
  virtual std::string version() const = 0;
  /// Phase init: load the library, create context and handle. Called once before any
  /// other call that touches the library; safe to call again.
  virtual Status init() = 0;
  /// Algorithms offered for p, the engine's default first; "--algo all" runs these.
  virtual std::vector<std::string> algorithms(const Problem& p) = 0;
  /// Phase prepare. Unsupported status where the library declines p or algo;
  /// Invalid for an algorithm name the engine does not know.
  virtual Result<std::unique_ptr<Prepared>> prepare(const Problem& p, const std::string& algo) = 0;
  /// What results depend on: library version, device, relevant environment.
  virtual std::map<std::string, std::string> fingerprint() = 0;
  /// Fault injection for `sim`: starts work on the engine's device that never ends
  /// and returns once it is running (a GPU engine launches a spinning kernel, then
  /// blocks in a synchronize). CPU engines return Unsupported; sim then spins itself.
  virtual Status inject_hang() { return Status::Unsupported(name() + " has no device to hang"); }
  /// A canary probe (a known-good problem that checks the device after a failure) starts
  /// (true) or ends (false); see ProbeOptions::canary. Engines that inject faults (sim)
  /// stand down during it; the others ignore it.
  virtual void set_canary(bool on) { (void)on; }
};

/// What it takes to build an engine in any process (the supervisor passes it to workers).
struct EngineSpec {
  std::string name;         ///< ref | onednn | cudnn | sim
  std::string base;         ///< for sim: the wrapped engine's name
  std::string quirks_path;  ///< for sim: the quirk file
  uint64_t seed = 0;        ///< for sim: seed of probabilistic rules
};

/// Builds an engine from its spec (make_engine in engine_registry.h, or a test's own).
using EngineFactory = std::function<Result<std::unique_ptr<Engine>>(const EngineSpec&)>;

}  // namespace convguard
