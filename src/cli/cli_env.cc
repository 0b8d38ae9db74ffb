// `convguard env`: the fingerprint of every engine this build can start here, and the lint
// of the environment (env_lint.h); `--export` prints the environment as a shell snippet.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "convguard/engine_registry.h"
#include "env/env_lint.h"

namespace convguard::cli {
namespace {

struct EnvArgs {
  bool json = false;
  bool export_snippet = false;
  std::vector<std::string> framework_dirs;  ///< e.g. .../site-packages/torch/lib
};

/// One engine as found here: its fingerprint, or why it could not start.
struct EngineFacts {
  std::string name;
  bool ok = false;
  std::string reason;
  std::map<std::string, std::string> fingerprint;
};

std::vector<EngineFacts> probe_engines() {
  std::vector<EngineFacts> out;
  for (const auto& name : engine_names()) {
    if (name == "sim") continue;  // a wrapper: it needs a quirk file, and has no device
    EngineFacts f;
    f.name = name;
    auto engine = make_engine(EngineSpec{name, "", "", 0});
    Status s = engine.ok() ? (*engine)->init() : engine.status();
    f.ok = s.ok();
    if (f.ok) f.fingerprint = (*engine)->fingerprint();
    else f.reason = s.message();
    out.push_back(std::move(f));
  }
  return out;
}

// The real GPU architecture for the HSA override rule: gfx names as MIOpen reports them,
// or sm_XY from a CUDA compute capability "X.Y".
std::string gpu_arch(const std::vector<EngineFacts>& engines) {
  for (const auto& e : engines) {
    for (const char* k : {"gfx_arch", "arch", "gcn_arch"}) {
      auto it = e.fingerprint.find(k);
      if (it != e.fingerprint.end() && it->second.rfind("gfx", 0) == 0) return it->second;
    }
    auto cc = e.fingerprint.find("compute_capability");
    if (cc != e.fingerprint.end()) {
      std::string digits;
      for (char c : cc->second)
        if (c != '.') digits += c;
      return "sm_" + digits;
    }
  }
  return "";
}

void print_text(const std::vector<EngineFacts>& engines, const std::vector<LintFinding>& findings) {
  for (const auto& e : engines) {
    if (!e.ok) {
      fmt::print("engine {}: not available: {}\n", e.name, e.reason);
      continue;
    }
    fmt::print("engine {}:\n", e.name);
    for (const auto& [k, v] : e.fingerprint) fmt::print("  {:<24} {}\n", k, v);
  }
  if (findings.empty()) {
    fmt::print("\nlint: no findings\n");
    return;
  }
  fmt::print("\nlint: {} finding(s)\n", findings.size());
  for (const auto& f : findings)
    fmt::print("  {:<8} {}={}  [{}] {}\n", to_string(f.severity), f.variable, f.value, f.rule,
               f.reason);
}

nlohmann::json env_json(const std::vector<EngineFacts>& engines, const EnvFacts& facts,
                        const std::vector<LintFinding>& findings) {
  nlohmann::json j = {{"engines", nlohmann::json::array()},
                      {"gpu_arch", facts.gpu_arch},
                      {"libraries", nlohmann::json::array()},
                      {"findings", nlohmann::json::array()}};
  for (const auto& e : engines) {
    nlohmann::json ej = {{"name", e.name}, {"ok", e.ok}};
    if (e.ok) ej["fingerprint"] = e.fingerprint;
    else ej["reason"] = e.reason;
    j["engines"].push_back(std::move(ej));
  }
  for (const auto& l : facts.libraries)
    j["libraries"].push_back(
        {{"library", l.library}, {"version", l.version}, {"origin", l.origin}, {"path", l.path}});
  for (const auto& f : findings) j["findings"].push_back(to_json(f));
  return j;
}

int env_main(const EnvArgs& a) {
  const EnvMap env = current_env();
  std::vector<EngineFacts> engines;
  EnvFacts facts;
  if (!a.export_snippet) {
    engines = probe_engines();
    facts.gpu_arch = gpu_arch(engines);
  }
  auto path = env.find("LD_LIBRARY_PATH");
  facts.libraries = scan_gpu_libraries(path == env.end() ? "" : path->second, a.framework_dirs);
  const std::vector<LintFinding> findings = lint_env(env, facts);
  if (a.export_snippet) {
    std::cout << export_snippet(env);
    // The snippet goes to a file or a shell; errors that set the exit code go to stderr.
    for (const auto& f : findings)
      if (f.severity == Severity::error)
        fmt::print(stderr, "convguard: {}: {}={}: {}\n", f.rule, f.variable, f.value, f.reason);
  }
  else if (a.json)
    std::cout << env_json(engines, facts, findings)
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
              << '\n';
  else print_text(engines, findings);
  std::cout << std::flush;
  for (const auto& f : findings)
    if (f.severity == Severity::error) return kExitNotOk;
  return kExitOk;
}

}  // namespace

Command env_command() {
  return {"env",
          "Fingerprint of every engine found here and lint of the environment "
          "(exit 1 on a finding of severity error)",
          [](CLI::App& sub) -> std::function<int()> {
            auto a = std::make_shared<EnvArgs>();
            sub.add_flag("--json", a->json, "one JSON object: engines, libraries, findings");
            sub.add_flag("--export", a->export_snippet,
                         "print the relevant environment as a POSIX sh snippet");
            sub.add_option("--framework-dir", a->framework_dirs,
                           "a framework's bundled library folder (e.g. .../torch/lib), to "
                           "compare with the libraries on LD_LIBRARY_PATH");
            return [a] { return env_main(*a); };
          }};
}

}  // namespace convguard::cli
