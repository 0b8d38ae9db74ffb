#include "guard/profile_export.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <vector>

#include "engines/cudnn/cudnn_engine_names.h"

namespace convguard {
namespace {

// Sizes a line rule is expanded to, one errata rule or deny list entry each; longer
// lines keep their first ones and say so.
constexpr int64_t kMaxSizesPerRule = 64;

// What the framework formats name for one failing rule: its problem at each covered size
// and the algorithm it failed with.
struct Failure {
  const ProfileRule* rule;
  std::string algo;  ///< the rule's algorithm, or what "default" resolved to
  std::vector<Problem> problems;
  bool truncated = false;
};

// "default" names whatever the library chose; the probes record the choice.
std::string resolved_algo(const Profile& prof, const ProfileRule& r) {
  if (r.cls.algo != "default") return r.cls.algo;
  for (const ProfileProbe& pp : prof.probes())
    if (std::find(r.probes.begin(), r.probes.end(), pp.id) != r.probes.end() &&
        !pp.result.impl.empty())
      return pp.result.impl;
  return r.cls.algo;
}

Problem problem_at(const ProfileRule& r, int64_t ih, int64_t iw) {
  Problem p;
  p.dir = r.cls.dir, p.dt = r.cls.dt, p.layout = r.cls.layout;
  p.g = r.g, p.mb = r.mb, p.ic = r.ic, p.oc = r.oc, p.ih = ih, p.iw = iw;
  p.kh = r.cls.kh, p.kw = r.cls.kw, p.sh = r.cls.sh, p.sw = r.cls.sw;
  p.ph = r.ph, p.pw = r.pw, p.dh = r.cls.dh, p.dw = r.cls.dw;
  p.oh = conv_out_size(ih, p.kh, p.sh, p.ph, p.dh);
  p.ow = conv_out_size(iw, p.kw, p.sw, p.pw, p.dw);
  return p;
}

std::vector<Failure> failures(const Profile& prof) {
  std::vector<Failure> out;
  for (const ProfileRule& r : prof.rules()) {
    if (r.verdict != Verdict::fail) continue;
    Failure f{&r, resolved_algo(prof, r), {}, false};
    for (int64_t ih = r.ih_lo; ih <= r.ih_hi; ++ih)
      for (int64_t iw = r.iw_lo; iw <= r.iw_hi; ++iw) {
        const bool on_line = r.line != Line::square || ih == iw;
        if (!on_line) continue;
        if (static_cast<int64_t>(f.problems.size()) == kMaxSizesPerRule)
          f.truncated = true;
        else
          f.problems.push_back(problem_at(r, ih, iw));
      }
    out.push_back(std::move(f));
  }
  return out;
}

std::string fact(const Profile& prof, const std::string& k) {
  auto it = prof.fingerprint().find(k);
  return it == prof.fingerprint().end() ? "" : it->second;
}

// "9.10.2" -> {9, 10, 2}; nullopt unless three numbers.
std::optional<std::array<int, 3>> version3(const std::string& text) {
  std::array<int, 3> v{};
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 3; ++i) {
    auto [next, ec] = std::from_chars(p, end, v[i]);
    if (ec != std::errc()) return std::nullopt;
    p = next;
    if (i < 2) {
      if (p == end || *p != '.') return std::nullopt;
      ++p;
    }
  }
  return p == end ? std::optional(v) : std::nullopt;
}

// "device NVIDIA H200 (9.0), cuDNN 9.10.2, engine cudnn": what the fingerprint names.
std::string about(const Profile& prof) {
  std::vector<std::string> parts;
  for (const char* k : {"device", "compute_capability", "cudnn", "engine"})
    if (!fact(prof, k).empty()) parts.push_back(fmt::format("{} {}", k, fact(prof, k)));
  return parts.empty() ? "an unnamed device" : fmt::format("{}", fmt::join(parts, ", "));
}

bool is_forward(Dir d) { return d == Dir::FWD_D || d == Dir::FWD_B; }
bool is_weights(Dir d) { return d == Dir::BWD_W || d == Dir::BWD_WB; }

std::string describe(const Failure& f) {
  return fmt::format("{} with {} ({}; probes {})", f.rule->describe(), f.algo,
                     to_string(f.rule->outcome), id_ranges(f.rule->probes));
}

// --- cuDNN frontend errata -----------------------------------------------------------

const char* errata_operation(Dir d) {
  if (is_forward(d)) return "ConvFwd";
  return is_weights(d) ? "ConvBwdFilter" : "ConvBwdData";
}

nlohmann::json errata_shapes(const Problem& p, nlohmann::json rule) {
  const bool nhwc = p.layout == Layout::nhwc;
  rule["shape_format"] = nhwc ? "NHWC" : "NCHW";
  const int64_t c_per_group = p.ic / std::max<int64_t>(p.g, 1);
  rule["input_shape"] =
      nhwc ? nlohmann::json{p.mb, p.ih, p.iw, p.ic} : nlohmann::json{p.mb, p.ic, p.ih, p.iw};
  rule["filter_shape"] = nhwc ? nlohmann::json{p.oc, p.kh, p.kw, c_per_group}
                              : nlohmann::json{p.oc, c_per_group, p.kh, p.kw};
  return rule;
}

std::string cudnn_errata(const Profile& prof, const ExportOptions& opt) {
  nlohmann::json rules = nlohmann::json::array();
  std::vector<std::string> left_out;
  const auto version = version3(fact(prof, "cudnn"));
  for (const Failure& f : failures(prof)) {
    const int engine = cudnn::parse_engine_name(f.algo);
    if (engine < 0) {
      left_out.push_back(describe(f) +
                         ": not a cuDNN backend engine (errata rules name "
                         "engines of the graph API, not legacy algorithms)");
      continue;
    }
    nlohmann::json base = {{"operation", errata_operation(f.rule->cls.dir)}, {"engine", engine}};
    if (version && !opt.any_cudnn_version) {
      const int v = (*version)[0] * 10000 + (*version)[1] * 100 + (*version)[2];
      base["cudnn_version_start"] = v;
      base["cudnn_version_end"] = v + 1;
    }
    base["comment"] = fmt::format(
        "convguard: {}. The format cannot name the data type ({}), stride, padding, "
        "dilation or groups, nor knobs for an engine probed without them: the rule blocks "
        "every knob of the engine for these shapes.",
        describe(f), to_string(f.rule->cls.dt));
    for (const Problem& p : f.problems) {
      nlohmann::json r = errata_shapes(p, base);
      r["rule_id"] =
          fmt::format("convguard_{}_eng{}_{}", r["operation"].get<std::string>(), engine, key(p));
      rules.push_back(std::move(r));
    }
    if (f.truncated)
      left_out.push_back(describe(f) +
                         fmt::format(": only its first {} sizes are listed", kMaxSizesPerRule));
  }
  if (!version)
    left_out.push_back(
        "the profile's fingerprint names no cuDNN version (key \"cudnn\"): "
        "the rules hold for every version");
  else if (opt.any_cudnn_version)
    left_out.push_back(fmt::format(
        "the evidence is of cuDNN {}; --any-cudnn-version made the rules hold for every version",
        fact(prof, "cudnn")));
  nlohmann::json out = {{"version", 1}, {"rules", rules}};
  out["comment"] = fmt::format(
      "convguard profile export --as cudnn-errata: the failing engines of a profile for {}. "
      "Read through CUDNN_ERRATA_JSON_FILE. PyTorch checks plans against the rules without "
      "the operation's shapes, so there a rule blocks its engine for every convolution of "
      "its operation.",
      about(prof));
  out["not_expressed"] = left_out;
  return out.dump(2) + "\n";
}

// --- XLA algorithm deny list ----------------------------------------------------------

// cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t values, as in cudnn.h (the cuDNN engine's
// own table is only built where cuDNN is).
int legacy_algo_id(const std::string& name, bool* tensor_ops) {
  static const std::map<std::string, std::vector<std::string>> kEnums = {
      {"fwd",
       {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING", "WINOGRAD",
        "WINOGRAD_NONFUSED"}},
      {"bwd_data", {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"}},
      {"bwd_filter",
       {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"}}};
  const size_t a = name.find('.'), b = name.rfind('.');
  if (a == std::string::npos || a == b) return -1;
  auto it = kEnums.find(name.substr(0, a));
  if (it == kEnums.end()) return -1;
  const std::string algo = name.substr(a + 1, b - a - 1), math = name.substr(b + 1);
  auto pos = std::find(it->second.begin(), it->second.end(), algo);
  if (pos == it->second.end()) return -1;
  *tensor_ops = math == "tf32" || math == "tensor_op";
  return static_cast<int>(pos - it->second.begin());
}

std::string xla_shape(DataType dt, const std::vector<int64_t>& dims) {
  return fmt::format("{}[{}]{{3,2,1,0}}", to_string(dt), fmt::join(dims, ","));
}

// XLA's canonical text of the cuDNN custom call for p, as its autotuner prints it.
std::string xla_hlo(const Problem& p) {
  const bool nhwc = p.layout == Layout::nhwc;
  auto act = [&](int64_t c, int64_t h, int64_t w) {
    return nhwc ? std::vector<int64_t>{p.mb, h, w, c} : std::vector<int64_t>{p.mb, c, h, w};
  };
  const int64_t cg = p.ic / std::max<int64_t>(p.g, 1);
  const std::vector<int64_t> filt = nhwc ? std::vector<int64_t>{p.oc, p.kh, p.kw, cg}
                                         : std::vector<int64_t>{p.oc, cg, p.kh, p.kw};
  const std::string x = xla_shape(p.dt, act(p.ic, p.ih, p.iw));
  const std::string y = xla_shape(p.dt, act(p.oc, p.oh, p.ow));
  const std::string w = xla_shape(p.dt, filt);
  std::string result = y, lhs = x, rhs = w, target = "__cudnn$convForward";
  if (is_weights(p.dir))
    result = w, lhs = x, rhs = y, target = "__cudnn$convBackwardFilter";
  else if (!is_forward(p.dir))
    result = x, lhs = y, rhs = w, target = "__cudnn$convBackwardInput";
  std::string window = fmt::format("size={}x{}", p.kh, p.kw);
  if (p.sh != 1 || p.sw != 1) window += fmt::format(" stride={}x{}", p.sh, p.sw);
  if (p.ph || p.pw) window += fmt::format(" pad={0}_{0}x{1}_{1}", p.ph, p.pw);
  if (p.dh || p.dw) window += fmt::format(" rhs_dilate={}x{}", p.dh + 1, p.dw + 1);
  std::string text =
      fmt::format("({}, u8[0]{{0}}) custom-call({}, {}), window={{{}}}, dim_labels={}", result, lhs,
                  rhs, window, nhwc ? "b01f_o01i->b01f" : "bf01_oi01->bf01");
  if (p.g > 1) text += fmt::format(", feature_group_count={}", p.g);
  return text + fmt::format(", custom_call_target=\"{}\"", target);
}

// A text-proto string literal.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string xla_denylist(const Profile& prof) {
  const auto cc = version3(fact(prof, "compute_capability") + ".0");
  const auto cudnn = version3(fact(prof, "cudnn"));
  std::string body, left_out;
  for (const Failure& f : failures(prof)) {
    bool tensor_ops = false;
    int id = cudnn::parse_engine_name(f.algo);
    std::vector<bool> tensor_modes = {false, true};  // an engine's name does not say
    if (id < 0) {
      id = legacy_algo_id(f.algo, &tensor_ops);
      tensor_modes = {tensor_ops};
    }
    if (id < 0) {
      left_out += "#   " + describe(f) + ": not a cuDNN algorithm or engine\n";
      continue;
    }
    if (f.rule->cls.dir == Dir::FWD_B || f.rule->cls.dir == Dir::BWD_WB)
      left_out += "#   " + describe(f) + ": the bias is not in the entry's custom call\n";
    if (f.truncated)
      left_out += fmt::format("#   {}: only its first {} sizes are listed\n", describe(f),
                              kMaxSizesPerRule);
    for (const Problem& p : f.problems) {
      body += fmt::format("# {}\nentries {{\n  hlo: {}\n", describe(f), quoted(xla_hlo(p)));
      if (cc) body += fmt::format("  cc {{ major: {} minor: {} }}\n", (*cc)[0], (*cc)[1]);
      if (cudnn)
        body += fmt::format("  cudnn_version {{ major: {} minor: {} patch: {} }}\n", (*cudnn)[0],
                            (*cudnn)[1], (*cudnn)[2]);
      body += "  blas_version: \"\"\n";
      for (bool t : tensor_modes)
        body += fmt::format("  algos {{ id: {} tensor_ops: {} }}\n", id, t ? "true" : "false");
      body += "}\n";
    }
  }
  std::string head = fmt::format(
      "# convguard profile export --as xla-denylist: an AlgorithmDenylist text proto for\n"
      "# --xla_gpu_algorithm_denylist_path, from a profile for {}.\n"
      "# XLA matches an entry only where its own canonical custom-call text, compute\n"
      "# capability, cuDNN and cuBLAS versions are identical: the hlo strings follow the text\n"
      "# XLA's autotuner logs for a plain cuDNN convolution without a backend_config, and\n"
      "# blas_version is empty (the profile does not record cuBLAS). Compare with the entry\n"
      "# XLA logs for a failing algorithm and adjust where they differ.\n",
      about(prof));
  if (!cc) head += "# The fingerprint names no compute capability: entries carry no cc.\n";
  if (!cudnn) head += "# The fingerprint names no cuDNN version: entries carry none.\n";
  if (!left_out.empty()) head += "# Not expressed:\n" + left_out;
  return head + body;
}

// --- MIOpen environment ----------------------------------------------------------------

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// MIOpen's solver families and their switches (MIOPEN_DEBUG_CONV_<FAMILY>), from a
// solver's name (ConvHipImplicitGemmV4R1Fwd, ConvBinWinogradRxSf3x2, GemmFwd1x1_0_1, ...).
// Implicit GEMM before GEMM, which its names contain.
std::string miopen_family(const std::string& algo) {
  const std::string a = upper(algo);
  const auto has = [&](const char* w) { return a.find(w) != std::string::npos; };
  if (has("IMPLICITGEMM") || has("IMPLICIT_GEMM") || has("IGEMM")) return "IMPLICIT_GEMM";
  for (const char* fam : {"SCGEMM", "WINOGRAD", "FFT", "DIRECT", "GEMM"})
    if (has(fam)) return fam;
  return "";
}

// Only a profile of MIOpen's own solvers names them: another engine's "winograd" failing
// says nothing about MIOpen's.
bool names_miopen_solvers(const Profile& prof) {
  for (const char* k : {"engine", "base"})
    if (fact(prof, k).find("miopen") != std::string::npos) return true;
  return false;
}

std::string miopen_env(const Profile& prof) {
  std::map<std::string, std::vector<std::string>> off;  // family -> what it failed
  std::string left_out;
  const bool solvers = names_miopen_solvers(prof);
  for (const Failure& f : failures(prof)) {
    const std::string fam = solvers ? miopen_family(f.algo) : "";
    if (fam.empty())
      left_out += "#   " + describe(f) + "\n";
    else
      off[fam].push_back(describe(f));
  }
  std::string out = fmt::format(
      "# convguard profile export --as miopen-env: MIOpen solver families to switch off, from a\n"
      "# profile for {}.\n# Source it before the framework starts (MIOpen reads these once).\n"
      "# The switches are process-wide: a family is off for every shape, not only the failing\n"
      "# ones below, and MIOpen falls back to the other families.\n",
      about(prof));
  if (!solvers)
    out += fmt::format(
        "# The profile is of engine {}, whose algorithms are not MIOpen's solvers: nothing\n"
        "# is switched off. Probe with --engine miopen to export switches.\n",
        fact(prof, "engine").empty() ? "unnamed" : fact(prof, "engine"));
  if (!left_out.empty())
    out +=
        "# Not expressed: these failures name no MIOpen solver family (an environment\n"
        "# variable cannot select shapes); route them with the guard instead:\n" +
        left_out;
  for (const auto& [fam, why] : off) {
    for (const auto& w : why) out += "# " + w + "\n";
    out += fmt::format("export MIOPEN_DEBUG_CONV_{}=0\n", fam);
  }
  return out;
}

}  // namespace

Result<ExportFormat> parse_export_format(std::string_view name) {
  if (name == "cudnn-errata") return ExportFormat::cudnn_errata;
  if (name == "xla-denylist") return ExportFormat::xla_denylist;
  if (name == "miopen-env") return ExportFormat::miopen_env;
  return Status::Invalid(
      fmt::format("invalid --as={}: expected cudnn-errata, xla-denylist or miopen-env", name));
}

std::string export_profile(const Profile& profile, ExportFormat format,
                           const ExportOptions& options) {
  switch (format) {
    case ExportFormat::cudnn_errata: return cudnn_errata(profile, options);
    case ExportFormat::xla_denylist: return xla_denylist(profile);
    case ExportFormat::miopen_env: return miopen_env(profile);
  }
  return "";
}

}  // namespace convguard
