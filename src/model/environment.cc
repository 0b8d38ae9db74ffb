#include "model/environment.h"

extern char** environ;

namespace convguard {

EnvMap current_env() {
  EnvMap env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

std::map<std::string, std::string> env_facts(
    const EnvMap& env, const std::function<bool(std::string_view)>& relevant) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : env)
    if (relevant(k)) out["env." + k] = v;
  return out;
}

}  // namespace convguard
