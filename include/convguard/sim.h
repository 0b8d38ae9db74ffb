// The `sim` engine: wraps any engine and injects faults described by a quirk file,
// so the supervisor, searches and guard can be tested without a broken GPU.
//
// Quirk file (JSON; see docs/DESIGN.md and quirks/README.md):
//   { "name": "rx5600xt-rocm57", "description": "optional text",
//     "rules": [ { "when": {...}, "effect": "hang", "factor": 5, "after_calls": 3,
//                  "phase": "execute", "probability": 0.5, "message": "text" } ] }
//
// `when` (optional, default {}: always) is a conjunction. Keys:
//   g mb ic ih iw oc oh ow kh kw sh sw ph pw dh dw  (integers)
//       44            exact value
//       [44, null]    inclusive range [lo, hi]; null leaves an end open; lo > hi is an error
//       [[44, 48], [56, 60], 64]   a list: any element (value or range) matches
//       {"in": [44, 48]}           a list of exact values (a plain two-number array is a range)
//   dir dt layout algo  (strings): exact value or a list of values. dir/dt/layout are
//       parsed like the command line (case-insensitive); `algo` matches either the name
//       asked for (e.g. "default") or the name the base engine resolved it to.
//
// Rules are tried in order; within a phase the first rule whose `when` holds and whose
// `after_calls` is reached is chosen, and no later rule is considered for that call.
// `probability` then decides whether the chosen rule fires (it does not fall through).
//
// Effects:
//   hang   the base engine's inject_hang(); if that is Unsupported (CPU engines) or
//          returns, a volatile busy loop on the CPU, forever.
//   wedge  a hang that outlives the process: creates the file named by the environment
//          variable CONVGUARD_SIM_WEDGE_FILE (when set), then hangs. While that file exists,
//          every sim engine hangs in init(), prepare() and execute(), in canary mode too, so
//          canaries in fresh workers fail and the supervisor must report `wedged`. Deleting
//          the file "resets the device".
//   crash  a real SIGSEGV: a write through a null pointer read from a volatile.
//   abort  std::abort() (SIGABRT).
//   error  the phase returns Status::Error (message: the rule's `message` or a default).
//   wrong  execute only: the base runs, then up to three elements of each output
//          (first, middle, last) are changed by 1 + |v|.
//   slow   the base runs, then the call sleeps (factor - 1) x the base's wall time;
//          execute reports the base's time x factor. `factor` (>= 1) is required.
// Before hang, wedge, crash and abort the engine writes one line naming the rule to
// stderr, so a worker's stderr tail says what was injected.
//
// `phase`: "execute" (default), "prepare" or "init".
//   prepare rules see the problem and algo; the base prepares first, then the effect.
//   init rules must have an empty `when` and no `after_calls` (init sees no problem);
//   they fire in every init() call, canary mode included: they model a device that
//   cannot start at all.
// `after_calls` (integer >= 0): the rule is considered only once this engine instance
//   (= this worker process) has executed that many times, counting every execute()
//   outside canary mode, whatever the problem (context-dependent bugs).
// `probability` in (0, 1], default 1: fires when a hash of (seed, phase, key(problem),
//   executions so far) falls below it, so a flaky device is reproducible for a given
//   seed and probe order.
//
// Canary mode: the worker checks the device with a known-good problem after a failure.
// A canary must see the base untouched (except for init rules and the wedge file), and
// must not advance the execution count: Engine::set_canary(true) around the canary
// (run_probe does it for ProbeOptions::canary).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "convguard/engine.h"
#include "convguard/outcome.h"
#include "convguard/status.h"

namespace convguard {

/// Environment variable naming the file that marks a wedged simulated device.
inline constexpr const char* kSimWedgeFileEnv = "CONVGUARD_SIM_WEDGE_FILE";

enum class Effect { hang, wedge, crash, abort, error, wrong, slow };
const char* to_string(Effect e);

/// Inclusive range; an empty optional is an open end. An exact value v is [v, v].
struct QuirkRange {
  std::optional<int64_t> lo, hi;
};

/// One key of `when`. Numeric fields use `ranges`, string fields `strings`
/// (dir/dt/layout in canonical spelling); the condition holds when any element matches.
struct QuirkCondition {
  std::string field;
  std::vector<QuirkRange> ranges;
  std::vector<std::string> strings;
};

struct QuirkRule {
  std::vector<QuirkCondition> when;
  Effect effect = Effect::hang;
  double factor = 1;  ///< slow only
  int64_t after_calls = 0;
  Phase phase = Phase::execute;
  double probability = 1;
  std::string message;
};

struct Quirks {
  std::string name;
  std::string description;
  std::vector<QuirkRule> rules;
  std::string content_hash;  ///< FNV-1a 64 of the file's bytes, 16 hex digits
};

/// Parses and validates quirk JSON. Errors are Invalid and read
/// "quirks ORIGIN: rule N: FIELD: what" (e.g. `quirks rx.json: rule 2: unknown effect "explode"`).
Result<Quirks> parse_quirks(std::string_view text, const std::string& origin);
/// Reads and parses a quirk file; a missing or unreadable file is Invalid naming the path.
Result<Quirks> load_quirks(const std::string& path);

/// Whether every condition of `rule.when` holds for p with algorithm names `algos`
/// (any of them may match an `algo` condition). `p` may be null only for an empty `when`.
bool when_holds(const QuirkRule& rule, const Problem* p, const std::vector<std::string>& algos);
/// Index of the rule chosen for a call in `phase` after `executions` executions, or -1.
int choose_rule(const Quirks& q, Phase phase, const Problem* p,
                const std::vector<std::string>& algos, int64_t executions);
/// The deterministic coin of `probability`: true when the rule fires for this call.
/// `problem_key` is key(p), or "" in init.
bool rule_fires(const QuirkRule& rule, uint64_t seed, Phase phase, const std::string& problem_key,
                int64_t executions);

/// The sim engine's own surface beyond Engine (reach it with dynamic_cast).
class SimEngine : public Engine {
 public:
  /// Canary mode (set_canary): prepare/execute pass straight to the base and are not
  /// counted (init rules and the wedge file still apply). Off by default.
  virtual bool canary() const = 0;
  /// Executions counted so far (the `after_calls` clock).
  virtual int64_t executions() const = 0;
  virtual const Quirks& quirks() const = 0;
};

/// Builds `sim` over `base` with the quirk file at `quirks_path`; `seed` drives
/// probabilistic rules. Errors: the file's (see load_quirks); a null base is Invalid.
/// name() "sim"; version() "sim(<quirk name>) over <base version>"; algorithms() the base's;
/// fingerprint() the base's plus "sim.quirks" (name) and "sim.quirks_hash".
Result<std::unique_ptr<Engine>> make_sim_engine(std::unique_ptr<Engine> base,
                                                const std::string& quirks_path, uint64_t seed);
/// As make_sim_engine, from parsed quirks.
std::unique_ptr<Engine> make_sim_engine(std::unique_ptr<Engine> base, Quirks quirks, uint64_t seed);

}  // namespace convguard
