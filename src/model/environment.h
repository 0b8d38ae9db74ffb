// The process environment, read in one place: engines put the variables their results
// depend on into fingerprints, workers inherit it, `convguard env` lints it.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace convguard {

/// Variable name -> value. A variable set to "" is present with an empty value.
using EnvMap = std::map<std::string, std::string>;

/// The calling process's environment now.
EnvMap current_env();

/// Fingerprint entries "env.NAME" -> value for the variables of `env` that `relevant`
/// selects by name.
std::map<std::string, std::string> env_facts(const EnvMap& env,
                                             const std::function<bool(std::string_view)>& relevant);

}  // namespace convguard
