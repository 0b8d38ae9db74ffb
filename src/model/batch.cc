// benchdnn knobs and batch files: knob words, list expansion, nested --batch=FILE.
#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "convguard/problem.h"
#include "model/input_file.h"
#include "model/limits.h"

namespace convguard {
namespace {

// A cycle of --batch= includes ends here rather than in a stack overflow.
constexpr int kMaxDepth = 16;

Status invalid(std::string m) { return Status::Invalid(std::move(m)); }

std::vector<std::string_view> split_list(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma - start));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

// Parses a comma list with `one`, naming `field` in errors.
template <class T, class F>
Result<std::vector<T>> parse_list(std::string_view value, std::string_view field, F one) {
  std::vector<T> out;
  for (std::string_view item : split_list(value)) {
    Result<T> r = one(item, field);
    if (!r.ok()) return r.status();
    out.push_back(*r);
  }
  return out;
}

// benchdnn's --cfg names the three data types convguard knows by themselves or spelled
// out per tensor (bf16bf16bf16); mixed configurations are not problems we model.
Result<DataType> parse_cfg(std::string_view s, std::string_view field) {
  for (std::string_view dt : {"f32", "f16", "bf16"}) {
    const std::string triple = std::string(dt) + std::string(dt) + std::string(dt);
    if (s == dt || s == triple) return parse_dt(dt, field);
  }
  return invalid(fmt::format("invalid {}={}: expected f32, f16 or bf16", field, s));
}

Result<Layout> parse_tag(std::string_view s, std::string_view field) {
  // benchdnn's default tag "any" lets the library choose; convguard's default is nchw.
  if (s == "any") return Layout::nchw;
  return parse_layout(s, field);
}

Status apply_mb(std::string_view value, Knobs& knobs) {
  int64_t mb = -1;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), mb);
  if (ec != std::errc() || end != value.data() + value.size() || mb < 0)
    return invalid(fmt::format("invalid mb={}: expected one integer >= 0", value));
  knobs.mb = mb;
  return Status::Ok();
}

template <class T>
Status assign(Result<std::vector<T>> r, std::vector<T>& to) {
  if (!r.ok()) return r.status();
  to = std::move(*r);
  return Status::Ok();
}

}  // namespace

Status apply_knob(std::string_view word, Knobs& knobs, const Knobs& defaults) {
  const size_t eq = word.find('=');
  const std::string_view name = word.substr(0, eq);
  const std::string_view value = eq == std::string_view::npos ? "" : word.substr(eq + 1);
  if (name == "--reset") {
    knobs = defaults;
    return Status::Ok();
  }
  if (name == "--deconv" || (name == "--prim" && value == "deconv"))
    return invalid(fmt::format("not supported: transposed convolution ({})", word));
  if (name == "--conv" || (name == "--prim" && value == "conv") || name == "--wtag")
    return Status::Ok();
  if (eq != std::string_view::npos && value.empty())
    return invalid(fmt::format("invalid {}: empty value", word));
  if (name == "--dir") return assign(parse_list<Dir>(value, "dir", parse_dir), knobs.dirs);
  if (name == "--dt") return assign(parse_list<DataType>(value, "dt", parse_dt), knobs.dts);
  if (name == "--cfg") return assign(parse_list<DataType>(value, "cfg", parse_cfg), knobs.dts);
  if (name == "--stag")
    return assign(parse_list<Layout>(value, "stag", parse_tag), knobs.layouts);
  if (name == "--dtag")
    return assign(parse_list<Layout>(value, "dtag", parse_tag), knobs.layouts);
  if (name == "--mb") return apply_mb(value, knobs);
  return invalid(fmt::format("unknown knob {}", word));
}

Status check_expansion(size_t have, size_t each, const Knobs& knobs, std::string_view origin) {
  // In double: lists of thousands of values multiply past any integer type.
  const double combos = static_cast<double>(knobs.dirs.size()) *
                        static_cast<double>(knobs.dts.size()) *
                        static_cast<double>(knobs.layouts.size());
  const double total = static_cast<double>(have) + combos * static_cast<double>(each);
  if (total <= static_cast<double>(kMaxProblems)) return Status::Ok();
  return invalid(fmt::format(
      "{} would make {:.0f} problems ({} so far, then {} each for {} directions x {} data types "
      "x {} layouts), more than the {} one command may name: split it",
      origin, total, have, each, knobs.dirs.size(), knobs.dts.size(), knobs.layouts.size(),
      kMaxProblems));
}

Result<std::vector<std::string>> split_words(std::string_view line, bool hash_comments) {
  std::vector<std::string> words;
  std::string cur;
  bool quoted = false, in_word = false;
  for (char c : line) {
    if (!quoted && hash_comments && c == '#') break;
    if (!quoted && std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
      continue;
    }
    if (c == '"') quoted = !quoted;
    cur += c;
    in_word = true;
  }
  if (quoted) return invalid(fmt::format("unterminated quote in '{}'", line));
  if (in_word) words.push_back(std::move(cur));
  return words;
}

// ---- batch files --------------------------------------------------------------------

namespace {

struct BatchState {
  Knobs knobs;
  Knobs defaults;
  int depth = 0;
  std::vector<Problem> out;
};

Status parse_text(std::string_view text, const std::string& base_dir, const std::string& origin,
                  BatchState& st);

// A batch file that cannot be read is bad input from the user, not a harness failure.
Result<std::string> read_file(const std::string& path) {
  return read_input_file(path, "cannot read batch file");
}

std::string parent_dir(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

// `where` ("FILE:LINE" of the --batch= word) locates errors of the include itself;
// errors inside the nested file carry that file's own FILE:LINE.
Status include_file(std::string_view target, const std::string& base_dir,
                    const std::string& where, BatchState& st) {
  if (target.empty()) return invalid(fmt::format("{}: invalid --batch=: empty file name", where));
  if (st.depth >= kMaxDepth)
    return invalid(fmt::format("{}: --batch={}: batch files nest deeper than {} (a cycle?)",
                               where, target, kMaxDepth));
  std::filesystem::path path(target);
  if (path.is_relative() && !base_dir.empty()) path = std::filesystem::path(base_dir) / path;
  Result<std::string> text = read_file(path.string());
  if (!text.ok()) return invalid(fmt::format("{}: {}", where, text.status().message()));
  ++st.depth;
  Status s = parse_text(*text, parent_dir(path.string()), path.string(), st);
  --st.depth;
  return s;
}

Status add_problems(std::string_view desc, BatchState& st) {
  CG_RETURN_IF_ERROR(check_expansion(st.out.size(), 1, st.knobs, "this line"));
  for (Dir dir : st.knobs.dirs)
    for (DataType dt : st.knobs.dts)
      for (Layout layout : st.knobs.layouts) {
        Problem base;
        base.dir = dir;
        base.dt = dt;
        base.layout = layout;
        Result<Problem> p = parse_descriptor(desc, base);
        if (!p.ok()) return p.status();
        if (st.knobs.mb > 0) {
          p->mb = st.knobs.mb;
          CG_RETURN_IF_ERROR(validate(*p));
        }
        st.out.push_back(std::move(*p));
      }
  return Status::Ok();
}

Status parse_word(const std::string& w, BatchState& st) {
  if (w.starts_with("-")) return apply_knob(w, st.knobs, st.defaults);
  if (w == "deconv") return invalid("not supported: transposed convolution (deconv)");
  return add_problems(w, st);
}

Status parse_text(std::string_view text, const std::string& base_dir, const std::string& origin,
                  BatchState& st) {
  size_t line_no = 0, start = 0;
  while (start <= text.size()) {
    const size_t nl = std::min(text.find('\n', start), text.size());
    const std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    ++line_no;
    const std::string where = fmt::format("{}:{}", origin, line_no);
    Result<std::vector<std::string>> words = split_words(line, true);
    if (!words.ok()) return invalid(fmt::format("{}: {}", where, words.status().message()));
    for (const std::string& w : *words) {
      if (w.starts_with("--batch=")) {
        CG_RETURN_IF_ERROR(include_file(w.substr(8), base_dir, where, st));
      } else if (Status s = parse_word(w, st); !s.ok()) {
        return {s.code(), fmt::format("{}: {}", where, s.message())};
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Problem>> parse_batch_text(std::string_view text, const Knobs& knobs,
                                              const std::string& base_dir,
                                              const std::string& origin) {
  BatchState st{knobs, knobs, 0, {}};
  CG_RETURN_IF_ERROR(parse_text(text, base_dir, origin, st));
  return std::move(st.out);
}

Result<std::vector<Problem>> parse_batch_file(const std::string& path, const Knobs& knobs) {
  Result<std::string> text = read_file(path);
  if (!text.ok()) return text.status();
  return parse_batch_text(*text, knobs, parent_dir(path), path);
}

}  // namespace convguard
