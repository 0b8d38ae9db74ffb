#include "convguard/outcome.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

namespace convguard {
namespace {

constexpr std::array kOutcomeNames = {"ok",    "unsupported", "wrong",  "oob",     "error",
                                      "crash", "hang",        "wedged", "suspect", "invalid"};
constexpr std::array kPhaseNames = {"init", "prepare", "execute", "verify"};

template <class E, size_t N>
Result<E> parse_name(std::string_view s, const std::array<const char*, N>& names,
                     const char* field) {
  for (size_t i = 0; i < N; ++i)
    if (s == names[i]) return static_cast<E>(i);
  return Status::Invalid(std::string("invalid ") + field + "=" + std::string(s));
}

template <class T>
Result<T> required(const nlohmann::json& j, const char* field) {
  if (!j.contains(field)) return Status::Invalid(std::string("missing field ") + field);
  try {
    return j.at(field).get<T>();
  } catch (const nlohmann::json::exception&) {
    return Status::Invalid(std::string("invalid ") + field + "=" + j.at(field).dump());
  }
}

// JSON has no inf or nan (a writer would put null there): they travel as strings.
nlohmann::json number_or_name(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

Result<double> number_field(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end()) return 0.0;
  if (it->is_number()) return it->get<double>();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  }
  return Status::Invalid(std::string("invalid ") + field + "=" + it->dump());
}

}  // namespace

const char* to_string(Outcome o) { return kOutcomeNames[static_cast<size_t>(o)]; }
const char* to_string(Phase p) { return kPhaseNames[static_cast<size_t>(p)]; }
Result<Outcome> parse_outcome(std::string_view s) {
  return parse_name<Outcome>(s, kOutcomeNames, "outcome");
}
Result<Phase> parse_phase(std::string_view s) {
  return parse_name<Phase>(s, kPhaseNames, "phase");
}

nlohmann::json to_json(const ProbeResult& r) {
  nlohmann::json j = {
      {"problem", r.problem},
      {"dir", to_string(r.dir)},
      {"dt", to_string(r.dt)},
      {"engine", r.engine},
      {"algo", r.algo},
      {"outcome", to_string(r.outcome)},
      {"phase", to_string(r.phase)},
      {"time_ms", number_or_name(r.time_ms)},
      {"max_rel_err", number_or_name(r.max_rel_err)},
      {"message", r.message},
  };
  if (!r.name.empty()) j["name"] = r.name;
  if (!r.impl.empty()) j["impl"] = r.impl;
  if (!r.reference.empty()) j["reference"] = r.reference;
  if (!r.err_class.empty()) j["err_class"] = r.err_class, j["err_ratio"] = number_or_name(r.err_ratio);
  if (r.inexact) j["inexact"] = true;
  if (r.worker >= 0) j["worker"] = r.worker;
  if (r.worker_pid > 0) j["worker_pid"] = r.worker_pid;
  if (r.signal != 0) j["signal"] = r.signal;
  if (r.exit_status >= 0) j["exit_status"] = r.exit_status;
  if (!r.stderr_tail.empty()) j["stderr_tail"] = r.stderr_tail;
  if (r.wall_ms > 0) j["wall_ms"] = number_or_name(r.wall_ms);
  if (r.attempt != 1) j["attempt"] = r.attempt;
  return j;
}

Result<ProbeResult> probe_result_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return Status::Invalid("probe result is not a JSON object");
  ProbeResult r;
  auto problem = required<std::string>(j, "problem");
  auto dir = required<std::string>(j, "dir");
  auto dt = required<std::string>(j, "dt");
  auto engine = required<std::string>(j, "engine");
  auto algo = required<std::string>(j, "algo");
  auto outcome = required<std::string>(j, "outcome");
  auto phase = required<std::string>(j, "phase");
  for (const Status* s : {&problem.status(), &dir.status(), &dt.status(), &engine.status(),
                          &algo.status(), &outcome.status(), &phase.status()})
    if (!s->ok()) return *s;
  auto d = parse_dir(*dir);
  if (!d.ok()) return d.status();
  auto t = parse_dt(*dt);
  if (!t.ok()) return t.status();
  auto o = parse_outcome(*outcome);
  if (!o.ok()) return o.status();
  auto ph = parse_phase(*phase);
  if (!ph.ok()) return ph.status();
  r.problem = *problem;
  r.dir = *d;
  r.dt = *t;
  r.engine = *engine;
  r.algo = *algo;
  r.outcome = *o;
  r.phase = *ph;
  auto time_ms = number_field(j, "time_ms");
  auto max_rel_err = number_field(j, "max_rel_err");
  auto wall_ms = number_field(j, "wall_ms");
  auto err_ratio = number_field(j, "err_ratio");
  for (const Status* s : {&time_ms.status(), &max_rel_err.status(), &wall_ms.status(),
                          &err_ratio.status()})
    if (!s->ok()) return *s;
  r.time_ms = *time_ms, r.max_rel_err = *max_rel_err, r.wall_ms = *wall_ms;
  r.err_ratio = *err_ratio;
  try {
    r.message = j.value("message", "");
    r.name = j.value("name", "");
    r.impl = j.value("impl", "");
    r.reference = j.value("reference", "");
    r.err_class = j.value("err_class", "");
    r.inexact = j.value("inexact", false);
    r.worker = j.value("worker", -1);
    r.worker_pid = j.value("worker_pid", 0);
    r.signal = j.value("signal", 0);
    r.exit_status = j.value("exit_status", -1);
    r.stderr_tail = j.value("stderr_tail", "");
    r.attempt = j.value("attempt", 1);
  } catch (const nlohmann::json::exception& e) {
    return Status::Invalid(std::string("invalid probe result: ") + e.what());
  }
  return r;
}

int exit_code_for(const std::vector<Outcome>& outcomes, bool unsupported_ok) {
  if (std::find(outcomes.begin(), outcomes.end(), Outcome::wedged) != outcomes.end()) return 3;
  for (Outcome o : outcomes) {
    if (o == Outcome::ok) continue;
    if (o == Outcome::unsupported && unsupported_ok) continue;
    return 1;
  }
  return 0;
}

}  // namespace convguard
