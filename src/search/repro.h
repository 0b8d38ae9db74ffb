// Repro lines: a stored probe as something another person can run without convguard's
// store: a benchdnn line, a MIOpenDriver command, a PyTorch script, a `convguard probe`.
// Every string that reaches a shell line is quoted, and every string that reaches Python
// is a Python literal, whatever it holds (quotes, $, backticks, newlines, bytes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "convguard/outcome.h"
#include "convguard/problem.h"
#include "model/shell.h"
#include "convguard/status.h"

namespace convguard {

enum class ReproForm { benchdnn, miopen, torch, convguard };
const char* to_string(ReproForm f);
/// "benchdnn", "miopen", "torch" (or "pytorch"), "convguard"; Invalid names the value.
Result<ReproForm> parse_repro_form(std::string_view s);

/// What a ProbeResult does not carry about how the engine was built (from the run record
/// or the command line): sim's wrapped engine, quirk file and seed.
struct ReproContext {
  std::string base;
  std::string quirks_path;
  uint64_t seed = 0;
};

/// The engine facts of a stored run: from its options JSON ("engine": {"base", "quirks",
/// "seed"}, or those keys at the top, "quirks_path" too), else from --base/--quirks/--seed
/// words of its command line. Unknown keys and unreadable JSON leave fields empty.
ReproContext repro_context_from_run(const std::string& options_json, const std::string& command);

/// A Python 3 string literal for `s` ('...'): ASCII only, with \\, \', \n, \t, \xNN for
/// other control characters, \uXXXX/\UXXXXXXXX for non-ASCII UTF-8 and U+FFFD for bytes
/// that are not UTF-8.
std::string python_literal(std::string_view s);
/// `s` with ASCII letters in lower case (algorithm and form names compare that way).
std::string ascii_lower(std::string_view s);

/// The problem a stored result names (its key parsed, its name restored).
Result<Problem> problem_of(const ProbeResult& r);

/// ./benchdnn --conv [--engine=gpu] [--mode=C|R|I] --dir= --dt= [--stag=axb --dtag=axb]
/// [--alg=wino|direct] DESCRIPTOR[n"name"]: --mode=C for wrong/oob (correctness), R (run
/// only) for failures in execute, I (initialization only) for failures before it; --engine
/// =gpu where the probe ran on a GPU engine (oneDNN reaches cuDNN and MIOpen through it).
std::vector<std::string> benchdnn_argv(const Problem& p, const ProbeResult& r,
                                       const ReproContext& ctx = {});
std::string benchdnn_line(const Problem& p, const ProbeResult& r, const ReproContext& ctx = {});

/// An environment and a command.
struct EnvCommand {
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> argv;
};
/// MIOpenDriver conv|convfp16|convbfp16 with MIOpen's conventions (dilation 1 = dense,
/// -F 1 forward, 2 backward data, 4 backward weights, -b 1 with bias, NHWC layouts). Where
/// the algorithm is a MIOpen solver, the environment pins it: MIOPEN_FIND_MODE=normal and
/// MIOPEN_DEBUG_FIND_ONLY_SOLVER=<solver>, plus the family switches that keep GEMM and
/// FFT (which that variable does not filter) out, or in for a GEMM/FFT solver. A probe of
/// the miopen engine also gets -S <solver id> (-S 0 for default; for find.<mode>, no -S and
/// MIOPEN_FIND_MODE=<mode>), the solver as its id in FIND_ONLY_SOLVER, and
/// MIOPEN_ENABLE_LOGGING_CMD=1 MIOPEN_LOG_LEVEL=6.
EnvCommand miopen_command(const Problem& p, const ProbeResult& r, const ReproContext& ctx = {});
/// "NAME=value ... MIOpenDriver conv ...", every word quoted.
std::string miopen_line(const Problem& p, const ProbeResult& r, const ReproContext& ctx = {});

/// A runnable PyTorch script: deterministic integer-valued inputs, the direction as
/// F.conv2d or its autograd backward, dtype and channels_last as probed, cudnn flags where
/// the algorithm can be expressed, on cuda (cpu for CPU engines); it prints the max
/// relative error against a float64 CPU run.
std::string torch_snippet(const Problem& p, const ProbeResult& r, const ReproContext& ctx = {});

/// convguard probe --engine E [--base B --quirks Q --seed S] --dir D --dt T [--layout nhwc]
/// --algo A DESCRIPTOR.
std::vector<std::string> convguard_argv(const Problem& p, const ProbeResult& r,
                                        const ReproContext& ctx = {});
std::string convguard_line(const Problem& p, const ProbeResult& r, const ReproContext& ctx = {});

/// The requested form as text (the torch form is a multi-line script).
std::string repro(ReproForm f, const Problem& p, const ProbeResult& r, const ReproContext& ctx = {});

}  // namespace convguard
