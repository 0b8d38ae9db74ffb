// MIOpenDriver command lines ("MIOpenDriver conv -n 1 -c 16 ...") as problems.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "convguard/problem.h"

namespace convguard {
namespace {

Status invalid(std::string m) { return Status::Invalid(std::move(m)); }

// MIOpen's defaults (driver/conv_driver.hpp, AddCmdLineArgs).
struct DriverArgs {
  int64_t n = 100, c = 3, H = 32, W = 32, k = 32, y = 3, x = 3;
  int64_t p = 0, q = 0, u = 1, v = 1, l = 1, j = 1, g = 1;
  int64_t F = 0, b = 0, spatial = 2;
  std::string mode = "conv", pad_mode = "default", in_layout = "NCHW", out_layout;
  DataType dt = DataType::f32;
};

struct IntFlag {
  char s;
  std::string_view name;
  int64_t DriverArgs::*field;
  int64_t lo, hi;
};
constexpr int64_t kBig = 2147483647;
constexpr std::array<IntFlag, 17> kIntFlags = {{
    {'n', "batchsize", &DriverArgs::n, 1, kBig},
    {'c', "in_channels", &DriverArgs::c, 1, kBig},
    {'H', "in_h", &DriverArgs::H, 1, kBig},
    {'W', "in_w", &DriverArgs::W, 1, kBig},
    {'k', "out_channels", &DriverArgs::k, 1, kBig},
    {'y', "fil_h", &DriverArgs::y, 1, kBig},
    {'x', "fil_w", &DriverArgs::x, 1, kBig},
    {'p', "pad_h", &DriverArgs::p, 0, kBig},
    {'q', "pad_w", &DriverArgs::q, 0, kBig},
    {'u', "conv_stride_h", &DriverArgs::u, 1, kBig},
    {'v', "conv_stride_w", &DriverArgs::v, 1, kBig},
    {'l', "dilation_h", &DriverArgs::l, 1, kBig},
    {'j', "dilation_w", &DriverArgs::j, 1, kBig},
    {'g', "group_count", &DriverArgs::g, 1, kBig},
    {'F', "forw", &DriverArgs::F, 0, 7},
    {'b', "bias", &DriverArgs::b, 0, 1},
    {'_', "spatial_dim", &DriverArgs::spatial, 2, 3},
}};

struct StrFlag {
  char s;
  std::string_view name;
  std::string DriverArgs::*field;
};
constexpr std::array<StrFlag, 4> kStrFlags = {{
    {'m', "mode", &DriverArgs::mode},
    {'z', "pad_mode", &DriverArgs::pad_mode},
    {'I', "in_layout", &DriverArgs::in_layout},
    {'O', "out_layout", &DriverArgs::out_layout},
}};

// Flags that change how MIOpenDriver runs or reports, not the convolution; the
// depth flags matter only with -_ 3, which is refused.
struct Ignored {
  char s;
  std::string_view name;
};
constexpr std::array<Ignored, 26> kIgnored = {{
    {'t', "time"},           {'V', "verify"},          {'i', "iter"},
    {'s', "search"},         {'w', "wall"},            {'P', "printconv"},
    {'S', "solution"},       {'a', "in_bias"},         {'f', "fil_layout"},
    {'o', "dump_output"},    {'e', "weights"},         {'d', "in_data"},
    {'D', "dout_data"},      {'r', "pad_val"},         {'C', "verification_cache"},
    {'G', "gpualloc"},       {'Z', "tensor_vect"},     {'L', "vector_length"},
    {'!', "in_d"},           {'@', "fil_d"},           {'#', "conv_stride_d"},
    {'$', "pad_d"},          {'^', "dilation_d"},      {'%', "trans_output_pad_d"},
    {'Y', "trans_output_pad_h"}, {'X', "trans_output_pad_w"},
}};

// Cast types turn the computation into an fp8 one; only their "not set" value passes.
constexpr std::array<Ignored, 3> kCasts = {{
    {'U', "in_cast_type"}, {'T', "out_cast_type"}, {'R', "wei_cast_type"}}};

// A flag as written: "-n" matches by letter, "--batchsize" by name.
template <class Table>
auto find_flag(const Table& table, std::string_view flag) -> decltype(&table[0]) {
  for (const auto& f : table) {
    if (flag.size() == 2 && flag[0] == '-' && flag[1] == f.s) return &f;
    if (flag.starts_with("--") && flag.substr(2) == f.name) return &f;
  }
  return nullptr;
}

Status set_int(const IntFlag& f, std::string_view flag, std::string_view value, DriverArgs& a) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size())
    return invalid(fmt::format("invalid {} {} ({}): expected an integer", flag, value, f.name));
  if (v < f.lo || v > f.hi)
    return invalid(fmt::format("invalid {} {} ({}): expected {} to {}", flag, value, f.name,
                               f.lo, f.hi));
  a.*f.field = v;
  return Status::Ok();
}

Status set_flag(std::string_view flag, std::string_view value, DriverArgs& a) {
  if (const IntFlag* f = find_flag(kIntFlags, flag)) return set_int(*f, flag, value, a);
  if (const StrFlag* f = find_flag(kStrFlags, flag)) {
    a.*f->field = std::string(value);
    return Status::Ok();
  }
  if (const Ignored* f = find_flag(kCasts, flag); f && value != "-1")
    return invalid(fmt::format("not supported: cast types ({} {})", flag, value));
  if (find_flag(kCasts, flag) || find_flag(kIgnored, flag)) return Status::Ok();
  return invalid(fmt::format("unknown MIOpenDriver flag {}", flag));
}

Result<DataType> command_dt(std::string_view cmd) {
  if (cmd == "conv") return DataType::f32;
  if (cmd == "convfp16") return DataType::f16;
  if (cmd == "convbfp16") return DataType::bf16;
  if (cmd == "convint8" || cmd == "convfp8" || cmd == "convbfp8")
    return invalid(fmt::format("not supported: data type of MIOpenDriver {}", cmd));
  return invalid(fmt::format("unknown MIOpenDriver command '{}': expected conv, convfp16 or "
                             "convbfp16",
                             cmd));
}

Status parse_flags(const std::vector<std::string>& words, size_t i, DriverArgs& a) {
  for (; i < words.size(); ++i) {
    std::string_view flag = words[i];
    if (!flag.starts_with("-") || flag.size() < 2)
      return invalid(fmt::format("unexpected word '{}': expected a flag", flag));
    std::string_view value;
    if (const size_t eq = flag.find('='); flag.starts_with("--") && eq != std::string_view::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (i + 1 < words.size()) {
      value = words[++i];
    } else {
      return invalid(fmt::format("missing value for {}", flag));
    }
    CG_RETURN_IF_ERROR(set_flag(flag, value, a));
  }
  return Status::Ok();
}

Result<Layout> driver_layout(const DriverArgs& a) {
  std::string in = a.in_layout, out = a.out_layout.empty() ? a.in_layout : a.out_layout;
  for (std::string* s : {&in, &out})
    std::transform(s->begin(), s->end(), s->begin(), [](unsigned char c) { return std::tolower(c); });
  Result<Layout> li = parse_layout(in, "-I (in_layout)");
  if (!li.ok()) return li.status();
  Result<Layout> lo = parse_layout(out, "-O (out_layout)");
  if (!lo.ok()) return lo.status();
  if (*li != *lo)
    return invalid(fmt::format("not supported: different input and output layouts (-I {} -O {})",
                               a.in_layout, a.out_layout));
  return *li;
}

Status check_modes(const DriverArgs& a) {
  if (a.spatial == 3) return invalid("not supported: 3-D convolution (-_ 3)");
  if (a.mode == "trans") return invalid("not supported: transposed convolution (-m trans)");
  if (a.mode != "conv") return invalid(fmt::format("invalid -m {}: expected conv or trans", a.mode));
  if (a.pad_mode != "default" && a.pad_mode != "same" && a.pad_mode != "valid")
    return invalid(fmt::format("invalid -z {}: expected default, same or valid", a.pad_mode));
  return Status::Ok();
}

// MIOpenDriver's -z same/valid replace the pads, for dense or 1x1 filters only.
int64_t mode_pad(const DriverArgs& a, int64_t in, int64_t k, int64_t s, int64_t pad) {
  if (!((a.l == 1 && a.j == 1) || (a.y == 1 && a.x == 1))) return pad;
  if (a.pad_mode == "valid") return 0;
  if (a.pad_mode != "same") return pad;
  const int64_t total = in % s == 0 ? std::max<int64_t>(k - s, 0) : std::max<int64_t>(k - in % s, 0);
  return total / 2;
}

Problem to_problem(const DriverArgs& a, Layout layout) {
  Problem p;
  p.dt = a.dt;
  p.layout = layout;
  p.g = a.g;
  p.mb = a.n;
  p.ic = a.c;
  p.ih = a.H;
  p.iw = a.W;
  p.oc = a.k;
  p.kh = a.y;
  p.kw = a.x;
  p.sh = a.u;
  p.sw = a.v;
  p.ph = mode_pad(a, a.H, a.y, a.u, a.p);
  p.pw = mode_pad(a, a.W, a.x, a.v, a.q);
  p.dh = a.l - 1;  // MIOpen's dilation 1 is benchdnn's 0
  p.dw = a.j - 1;
  p.oh = conv_out_size(p.ih, p.kh, p.sh, p.ph, p.dh);
  p.ow = conv_out_size(p.iw, p.kw, p.sw, p.pw, p.dw);
  return p;
}

// -F is a bit set (1 fwd, 2 bwd data, 4 bwd weights) with 0 meaning all three.
std::vector<Dir> driver_dirs(const DriverArgs& a) {
  const int64_t f = a.F == 0 ? 7 : a.F;
  std::vector<Dir> dirs;
  if (f & 1) dirs.push_back(a.b ? Dir::FWD_B : Dir::FWD_D);
  if (f & 2) dirs.push_back(Dir::BWD_D);
  if (f & 4) dirs.push_back(a.b ? Dir::BWD_WB : Dir::BWD_W);
  return dirs;
}

}  // namespace

Result<std::vector<Problem>> parse_driver_cmd(std::string_view cmd) {
  Result<std::vector<std::string>> words = split_words(cmd, false);
  if (!words.ok()) return words.status();
  size_t i = 0;
  if (i < words->size() && (*words)[i].ends_with("MIOpenDriver")) ++i;
  if (i >= words->size())
    return invalid("missing MIOpenDriver command: expected conv, convfp16 or convbfp16");
  DriverArgs a;
  Result<DataType> dt = command_dt((*words)[i]);
  if (!dt.ok()) return dt.status();
  a.dt = *dt;
  CG_RETURN_IF_ERROR(parse_flags(*words, i + 1, a));
  CG_RETURN_IF_ERROR(check_modes(a));
  Result<Layout> layout = driver_layout(a);
  if (!layout.ok()) return layout.status();
  const Problem shape = to_problem(a, *layout);
  CG_RETURN_IF_ERROR(validate(shape));
  std::vector<Problem> out;
  for (Dir d : driver_dirs(a)) {
    out.push_back(shape);
    out.back().dir = d;
  }
  return out;
}

}  // namespace convguard
