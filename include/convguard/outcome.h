// Outcomes, phases and the record of one probe, with its JSON line form.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "convguard/problem.h"
#include "convguard/status.h"

namespace convguard {

/// The taxonomy of docs/DESIGN.md. Declaration order is severity order for summaries.
enum class Outcome { ok, unsupported, wrong, oob, error, crash, hang, wedged, suspect, invalid };
enum class Phase { init, prepare, execute, verify };

const char* to_string(Outcome o);
const char* to_string(Phase p);
Result<Outcome> parse_outcome(std::string_view s);
Result<Phase> parse_phase(std::string_view s);

/// One probe's record. Fields beyond docs/DESIGN.md's minimum are optional in JSON
/// (written only when set).
struct ProbeResult {
  std::string problem;  ///< key(p)
  std::string name;     ///< the problem's label, if any
  Dir dir = Dir::FWD_D;
  DataType dt = DataType::f32;
  std::string engine;
  std::string algo;  ///< the algorithm asked for ("default", "all" expanded): part of the key
  std::string impl;  ///< what the engine resolved `algo` to, where it differs (e.g. default -> gemm)
  Outcome outcome = Outcome::ok;
  Phase phase = Phase::init;  ///< the phase the probe ended in
  double time_ms = 0;         ///< median execution time (0 if it never executed)
  double max_rel_err = 0;     ///< max |got - ref| / max(|ref|, 1)
  double err_ratio = 0;       ///< error over the class's bound (bounds.h); <= 1 for ok
  std::string err_class;      ///< the algorithm class judged with ("exact", "fft", ...)
  bool inexact = false;       ///< the error exceeds what the exact class allows
  std::string message;
  std::string reference;  ///< engine that judged the result ("ref", "onednn")
  // Facts from isolation; absent in in-process runs.
  int worker = -1;          ///< worker slot that ran it
  int worker_pid = 0;
  int signal = 0;           ///< signal that ended the worker, for crash
  int exit_status = -1;     ///< exit status of a worker that exited
  std::string stderr_tail;  ///< last lines of the worker's stderr, for crash/hang
  double wall_ms = 0;       ///< supervisor clock from dispatch to verdict
  int attempt = 1;
};

nlohmann::json to_json(const ProbeResult& r);
/// Inverse of to_json; Invalid naming the field on a bad object.
Result<ProbeResult> probe_result_from_json(const nlohmann::json& j);

/// Exit code for a set of outcomes: 0 all ok, 1 some not ok (unsupported counts as ok
/// only when `unsupported_ok`), 3 if any wedged.
int exit_code_for(const std::vector<Outcome>& outcomes, bool unsupported_ok = true);

}  // namespace convguard
