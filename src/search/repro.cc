#include "search/repro.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engines/miopen/miopen_solvers.h"

namespace convguard {
namespace {

// The engine that really ran: sim reports itself, its base says which library.
std::string real_engine(const ProbeResult& r, const ReproContext& ctx) {
  return r.engine == "sim" && !ctx.base.empty() ? ctx.base : r.engine;
}

bool gpu_engine(const std::string& e) { return e == "cudnn" || e == "miopen" || e == "torch"; }

bool is_default(const std::string& algo) { return algo.empty() || algo == "default"; }

// benchdnn names cannot hold a double quote: it ends the n"..." field.
std::string descriptor_with_name(const Problem& p) {
  std::string d = descriptor(p, false);
  if (p.name.empty()) return d;
  std::string n = p.name;
  std::replace(n.begin(), n.end(), '"', '\'');
  return d + "n\"" + n + "\"";
}

bool ran_execute(const ProbeResult& r) {
  return r.phase == Phase::execute || r.phase == Phase::verify;
}

// Decodes one UTF-8 sequence at s[i]; returns its code point and advances i, or -1 (and
// one byte) for a byte that does not start a valid sequence.
int32_t next_code_point(std::string_view s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return -1;
  }
  int32_t cp = len == 1 ? c : c & (0x7F >> len);
  for (int k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc >> 6) != 0x2) {
      ++i;
      return -1;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  static constexpr int32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return -1;  // overlong, out of range or a surrogate: not UTF-8
  }
  i += len;
  return cp;
}

}  // namespace

const char* to_string(ReproForm f) {
  switch (f) {
    case ReproForm::benchdnn: return "benchdnn";
    case ReproForm::miopen: return "miopen";
    case ReproForm::torch: return "torch";
    case ReproForm::convguard: return "convguard";
  }
  return "?";
}

Result<ReproForm> parse_repro_form(std::string_view s) {
  const std::string l = ascii_lower(s);
  if (l == "benchdnn") return ReproForm::benchdnn;
  if (l == "miopen" || l == "miopendriver") return ReproForm::miopen;
  if (l == "torch" || l == "pytorch") return ReproForm::torch;
  if (l == "convguard") return ReproForm::convguard;
  return Status::Invalid(fmt::format("invalid --as={}: expected benchdnn, miopen, torch or convguard", s));
}

namespace {

void context_from_json(const nlohmann::json& j, ReproContext& c) {
  if (!j.is_object()) return;
  auto text = [&](const char* k, std::string& out) {
    if (j.contains(k) && j[k].is_string()) out = j[k].get<std::string>();
  };
  text("base", c.base);
  text("quirks_path", c.quirks_path);
  text("quirks", c.quirks_path);
  if (j.contains("seed") && j["seed"].is_number_unsigned()) c.seed = j["seed"].get<uint64_t>();
  if (j.contains("engine")) context_from_json(j["engine"], c);
}

void context_from_words(const std::string& command, ReproContext& c) {
  std::vector<std::string> w;
  for (size_t i = 0; i < command.size();) {
    const size_t e = std::min(command.find(' ', i), command.size());
    if (e > i) w.push_back(command.substr(i, e - i));
    i = e + 1;
  }
  for (size_t i = 0; i < w.size(); ++i) {
    for (auto [flag, out] : {std::pair{"--base", &c.base}, std::pair{"--quirks", &c.quirks_path}}) {
      const std::string f = flag;
      if (w[i] == f && i + 1 < w.size() && out->empty()) *out = w[i + 1];
      if (w[i].rfind(f + "=", 0) == 0 && out->empty()) *out = w[i].substr(f.size() + 1);
    }
    if (w[i] == "--seed" && i + 1 < w.size() && c.seed == 0)
      c.seed = std::strtoull(w[i + 1].c_str(), nullptr, 10);
  }
}

}  // namespace

ReproContext repro_context_from_run(const std::string& options_json, const std::string& command) {
  ReproContext c;
  context_from_json(nlohmann::json::parse(options_json, nullptr, false), c);
  context_from_words(command, c);
  return c;
}

std::string ascii_lower(std::string_view s) {
  std::string l(s);
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  return l;
}

std::string python_literal(std::string_view s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size();) {
    const int32_t cp = next_code_point(s, i);
    switch (cp) {
      case '\\': out += "\\\\"; continue;
      case '\'': out += "\\'"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (cp < 0) out += "\\ufffd";
    else if (cp < 0x20 || cp == 0x7F) out += fmt::format("\\x{:02x}", cp);
    else if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp <= 0xFFFF) out += fmt::format("\\u{:04x}", cp);
    else out += fmt::format("\\U{:08x}", cp);
  }
  return out + "'";
}

Result<Problem> problem_of(const ProbeResult& r) {
  auto p = parse_problem(r.problem);
  if (!p.ok()) return p.status();
  p->name = r.name;
  return p;
}

std::vector<std::string> benchdnn_argv(const Problem& p, const ProbeResult& r,
                                       const ReproContext& ctx) {
  std::vector<std::string> a = {"./benchdnn", "--conv"};
  if (gpu_engine(real_engine(r, ctx))) a.push_back("--engine=gpu");
  if (r.outcome == Outcome::wrong || r.outcome == Outcome::oob) a.push_back("--mode=C");
  else if (r.outcome != Outcome::ok && r.outcome != Outcome::unsupported)
    a.push_back(ran_execute(r) ? "--mode=R" : "--mode=I");
  a.push_back(fmt::format("--dir={}", to_string(p.dir)));
  a.push_back(fmt::format("--dt={}", to_string(p.dt)));
  if (p.layout == Layout::nhwc) {
    a.push_back("--stag=axb");
    a.push_back("--dtag=axb");
  }
  const std::string algo = ascii_lower(r.algo);
  if (algo.find("wino") != std::string::npos) a.push_back("--alg=wino");
  else if (algo.find("direct") != std::string::npos) a.push_back("--alg=direct");
  a.push_back(descriptor_with_name(p));
  return a;
}

std::string benchdnn_line(const Problem& p, const ProbeResult& r, const ReproContext& ctx) {
  return shell_join(benchdnn_argv(p, r, ctx));
}

namespace {

// MIOpen solver names are CamelCase ("ConvBinWinograd3x3U", "GemmFwdRest"); cuDNN's are
// upper case, oneDNN's lower case, so the name alone is a fair hint off the miopen engine.
bool is_miopen_solver(const ProbeResult& r, const ReproContext& ctx) {
  if (is_default(r.algo)) return false;
  if (real_engine(r, ctx) == "miopen") return true;
  return r.algo.rfind("Conv", 0) == 0 || r.algo.rfind("Gemm", 0) == 0;
}

// `solver` as MIOPEN_DEBUG_FIND_ONLY_SOLVER takes it ("a numeric or a string identifier"):
// the id where the miopen engine's table knows the name (its names of template solvers are
// convguard's), else the name as probed.
std::vector<std::pair<std::string, std::string>> solver_env(const std::string& solver,
                                                            bool miopen_engine) {
  const std::optional<uint64_t> id = miopen_engine ? miopen::solver_id(solver) : std::nullopt;
  std::vector<std::pair<std::string, std::string>> env = {
      {"MIOPEN_FIND_MODE", "normal"},
      {"MIOPEN_DEBUG_FIND_ONLY_SOLVER", id ? std::to_string(*id) : solver}};
  // FIND_ONLY_SOLVER does not filter GEMM and FFT; only their family switches do.
  const std::string l = ascii_lower(solver);
  const bool gemm = l.rfind("gemm", 0) == 0, fft = l.rfind("fft", 0) == 0;
  if (gemm || fft) {
    for (const char* fam : {"DIRECT", "WINOGRAD", "IMPLICIT_GEMM"})
      env.push_back({fmt::format("MIOPEN_DEBUG_CONV_{}", fam), "0"});
    env.push_back({gemm ? "MIOPEN_DEBUG_CONV_FFT" : "MIOPEN_DEBUG_CONV_GEMM", "0"});
  } else {
    env.push_back({"MIOPEN_DEBUG_CONV_GEMM", "0"});
    env.push_back({"MIOPEN_DEBUG_CONV_FFT", "0"});
  }
  return env;
}

constexpr std::string_view kFindPrefix = "find.";

// What a probe of the miopen engine adds: MIOpenDriver's -S (an id: immediate mode with
// that solver; 0: MIOpen's first choice; absent: the Find API, under the probe's find
// mode), and the logging a MIOpen maintainer asks for.
void pin_miopen_probe(const ProbeResult& r, EnvCommand& c) {
  if (r.algo.starts_with(kFindPrefix)) {
    c.env.push_back({"MIOPEN_FIND_MODE", r.algo.substr(kFindPrefix.size())});
  } else if (is_default(r.algo)) {
    c.argv.insert(c.argv.end(), {"-S", "0"});
  } else if (const auto id = miopen::solver_id(r.algo)) {
    c.argv.insert(c.argv.end(), {"-S", std::to_string(*id)});
  }
  c.env.push_back({"MIOPEN_ENABLE_LOGGING_CMD", "1"});
  c.env.push_back({"MIOPEN_LOG_LEVEL", "6"});
}

}  // namespace

EnvCommand miopen_command(const Problem& p, const ProbeResult& r, const ReproContext& ctx) {
  EnvCommand c;
  const bool miopen_engine = real_engine(r, ctx) == "miopen";
  if (is_miopen_solver(r, ctx) && !(miopen_engine && r.algo.starts_with(kFindPrefix)))
    c.env = solver_env(r.algo, miopen_engine);
  const char* op = p.dt == DataType::f16 ? "convfp16" : p.dt == DataType::bf16 ? "convbfp16" : "conv";
  const int f = p.dir == Dir::BWD_D ? 2 : (p.dir == Dir::BWD_W || p.dir == Dir::BWD_WB) ? 4 : 1;
  c.argv = {"MIOpenDriver", op};
  const std::pair<const char*, int64_t> flags[] = {
      {"-n", p.mb}, {"-c", p.ic}, {"-H", p.ih}, {"-W", p.iw}, {"-k", p.oc}, {"-y", p.kh},
      {"-x", p.kw}, {"-p", p.ph}, {"-q", p.pw}, {"-u", p.sh}, {"-v", p.sw},
      {"-l", p.dh + 1}, {"-j", p.dw + 1}, {"-g", p.g}, {"-F", f}};
  for (const auto& [flag, v] : flags) {
    c.argv.push_back(flag);
    c.argv.push_back(std::to_string(v));
  }
  if (p.has_bias()) c.argv.insert(c.argv.end(), {"-b", "1"});
  if (p.layout == Layout::nhwc)
    for (const char* opt : {"--in_layout", "--out_layout", "--fil_layout"})
      c.argv.insert(c.argv.end(), {opt, "NHWC"});
  if (miopen_engine) pin_miopen_probe(r, c);
  return c;
}

std::string miopen_line(const Problem& p, const ProbeResult& r, const ReproContext& ctx) {
  const EnvCommand c = miopen_command(p, r, ctx);
  std::string out;
  for (const auto& [k, v] : c.env) out += k + "=" + shell_quote(v) + " ";
  return out + shell_join(c.argv);
}

std::vector<std::string> convguard_argv(const Problem& p, const ProbeResult& r,
                                        const ReproContext& ctx) {
  std::vector<std::string> a = {"convguard", "probe", "--engine", r.engine};
  if (r.engine == "sim") {
    if (!ctx.base.empty()) a.insert(a.end(), {"--base", ctx.base});
    if (!ctx.quirks_path.empty()) a.insert(a.end(), {"--quirks", ctx.quirks_path});
    if (ctx.seed != 0) a.insert(a.end(), {"--seed", std::to_string(ctx.seed)});
  }
  a.insert(a.end(), {"--dir", to_string(p.dir), "--dt", to_string(p.dt)});
  if (p.layout == Layout::nhwc) a.insert(a.end(), {"--layout", "nhwc"});
  a.insert(a.end(), {"--algo", r.algo.empty() ? std::string("default") : r.algo});
  a.push_back(descriptor_with_name(p));
  return a;
}

std::string convguard_line(const Problem& p, const ProbeResult& r, const ReproContext& ctx) {
  return shell_join(convguard_argv(p, r, ctx));
}

std::string repro(ReproForm f, const Problem& p, const ProbeResult& r, const ReproContext& ctx) {
  switch (f) {
    case ReproForm::benchdnn: return benchdnn_line(p, r, ctx);
    case ReproForm::miopen: return miopen_line(p, r, ctx);
    case ReproForm::torch: return torch_snippet(p, r, ctx);
    case ReproForm::convguard: return convguard_line(p, r, ctx);
  }
  return "";
}

}  // namespace convguard
