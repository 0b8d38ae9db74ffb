// Quirk files: parsing, validation and rule matching for the sim engine (see sim.h).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "convguard/sim.h"
#include "model/input_file.h"

namespace convguard {

namespace {

using nlohmann::json;

constexpr std::array<const char*, 16> kIntFields = {"g",  "mb", "ic", "ih", "iw", "oc", "oh", "ow",
                                                    "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw"};
constexpr std::array<const char*, 4> kStringFields = {"dir", "dt", "layout", "algo"};
constexpr std::array<const char*, 7> kEffectNames = {"hang",  "wedge", "crash", "abort",
                                                     "error", "wrong", "slow"};
constexpr std::array<const char*, 7> kRuleKeys = {"when",  "effect",      "factor", "after_calls",
                                                  "phase", "probability", "message"};

bool is_one_of(std::string_view s, auto const& names) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

std::string show(const json& v) { return v.dump(); }

// Builds the error messages of one rule: "quirks ORIGIN: rule N: ...".
struct Ctx {
  const std::string& origin;
  int rule;
  Status fail(const std::string& what) const {
    return Status::Invalid(fmt::format("quirks {}: rule {}: {}", origin, rule, what));
  }
};

Result<QuirkRange> parse_range(const json& v, const Ctx& c, const std::string& field) {
  QuirkRange r;
  for (int end = 0; end < 2; ++end) {
    const json& e = v[static_cast<size_t>(end)];
    if (e.is_null()) continue;
    if (!e.is_number_integer())
      return c.fail(fmt::format("when.{}: range end {} is not an integer or null", field, show(e)));
    (end == 0 ? r.lo : r.hi) = e.get<int64_t>();
  }
  if (r.lo && r.hi && *r.lo > *r.hi)
    return c.fail(fmt::format("when.{}: range {} has lo > hi", field, show(v)));
  return r;
}

bool is_range_shape(const json& v) {
  return v.is_array() && v.size() == 2 && std::all_of(v.begin(), v.end(), [](const json& e) {
           return e.is_null() || e.is_number_integer();
         });
}

// One element of a numeric condition: an integer or a [lo, hi] range.
Result<QuirkRange> parse_int_item(const json& v, const Ctx& c, const std::string& field) {
  if (v.is_number_integer()) return QuirkRange{v.get<int64_t>(), v.get<int64_t>()};
  if (is_range_shape(v)) return parse_range(v, c, field);
  return c.fail(fmt::format(
      "when.{}: expected an integer, a [lo, hi] range or a list of them, got {}", field, show(v)));
}

Status parse_int_condition(const json& v, const Ctx& c, QuirkCondition& cond) {
  const std::string& f = cond.field;
  std::vector<const json*> items;
  if (v.is_object()) {
    if (v.size() != 1 || !v.contains("in") || !v["in"].is_array())
      return c.fail(
          fmt::format("when.{}: an object must be {{\"in\": [values]}}, got {}", f, show(v)));
    for (const json& e : v["in"]) {
      if (!e.is_number_integer())
        return c.fail(fmt::format("when.{}: \"in\" takes integers, got {}", f, show(e)));
      items.push_back(&e);
    }
  } else if (v.is_array() && !is_range_shape(v)) {
    for (const json& e : v) items.push_back(&e);
  } else {
    items.push_back(&v);
  }
  if (items.empty()) return c.fail(fmt::format("when.{}: empty list matches nothing", f));
  for (const json* e : items) {
    auto r = parse_int_item(*e, c, f);
    if (!r.ok()) return r.status();
    cond.ranges.push_back(*r);
  }
  return Status::Ok();
}

// Canonical spelling of a dir/dt/layout value, or the algo name as given.
Result<std::string> canonical(const std::string& field, const std::string& s) {
  if (field == "dir") {
    auto d = parse_dir(s, "when.dir");
    if (!d.ok()) return d.status();
    return std::string(to_string(*d));
  }
  if (field == "dt") {
    auto t = parse_dt(s, "when.dt");
    if (!t.ok()) return t.status();
    return std::string(to_string(*t));
  }
  if (field == "layout") {
    auto l = parse_layout(s, "when.layout");
    if (!l.ok()) return l.status();
    return std::string(to_string(*l));
  }
  return s;
}

Status parse_string_condition(const json& v, const Ctx& c, QuirkCondition& cond) {
  const std::string& f = cond.field;
  std::vector<const json*> items;
  if (v.is_array()) {
    for (const json& e : v) items.push_back(&e);
  } else {
    items.push_back(&v);
  }
  if (items.empty()) return c.fail(fmt::format("when.{}: empty list matches nothing", f));
  for (const json* e : items) {
    if (!e->is_string())
      return c.fail(
          fmt::format("when.{}: expected a string or a list of strings, got {}", f, show(*e)));
    auto s = canonical(f, e->get<std::string>());
    if (!s.ok()) return c.fail(fmt::format("when.{}: bad value {}", f, show(*e)));
    cond.strings.push_back(*s);
  }
  return Status::Ok();
}

Status parse_when(const json& w, const Ctx& c, QuirkRule& rule) {
  if (!w.is_object()) return c.fail(fmt::format("when: expected an object, got {}", show(w)));
  for (const auto& [k, v] : w.items()) {
    QuirkCondition cond{k, {}, {}};
    Status s;
    if (is_one_of(k, kIntFields)) {
      s = parse_int_condition(v, c, cond);
    } else if (is_one_of(k, kStringFields)) {
      s = parse_string_condition(v, c, cond);
    } else {
      return c.fail(fmt::format("when: unknown field \"{}\"", k));
    }
    if (!s.ok()) return s;
    rule.when.push_back(std::move(cond));
  }
  return Status::Ok();
}

Status parse_effect(const json& j, const Ctx& c, QuirkRule& rule) {
  if (!j.contains("effect")) return c.fail("effect: missing");
  const json& e = j["effect"];
  if (!e.is_string()) return c.fail(fmt::format("effect: expected a string, got {}", show(e)));
  const std::string name = e.get<std::string>();
  auto it = std::find(kEffectNames.begin(), kEffectNames.end(), name);
  if (it == kEffectNames.end()) return c.fail(fmt::format("unknown effect \"{}\"", name));
  rule.effect = static_cast<Effect>(it - kEffectNames.begin());
  return Status::Ok();
}

Status parse_factor(const json& j, const Ctx& c, QuirkRule& rule) {
  const bool slow = rule.effect == Effect::slow;
  if (!j.contains("factor"))
    return slow ? c.fail("factor: missing (effect slow needs it)") : Status::Ok();
  const json& f = j["factor"];
  if (!slow) return c.fail(fmt::format("factor: {} given, but only effect slow takes it", show(f)));
  // A factor beyond a million turns milliseconds into weeks; the deadlines catch far less.
  if (!f.is_number() || !(f.get<double>() >= 1 && f.get<double>() <= 1e6))
    return c.fail(fmt::format("factor: expected a number from 1 to 1e6, got {}", show(f)));
  rule.factor = f.get<double>();
  return Status::Ok();
}

Status parse_scalars(const json& j, const Ctx& c, QuirkRule& rule) {
  if (j.contains("after_calls")) {
    const json& a = j["after_calls"];
    if (!a.is_number_integer() || a.get<int64_t>() < 0)
      return c.fail(fmt::format("after_calls: expected an integer >= 0, got {}", show(a)));
    rule.after_calls = a.get<int64_t>();
  }
  if (j.contains("probability")) {
    const json& p = j["probability"];
    if (!p.is_number() || !(p.get<double>() > 0 && p.get<double>() <= 1))
      return c.fail(fmt::format("probability: expected a number in (0, 1], got {}", show(p)));
    rule.probability = p.get<double>();
  }
  if (j.contains("message")) {
    const json& m = j["message"];
    if (!m.is_string()) return c.fail(fmt::format("message: expected a string, got {}", show(m)));
    rule.message = m.get<std::string>();
  }
  return Status::Ok();
}

Status parse_phase_field(const json& j, const Ctx& c, QuirkRule& rule) {
  if (j.contains("phase")) {
    const json& p = j["phase"];
    auto ph =
        p.is_string() ? parse_phase(p.get<std::string>()) : Result<Phase>(Status::Invalid(""));
    if (!ph.ok() || *ph == Phase::verify)
      return c.fail(
          fmt::format("phase: expected \"init\", \"prepare\" or \"execute\", got {}", show(p)));
    rule.phase = *ph;
  }
  if (rule.effect == Effect::wrong && rule.phase != Phase::execute)
    return c.fail(
        fmt::format("effect wrong: only in phase execute, not {}", to_string(rule.phase)));
  if (rule.phase == Phase::init && !rule.when.empty())
    return c.fail(fmt::format("when.{}: phase init sees no problem; its when must be empty",
                              rule.when.front().field));
  if (rule.phase == Phase::init && rule.after_calls > 0)
    return c.fail("after_calls: not allowed in phase init (nothing has executed yet)");
  return Status::Ok();
}

Result<QuirkRule> parse_rule(const json& j, const Ctx& c) {
  if (!j.is_object()) return c.fail(fmt::format("expected an object, got {}", show(j)));
  for (const auto& [k, v] : j.items())
    if (!is_one_of(k, kRuleKeys)) return c.fail(fmt::format("unknown field \"{}\"", k));
  QuirkRule rule;
  if (j.contains("when")) {
    CG_RETURN_IF_ERROR(parse_when(j["when"], c, rule));
  }
  for (auto step : {parse_effect, parse_factor, parse_scalars, parse_phase_field}) {
    CG_RETURN_IF_ERROR(step(j, c, rule));
  }
  return rule;
}

std::string fnv1a_hex(std::string_view text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : text) h = (h ^ ch) * 1099511628211ull;
  return fmt::format("{:016x}", h);
}

Status parse_top(const json& j, const std::string& origin, Quirks& q) {
  auto fail = [&](const std::string& what) {
    return Status::Invalid(fmt::format("quirks {}: {}", origin, what));
  };
  if (!j.is_object()) return fail("expected a JSON object with \"name\" and \"rules\"");
  for (const auto& [k, v] : j.items())
    if (k != "name" && k != "description" && k != "rules")
      return fail(fmt::format("unknown field \"{}\"", k));
  if (!j.contains("name") || !j["name"].is_string() || j["name"].get<std::string>().empty())
    return fail("name: expected a non-empty string");
  q.name = j["name"].get<std::string>();
  if (j.contains("description")) {
    if (!j["description"].is_string()) return fail("description: expected a string");
    q.description = j["description"].get<std::string>();
  }
  if (!j.contains("rules") || !j["rules"].is_array()) return fail("rules: expected an array");
  return Status::Ok();
}

bool range_holds(const QuirkRange& r, int64_t v) {
  return (!r.lo || v >= *r.lo) && (!r.hi || v <= *r.hi);
}

int64_t int_field(const Problem& p, const std::string& f) {
  const int64_t* fields[] = {&p.g,  &p.mb, &p.ic, &p.ih, &p.iw, &p.oc, &p.oh, &p.ow,
                             &p.kh, &p.kw, &p.sh, &p.sw, &p.ph, &p.pw, &p.dh, &p.dw};
  auto it = std::find(kIntFields.begin(), kIntFields.end(), f);
  return *fields[it - kIntFields.begin()];
}

bool condition_holds(const QuirkCondition& c, const Problem& p,
                     const std::vector<std::string>& algos) {
  if (!c.ranges.empty()) {
    const int64_t v = int_field(p, c.field);
    return std::any_of(c.ranges.begin(), c.ranges.end(),
                       [&](const QuirkRange& r) { return range_holds(r, v); });
  }
  std::vector<std::string> have;
  if (c.field == "dir")
    have = {to_string(p.dir)};
  else if (c.field == "dt")
    have = {to_string(p.dt)};
  else if (c.field == "layout")
    have = {to_string(p.layout)};
  else
    have = algos;
  return std::any_of(have.begin(), have.end(), [&](const std::string& h) {
    return std::find(c.strings.begin(), c.strings.end(), h) != c.strings.end();
  });
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

const char* to_string(Effect e) { return kEffectNames[static_cast<size_t>(e)]; }

Result<Quirks> parse_quirks(std::string_view text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return Status::Invalid(fmt::format("quirks {}: not valid JSON: {}", origin, e.what()));
  }
  Quirks q;
  CG_RETURN_IF_ERROR(parse_top(j, origin, q));
  const json& rules = j["rules"];
  for (size_t i = 0; i < rules.size(); ++i) {
    auto r = parse_rule(rules[i], Ctx{origin, static_cast<int>(i)});
    if (!r.ok()) return r.status();
    q.rules.push_back(std::move(*r));
  }
  q.content_hash = fnv1a_hex(text);
  return q;
}

Result<Quirks> load_quirks(const std::string& path) {
  auto text = read_input_file(path, "cannot read quirks file");
  if (!text.ok()) return text.status();
  return parse_quirks(*text, path);
}

bool when_holds(const QuirkRule& rule, const Problem* p, const std::vector<std::string>& algos) {
  if (rule.when.empty()) return true;
  if (!p) return false;
  return std::all_of(rule.when.begin(), rule.when.end(),
                     [&](const QuirkCondition& c) { return condition_holds(c, *p, algos); });
}

int choose_rule(const Quirks& q, Phase phase, const Problem* p,
                const std::vector<std::string>& algos, int64_t executions) {
  for (size_t i = 0; i < q.rules.size(); ++i) {
    const QuirkRule& r = q.rules[i];
    if (r.phase == phase && executions >= r.after_calls && when_holds(r, p, algos))
      return static_cast<int>(i);
  }
  return -1;
}

bool rule_fires(const QuirkRule& rule, uint64_t seed, Phase phase, const std::string& problem_key,
                int64_t executions) {
  if (rule.probability >= 1) return true;
  uint64_t h = splitmix64(seed);
  for (unsigned char ch : std::string(to_string(phase)) + "|" + problem_key)
    h = (h ^ ch) * 1099511628211ull;
  h = splitmix64(h ^ splitmix64(static_cast<uint64_t>(executions)));
  const double u = static_cast<double>(h >> 11) * 0x1.0p-53;  // uniform in [0, 1)
  return u < rule.probability;
}

}  // namespace convguard
