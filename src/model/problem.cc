#include "convguard/problem.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <tuple>
#include <utility>

#include "model/taps.h"

namespace convguard {
namespace {

constexpr std::array kDirNames = {"FWD_D", "FWD_B", "BWD_D", "BWD_W", "BWD_WB"};
constexpr std::array kDtNames = {"f32", "f16", "bf16"};

std::string upper(std::string_view s) {
  std::string u(s);
  std::transform(u.begin(), u.end(), u.begin(), [](unsigned char c) { return std::toupper(c); });
  return u;
}

}  // namespace

const char* to_string(Dir d) { return kDirNames[static_cast<size_t>(d)]; }
const char* to_string(DataType t) { return kDtNames[static_cast<size_t>(t)]; }
const char* to_string(Layout l) { return l == Layout::nchw ? "nchw" : "nhwc"; }

Result<Dir> parse_dir(std::string_view s, std::string_view field) {
  const std::string u = upper(s);
  for (size_t i = 0; i < kDirNames.size(); ++i)
    if (u == kDirNames[i]) return static_cast<Dir>(i);
  return Status::Invalid("invalid " + std::string(field) + "=" + std::string(s) +
                         ": expected FWD_D, FWD_B, BWD_D, BWD_W or BWD_WB");
}

Result<DataType> parse_dt(std::string_view s, std::string_view field) {
  for (size_t i = 0; i < kDtNames.size(); ++i)
    if (s == kDtNames[i]) return static_cast<DataType>(i);
  return Status::Invalid("invalid " + std::string(field) + "=" + std::string(s) +
                         ": expected f32, f16 or bf16");
}

Result<Layout> parse_layout(std::string_view s, std::string_view field) {
  if (s == "nchw" || s == "abx" || s == "abcd") return Layout::nchw;
  if (s == "nhwc" || s == "axb" || s == "acdb") return Layout::nhwc;
  return Status::Invalid("invalid " + std::string(field) + "=" + std::string(s) +
                         ": expected nchw (abx) or nhwc (axb)");
}

int dt_size(DataType t) { return t == DataType::f32 ? 4 : 2; }

namespace {

// Libraries take dimensions as int; larger values are typos, and the cap keeps the
// output-size arithmetic far from int64 overflow.
constexpr int64_t kMaxDim = 2147483647;
// 2^40 elements (4 TiB of f32) is beyond any device; larger tensors are mistakes.
constexpr int64_t kMaxElems = int64_t{1} << 40;

Status invalid(std::string m) { return Status::Invalid(std::move(m)); }

struct FieldRef {
  const char* name;
  int64_t Problem::*member;
  int64_t lo;  // smallest valid value
};
// The canonical order of the shape fields in a descriptor.
constexpr std::array<FieldRef, 16> kFields = {{
    {"g", &Problem::g, 1},   {"mb", &Problem::mb, 1}, {"ic", &Problem::ic, 1},
    {"ih", &Problem::ih, 1}, {"iw", &Problem::iw, 1}, {"oc", &Problem::oc, 1},
    {"oh", &Problem::oh, 1}, {"ow", &Problem::ow, 1}, {"kh", &Problem::kh, 1},
    {"kw", &Problem::kw, 1}, {"sh", &Problem::sh, 1}, {"sw", &Problem::sw, 1},
    {"ph", &Problem::ph, 0}, {"pw", &Problem::pw, 0}, {"dh", &Problem::dh, 0},
    {"dw", &Problem::dw, 0},
}};

Status check_range(std::string_view field, int64_t v, int64_t lo) {
  if (v < lo)
    return invalid(fmt::format("invalid {}={}: must be {}", field, v, lo == 0 ? ">= 0" : "positive"));
  if (v > kMaxDim) return invalid(fmt::format("invalid {}={}: exceeds {}", field, v, kMaxDim));
  return Status::Ok();
}

// One spatial axis of a problem, named by its letter ('h' or 'w').
struct Axis {
  char x;
  int64_t i, o, k, s, p, d;
};

Axis axis_of(const Problem& p, char x) {
  if (x == 'h') return {'h', p.ih, p.oh, p.kh, p.sh, p.ph, p.dh};
  return {'w', p.iw, p.ow, p.kw, p.sw, p.pw, p.dw};
}

int64_t span_of(int64_t k, int64_t d) { return (k - 1) * (d + 1) + 1; }

std::string axis_inputs(const Axis& a) {
  return fmt::format("i{0}={1} k{0}={2} s{0}={3} p{0}={4} d{0}={5}", a.x, a.i, a.k, a.s, a.p, a.d);
}

Status check_output(const Axis& a) {
  const int64_t span = span_of(a.k, a.d);
  if (span > a.i + 2 * a.p)
    return invalid(fmt::format(
        "invalid k{0}={1}: with d{0}={2} it spans {3}, more than i{0}={4} plus 2*p{0}={5}, "
        "so the output is empty",
        a.x, a.k, a.d, span, a.i, 2 * a.p));
  const int64_t want = conv_out_size(a.i, a.k, a.s, a.p, a.d);
  if (a.o != want)
    return invalid(fmt::format("invalid o{}={}: expected {} for {}", a.x, a.o, want, axis_inputs(a)));
  // Padding can make the output larger than any field may be, and a descriptor could not say it.
  return check_range(fmt::format("o{}", a.x), a.o, 1);
}

Status check_elems(std::string_view tensor, std::initializer_list<int64_t> dims) {
  int64_t n = 1;
  bool overflow = false;
  std::string shape;
  for (int64_t d : dims) {
    overflow = overflow || __builtin_mul_overflow(n, d, &n);
    shape += fmt::format("{}{}", shape.empty() ? "" : "x", d);
  }
  if (overflow)
    return invalid(fmt::format("invalid {}={}: the element count overflows int64", tensor, shape));
  if (n > kMaxElems)
    return invalid(fmt::format("invalid {}={}: {} elements exceeds the limit of 2^40", tensor,
                               shape, n));
  return Status::Ok();
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

}  // namespace

double Problem::flops() const {
  // benchdnn's count: taps in the padding are no work. The h and w taps are
  // independent, so the count factors into two 1-D sums.
  const double taps = taps_inside(ih, oh, kh, sh, ph, dh) * taps_inside(iw, ow, kw, sw, pw, dw);
  return 2.0 * static_cast<double>(mb) * static_cast<double>(oc) *
         static_cast<double>(ic / std::max<int64_t>(g, 1)) * taps;
}

int64_t conv_out_size(int64_t i, int64_t k, int64_t s, int64_t p, int64_t d) {
  // Out of validate()'s ranges the arithmetic could overflow; validate() names the field.
  const auto in_range = [](int64_t v) { return v >= 0 && v <= kMaxDim; };
  if (!in_range(i) || !in_range(k) || !in_range(p) || !in_range(d) || s < 1 || s > kMaxDim)
    return 0;
  // Floor division, so that an input smaller than the kernel gives a size <= 0
  // where benchdnn's truncating division could give 1.
  return floor_div(i - span_of(k, d) + 2 * p, s) + 1;
}

Status validate(const Problem& p) {
  if (p.name.find('"') != std::string::npos)
    return invalid(fmt::format("invalid name={}: must not contain a double quote", p.name));
  for (const FieldRef& f : kFields) {
    if (f.member == &Problem::oh || f.member == &Problem::ow) continue;  // checked per axis
    CG_RETURN_IF_ERROR(check_range(f.name, p.*f.member, f.lo));
  }
  if (p.ic % p.g != 0)
    return invalid(fmt::format("invalid ic={}: not divisible by g={}", p.ic, p.g));
  if (p.oc % p.g != 0)
    return invalid(fmt::format("invalid oc={}: not divisible by g={}", p.oc, p.g));
  for (char x : {'h', 'w'}) CG_RETURN_IF_ERROR(check_output(axis_of(p, x)));
  CG_RETURN_IF_ERROR(check_elems("src", {p.mb, p.ic, p.ih, p.iw}));
  CG_RETURN_IF_ERROR(check_elems("wei", {p.oc, p.ic / p.g, p.kh, p.kw}));
  return check_elems("dst", {p.mb, p.oc, p.oh, p.ow});
}

std::string descriptor(const Problem& p, bool with_name) {
  std::string s;
  for (const FieldRef& f : kFields) s += fmt::format("{}{}", f.name, p.*f.member);
  if (with_name && !p.name.empty()) s += fmt::format("n\"{}\"", p.name);
  return s;
}

std::string key(const Problem& p) {
  return fmt::format("--dir={} --dt={} {}{}", to_string(p.dir), to_string(p.dt),
                     p.layout == Layout::nhwc ? "--stag=axb --dtag=axb " : "",
                     descriptor(p, false));
}

std::string to_string(const Problem& p) {
  std::string s = key(p);
  if (!p.name.empty()) s += fmt::format("n\"{}\"", p.name);
  return s;
}

// ---- descriptor parsing -------------------------------------------------------------

namespace {

// Every field benchdnn's str2desc knows, in its order; the d fields are read only
// to reject 3-D problems by name.
enum F { fg, fmb, fic, fid, fih, fiw, foc, fod, foh, fow, fkd, fkh, fkw,
         fsd, fsh, fsw, fpd, fph, fpw, fdd, fdh, fdw, kNumF };
constexpr std::array<std::string_view, kNumF> kNames = {
    "g",  "mb", "ic", "id", "ih", "iw", "oc", "od", "oh", "ow", "kd",
    "kh", "kw", "sd", "sh", "sw", "pd", "ph", "pw", "dd", "dh", "dw"};

struct Raw {
  std::array<std::optional<int64_t>, kNumF> v;
  std::optional<std::string> name;
};

// Indices of one axis's fields in Raw.
struct AxisFields {
  int i, o, k, s, p, d;
};
constexpr AxisFields kH = {fih, foh, fkh, fsh, fph, fdh};
constexpr AxisFields kW = {fiw, fow, fkw, fsw, fpw, fdw};

Status scan_number(std::string_view text, size_t& i, int f, Raw& r) {
  const bool neg = i < text.size() && text[i] == '-';
  if (neg) ++i;
  const size_t start = i;
  int64_t v = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i)
    if (v <= kMaxDim) v = v * 10 + (text[i] - '0');
  if (i == start)
    return invalid(fmt::format("invalid descriptor '{}': expected a number after '{}'", text,
                               kNames[f]));
  if (v > kMaxDim)
    return invalid(fmt::format("invalid {}={}{}: exceeds {}", kNames[f], neg ? "-" : "",
                               text.substr(start, i - start), kMaxDim));
  if (r.v[f])
    return invalid(fmt::format("invalid descriptor '{}': {} is given twice", text, kNames[f]));
  r.v[f] = neg ? -v : v;
  return Status::Ok();
}

Status scan_name(std::string_view text, size_t& i, Raw& r) {
  if (r.name) return invalid(fmt::format("invalid descriptor '{}': two names", text));
  ++i;  // the 'n'
  if (i < text.size() && text[i] == '"') {
    const size_t close = text.find('"', i + 1);
    if (close == std::string_view::npos)
      return invalid(fmt::format("invalid descriptor '{}': unterminated name", text));
    r.name = std::string(text.substr(i + 1, close - i - 1));
    i = close + 1;
  } else {
    // benchdnn's unquoted form: the rest of the descriptor is the name.
    r.name = std::string(text.substr(i));
    i = text.size();
  }
  return Status::Ok();
}

Result<Raw> scan(std::string_view text) {
  Raw r;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '_') {
      ++i;
      continue;
    }
    if (text[i] == 'n') {
      CG_RETURN_IF_ERROR(scan_name(text, i, r));
      continue;
    }
    int f = 0;
    while (f < kNumF && !text.substr(i).starts_with(kNames[f])) ++f;
    if (f == kNumF)
      return invalid(fmt::format("invalid descriptor '{}': unknown field at '{}'", text,
                                 text.substr(i)));
    i += kNames[f].size();
    CG_RETURN_IF_ERROR(scan_number(text, i, f, r));
  }
  return r;
}

Status check_given(const Raw& r) {
  for (int f : {fid, fod, fkd, fsd, fpd, fdd})
    if (r.v[f])
      return invalid(fmt::format("not supported: 3-D convolution ({}={})", kNames[f], *r.v[f]));
  for (int f = 0; f < kNumF; ++f) {
    const bool zero_ok = f == fph || f == fpw || f == fdh || f == fdw;
    if (r.v[f]) CG_RETURN_IF_ERROR(check_range(kNames[f], *r.v[f], zero_ok ? 0 : 1));
  }
  return Status::Ok();
}

// benchdnn deduces p = ((o-1)*s - i + span) / 2 and pads the far side with the rest;
// convguard's padding is symmetric, so it takes that p or the next one, whichever
// gives o (the next one does for strided layers such as 56 -> 28 with a 3x3 kernel).
Result<Axis> deduce_pad(Axis a) {
  const __int128 num = static_cast<__int128>(a.o - 1) * a.s - a.i + span_of(a.k, a.d);
  const __int128 pad = num / 2;
  for (__int128 p : {pad, pad + 1}) {
    if (p < 0 || p > kMaxDim) continue;
    if (conv_out_size(a.i, a.k, a.s, static_cast<int64_t>(p), a.d) != a.o) continue;
    a.p = static_cast<int64_t>(p);
    return a;
  }
  return invalid(fmt::format(
      "invalid o{0}={1}: no symmetric padding p{0} >= 0 gives it for i{0}={2} k{0}={3} "
      "s{0}={4} d{0}={5}",
      a.x, a.o, a.i, a.k, a.s, a.d));
}

Result<Axis> resolve_axis(const Raw& r, char x, AxisFields f, std::string_view text) {
  for (int need : {f.i, f.k})
    if (!r.v[need])
      return invalid(fmt::format("invalid descriptor '{}': missing {}", text, kNames[need]));
  Axis a{x, *r.v[f.i], 0, *r.v[f.k], r.v[f.s].value_or(1), 0, r.v[f.d].value_or(0)};
  if (!r.v[f.o]) {
    a.p = r.v[f.p].value_or(0);
    a.o = conv_out_size(a.i, a.k, a.s, a.p, a.d);
    return a;
  }
  a.o = *r.v[f.o];
  if (!r.v[f.p]) return deduce_pad(a);
  a.p = *r.v[f.p];
  return a;
}

bool any_given(const Raw& r, AxisFields f) {
  return r.v[f.i] || r.v[f.k] || r.v[f.o] || r.v[f.d];
}

// Without iw/kw/ow/dw the w axis copies h (benchdnn's square promotion). benchdnn
// would silently overwrite an explicit sw or pw there; a contradiction is refused.
Status check_promoted(const Raw& r, const Axis& h) {
  for (auto [f, hv] : {std::pair{fsw, h.s}, std::pair{fpw, h.p}})
    if (r.v[f] && *r.v[f] != hv)
      return invalid(fmt::format(
          "invalid {}={}: iw and kw are absent, so w copies h ({}{}={}); give iw and kw too",
          kNames[f], *r.v[f], f == fsw ? "s" : "p", 'h', hv));
  return Status::Ok();
}

Status resolve_spatial(const Raw& r, std::string_view text, Problem& p) {
  if (!any_given(r, kH)) {
    for (int f : {fiw, fkw, fow, fdw})
      if (r.v[f])
        return invalid(fmt::format("not supported: 1-D convolution ({}={} without ih)",
                                   kNames[f], *r.v[f]));
    return invalid(fmt::format("invalid descriptor '{}': missing ih and kh", text));
  }
  Result<Axis> h = resolve_axis(r, 'h', kH, text);
  if (!h.ok()) return h.status();
  Axis w = h.value();
  if (any_given(r, kW)) {
    Result<Axis> rw = resolve_axis(r, 'w', kW, text);
    if (!rw.ok()) return rw.status();
    w = rw.value();
  } else if (Status st = check_promoted(r, *h); !st.ok()) {
    return st;
  }
  std::tie(p.ih, p.oh, p.kh, p.sh, p.ph, p.dh) = std::tie(h->i, h->o, h->k, h->s, h->p, h->d);
  std::tie(p.iw, p.ow, p.kw, p.sw, p.pw, p.dw) = std::tie(w.i, w.o, w.k, w.s, w.p, w.d);
  return Status::Ok();
}

std::string_view trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

bool is_benchdnn_path(std::string_view w) {
  return w == "benchdnn" || w.ends_with("/benchdnn");
}

}  // namespace

Result<Problem> parse_descriptor(std::string_view text, const Problem& base) {
  text = trim(text);
  if (text.empty()) return invalid("invalid descriptor '': empty");
  Result<Raw> raw = scan(text);
  if (!raw.ok()) return raw.status();
  CG_RETURN_IF_ERROR(check_given(*raw));
  for (int f : {fic, foc})
    if (!raw->v[f])
      return invalid(fmt::format("invalid descriptor '{}': missing {}", text, kNames[f]));
  Problem p;
  p.dir = base.dir;
  p.dt = base.dt;
  p.layout = base.layout;
  p.g = raw->v[fg].value_or(1);
  p.mb = raw->v[fmb].value_or(base.mb);
  p.ic = *raw->v[fic];
  p.oc = *raw->v[foc];
  p.name = raw->name.value_or("");
  CG_RETURN_IF_ERROR(resolve_spatial(*raw, text, p));
  CG_RETURN_IF_ERROR(validate(p));
  return p;
}

Result<Problem> parse_problem(std::string_view text, const Problem& base) {
  Result<std::vector<std::string>> words = split_words(text, false);
  if (!words.ok()) return words.status();
  const Knobs defaults{{base.dir}, {base.dt}, {base.layout}, 0};
  Knobs knobs = defaults;
  std::optional<std::string> desc;
  for (size_t i = 0; i < words->size(); ++i) {
    const std::string& w = (*words)[i];
    if (i == 0 && is_benchdnn_path(w)) continue;
    if (w.starts_with("-")) {
      CG_RETURN_IF_ERROR(apply_knob(w, knobs, defaults));
    } else if (w == "deconv") {
      return invalid("not supported: transposed convolution (deconv)");
    } else if (desc) {
      return invalid(fmt::format("invalid problem '{}': a second descriptor '{}'", text, w));
    } else {
      desc = w;
    }
  }
  if (!desc) return invalid(fmt::format("invalid problem '{}': no descriptor", text));
  if (knobs.dirs.size() != 1 || knobs.dts.size() != 1 || knobs.layouts.size() != 1)
    return invalid(fmt::format("invalid problem '{}': one problem takes one value per knob; "
                               "lists belong in a batch",
                               text));
  Problem b = base;
  b.dir = knobs.dirs[0];
  b.dt = knobs.dts[0];
  b.layout = knobs.layouts[0];
  Result<Problem> p = parse_descriptor(*desc, b);
  if (!p.ok() || knobs.mb == 0) return p;
  p->mb = knobs.mb;
  CG_RETURN_IF_ERROR(validate(*p));
  return p;
}

}  // namespace convguard
