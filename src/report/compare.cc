// Comparing two runs: fingerprint differences key by key, and outcome changes.
#include "report/compare.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <iostream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "report/markdown.h"

namespace convguard {
namespace {

using report::md_cell;
using report::md_code;

bool starts_with_any(std::string_view key, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](std::string_view p) { return key.substr(0, p.size()) == p; });
}

std::optional<int64_t> parse_id(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty() || v <= 0) return std::nullopt;
  return v;
}

std::string json_text(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>()
                       : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<std::string> value_of(const std::map<std::string, std::string>& fp,
                                    const std::string& key) {
  auto it = fp.find(key);
  if (it == fp.end()) return std::nullopt;
  return it->second;
}

using ProbeKey = std::pair<std::string, std::string>;  // problem key, algo

std::map<ProbeKey, const ProbeResult*> by_key(const std::vector<StoredProbe>& probes) {
  std::map<ProbeKey, const ProbeResult*> out;
  for (const auto& p : probes) out[{p.result.problem, p.result.algo}] = &p.result;
  return out;
}

OutcomeChange change_of(const ProbeKey& k, const ProbeResult* a, const ProbeResult* b) {
  OutcomeChange c;
  c.problem = k.first;
  c.algo = k.second;
  if (a) c.a = a->outcome;
  if (b) c.b = b->outcome;
  c.name = b && !b->name.empty() ? b->name : a ? a->name : "";
  if (b && b->outcome != Outcome::ok) c.message = b->message;
  else if (a) c.message = a->message;
  return c;
}

void compare_probes(const RunSide& a, const RunSide& b, RunComparison* c) {
  const auto ka = by_key(a.probes), kb = by_key(b.probes);
  for (const auto& [k, ra] : ka) {
    ++c->counts_a[ra->outcome];
    auto it = kb.find(k);
    if (it == kb.end()) c->only_a.push_back(change_of(k, ra, nullptr));
    else if (it->second->outcome != ra->outcome) c->changed.push_back(change_of(k, ra, it->second));
    else ++c->unchanged;
  }
  for (const auto& [k, rb] : kb) {
    ++c->counts_b[rb->outcome];
    if (!ka.count(k)) c->only_b.push_back(change_of(k, nullptr, rb));
  }
}

void compare_fingerprints(const RunSide& a, const RunSide& b, RunComparison* c) {
  std::set<std::string> keys;
  for (const auto& [k, v] : a.fingerprint) keys.insert(k);
  for (const auto& [k, v] : b.fingerprint) keys.insert(k);
  bool any_library = false, libraries_equal = true;
  for (const auto& k : keys) {
    const auto va = value_of(a.fingerprint, k), vb = value_of(b.fingerprint, k);
    const std::string cat = fingerprint_category(k);
    if (cat == "library") {
      any_library = true;
      libraries_equal = libraries_equal && va == vb;
      if (va) c->libraries.emplace_back(k, *va);
    }
    if (va != vb) c->differences.push_back(FingerprintDiff{k, cat, va, vb});
  }
  c->same_libraries = any_library && libraries_equal;
}

std::string outcome_text(const std::optional<Outcome>& o) { return o ? to_string(*o) : "-"; }

std::string counts_text(const std::map<Outcome, int>& counts) {
  int total = 0;
  std::string parts;
  for (auto [o, n] : counts) {
    total += n;
    parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", n, to_string(o));
  }
  return fmt::format("{} probes{}", total, parts.empty() ? "" : " (" + parts + ")");
}

std::string run_line(char side, const RunSide& s, const std::map<Outcome, int>& counts) {
  return fmt::format("- {}: \"{}\": run {} of {} ({}, engine {}, fingerprint {}): {}\n", side,
                     md_cell(s.label), s.run.id, md_cell(s.store_path), to_string(s.run.status),
                     md_cell(s.run.engine), s.run.fingerprint_hash, counts_text(counts));
}

std::string change_table(const std::string& heading, const std::vector<OutcomeChange>& rows) {
  if (rows.empty()) return "";
  std::string out = fmt::format("\n## {} ({})\n\n| problem | name | algo | A | B | message |\n"
                                "|---|---|---|---|---|---|\n",
                                heading, rows.size());
  for (const auto& r : rows)
    out += fmt::format("| {} | {} | {} | {} | {} | {} |\n", md_code(r.problem), md_cell(r.name),
                       md_cell(r.algo), outcome_text(r.a), outcome_text(r.b),
                       md_cell(r.message.substr(0, 160)));
  return out;
}

nlohmann::json side_json(const RunSide& s, const std::map<Outcome, int>& counts) {
  nlohmann::json counts_j = nlohmann::json::object();
  for (auto [o, n] : counts) counts_j[to_string(o)] = n;
  return {{"store", s.store_path}, {"run", s.run.id},          {"label", s.label},
          {"engine", s.run.engine}, {"status", to_string(s.run.status)},
          {"fingerprint_hash", s.run.fingerprint_hash}, {"fingerprint", s.fingerprint},
          {"counts", counts_j}};
}

nlohmann::json changes_json(const std::vector<OutcomeChange>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json j = {{"problem", r.problem}, {"algo", r.algo},
                        {"a", r.a ? nlohmann::json(to_string(*r.a)) : nlohmann::json(nullptr)},
                        {"b", r.b ? nlohmann::json(to_string(*r.b)) : nlohmann::json(nullptr)}};
    if (!r.name.empty()) j["name"] = r.name;
    if (!r.message.empty()) j["message"] = r.message;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

const char* fingerprint_category(std::string_view key) {
  if (key.substr(0, 4) == "env.") return "environment";
  if (key.find("version") != std::string_view::npos ||
      starts_with_any(key, {"cudnn", "cuda", "cublas", "driver", "miopen", "rocm", "hip",
                            "rocblas", "tensile", "torch", "onednn", "dnnl", "mkl", "library"}))
    return "library";
  if (key.find("arch") != std::string_view::npos ||
      starts_with_any(key, {"device", "gpu", "gfx", "compute_capability", "sm_count",
                            "memory_mib", "cpu", "threads", "host"}))
    return "device";
  return "other";
}

std::string run_label(const RunInfo& run) {
  auto label_in = [](const std::string& text) -> std::string {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_object() && j.contains("label") && j["label"].is_string())
      return j["label"].get<std::string>();
    return "";
  };
  std::string l = label_in(run.options_json);
  if (l.empty()) l = label_in(run.fingerprint_json);
  return l.empty() ? fmt::format("run {}", run.id) : l;
}

Result<std::map<std::string, std::string>> parse_fingerprint(const RunInfo& run) {
  auto j = nlohmann::json::parse(run.fingerprint_json, nullptr, false);
  if (!j.is_object())
    return Status::Corrupt(fmt::format("run {}: fingerprint is not a JSON object", run.id));
  std::map<std::string, std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = json_text(it.value());
  return out;
}

Result<RunRef> parse_run_ref(std::string_view text, const std::string& default_store) {
  if (text.empty()) return Status::Invalid("invalid run reference '': give RUN_ID, latest, FILE or FILE:RUN_ID");
  if (auto id = parse_id(text)) {
    if (default_store.empty())
      return Status::Invalid(fmt::format("invalid run reference '{}': no --db to look it up in", text));
    return RunRef{default_store, id};
  }
  if (text == "latest") {
    if (default_store.empty()) return Status::Invalid("invalid run reference 'latest': no --db");
    return RunRef{default_store, std::nullopt};
  }
  const size_t colon = text.rfind(':');
  if (colon != std::string_view::npos && colon > 0)
    if (auto id = parse_id(text.substr(colon + 1)))
      return RunRef{std::string(text.substr(0, colon)), id};
  return RunRef{std::string(text), std::nullopt};
}

Result<RunSide> load_run(Store& store, std::optional<int64_t> run_id) {
  RunSide s;
  s.store_path = store.path();
  if (run_id) {
    auto r = store.get_run(*run_id);
    if (!r.ok())
      return Status::Invalid(fmt::format("invalid run {}: not in {} ({})", *run_id, store.path(),
                                         r.status().message()));
    s.run = *r;
  } else {
    auto runs = store.list_runs();
    if (!runs.ok()) return runs.status();
    if (runs->empty()) return Status::Invalid(fmt::format("{} holds no runs", store.path()));
    s.run = runs->back();
  }
  auto fp = parse_fingerprint(s.run);
  if (!fp.ok()) return fp.status();
  s.fingerprint = std::move(*fp);
  s.label = run_label(s.run);
  ProbeFilter f;
  f.run_id = s.run.id;
  auto probes = store.list_probes(f);
  if (!probes.ok()) return probes.status();
  s.probes = std::move(*probes);
  return s;
}

Result<RunSide> load_run(const RunRef& ref) {
  auto store = Store::open(ref.store_path, Store::Mode::read_only);
  if (!store.ok()) return store.status();
  return load_run(**store, ref.run_id);
}

RunComparison compare_runs(const RunSide& a, const RunSide& b) {
  RunComparison c;
  compare_fingerprints(a, b, &c);
  compare_probes(a, b, &c);
  c.a = a;
  c.b = b;
  c.a.probes.clear();
  c.b.probes.clear();
  return c;
}

Result<RunComparison> compare_run_refs(std::string_view ref_a, std::string_view ref_b,
                                       const std::string& default_store) {
  auto ra = parse_run_ref(ref_a, default_store);
  if (!ra.ok()) return ra.status();
  auto rb = parse_run_ref(ref_b, default_store);
  if (!rb.ok()) return rb.status();
  auto a = load_run(*ra);
  if (!a.ok()) return a.status();
  auto b = load_run(*rb);
  if (!b.ok()) return b.status();
  return compare_runs(*a, *b);
}

std::string libraries_line(const RunComparison& c) {
  std::string libs;
  for (const auto& [k, v] : c.libraries) libs += fmt::format("{}{} {}", libs.empty() ? "" : ", ", k, v);
  if (c.same_libraries) {
    std::string line = "These runs used the same libraries: " + libs;
    if (c.a.label != c.b.label)
      line += fmt::format(" (although they are labelled \"{}\" and \"{}\")", c.a.label, c.b.label);
    return line + ".";
  }
  std::string changes;
  for (const auto& d : c.differences)
    if (d.category == std::string("library"))
      changes += fmt::format("{}{} {} -> {}", changes.empty() ? "" : ", ", d.key,
                             d.a.value_or("(none)"), d.b.value_or("(none)"));
  if (changes.empty()) return "Neither fingerprint names a library version.";
  return "These runs used different libraries: " + changes + ".";
}

std::string to_markdown(const RunComparison& c) {
  std::string out = libraries_line(c) + "\n\n";
  out += fmt::format("# Comparison of \"{}\" (A) and \"{}\" (B)\n\n", md_cell(c.a.label),
                     md_cell(c.b.label));
  out += run_line('A', c.a, c.counts_a) + run_line('B', c.b, c.counts_b);
  if (c.differences.empty()) {
    out += "\n## Fingerprints\n\nThe fingerprints are identical.\n";
  } else {
    out += "\n## Fingerprint differences\n\n| key | kind | A | B |\n|---|---|---|---|\n";
    for (const auto& d : c.differences)
      out += fmt::format("| {} | {} | {} | {} |\n", md_cell(d.key), d.category,
                         md_cell(d.a.value_or("(unset)")), md_cell(d.b.value_or("(unset)")));
  }
  out += change_table("Outcome changes", c.changed);
  out += change_table("Only in A", c.only_a);
  out += change_table("Only in B", c.only_b);
  out += fmt::format("\n{} problem(s) changed outcome, {} kept it; {} only in A, {} only in B.\n",
                     c.changed.size(), c.unchanged, c.only_a.size(), c.only_b.size());
  return out;
}

nlohmann::json to_json(const RunComparison& c) {
  nlohmann::json diffs = nlohmann::json::array();
  for (const auto& d : c.differences)
    diffs.push_back({{"key", d.key}, {"category", d.category},
                     {"a", d.a ? nlohmann::json(*d.a) : nlohmann::json(nullptr)},
                     {"b", d.b ? nlohmann::json(*d.b) : nlohmann::json(nullptr)}});
  return {{"same_libraries", c.same_libraries}, {"libraries_line", libraries_line(c)},
          {"a", side_json(c.a, c.counts_a)},    {"b", side_json(c.b, c.counts_b)},
          {"differences", diffs},               {"changed", changes_json(c.changed)},
          {"only_a", changes_json(c.only_a)},   {"only_b", changes_json(c.only_b)},
          {"unchanged", c.unchanged}};
}

Status write_comparison(std::string_view ref_a, std::string_view ref_b,
                        const std::string& default_store, bool json, const std::string& out_path) {
  auto c = compare_run_refs(ref_a, ref_b, default_store);
  if (!c.ok()) return c.status();
  const std::string text =
      json ? to_json(*c).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"
           : to_markdown(*c);
  if (out_path.empty() || out_path == "-") {
    std::cout << text << std::flush;
    return std::cout ? Status::Ok() : Status::Io("cannot write the comparison to stdout");
  }
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::Io("cannot write the comparison to " + out_path);
  return Status::Ok();
}

}  // namespace convguard
