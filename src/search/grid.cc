#include "search/grid.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>

#include <fmt/format.h>

namespace convguard {
namespace {

constexpr std::array<int64_t Problem::*, 16> kMembers = {
    &Problem::g,  &Problem::mb, &Problem::ic, &Problem::ih, &Problem::iw, &Problem::oc,
    &Problem::oh, &Problem::ow, &Problem::kh, &Problem::kw, &Problem::sh, &Problem::sw,
    &Problem::ph, &Problem::pw, &Problem::dh, &Problem::dw};
// Indices past the shape fields: the enum knobs a grid may also vary.
constexpr int kDir = 16, kDt = 17, kLayout = 18, kNumFields = 19;
constexpr std::array<std::string_view, kNumFields> kNames = {
    "g",  "mb", "ic", "ih", "iw", "oc", "oh", "ow", "kh", "kw",
    "sh", "sw", "ph", "pw", "dh", "dw", "dir", "dt", "layout"};
constexpr int kIh = 3, kIw = 4, kOh = 6, kOw = 7;

int field_index(std::string_view name) {
  for (int i = 0; i < kNumFields; ++i)
    if (kNames[i] == name) return i;
  return -1;
}

// h fields and their w twins, by index.
constexpr std::array<std::pair<int, int>, 5> kTwins = {{{3, 4}, {8, 9}, {10, 11}, {12, 13}, {14, 15}}};

struct Node {
  enum Kind { kNum, kRef, kNeg, kAdd, kSub, kMul, kDiv } kind;
  int64_t num = 0;  // the literal, or the field index for kRef
  int a = -1, b = -1;
  int depth = 1;  // of the tree below and including this node
};

// Deepest expression tree and parser nesting: bounds the recursion of parsing and eval(), so that
// a long spec is an error rather than a stack overflow.
constexpr int kMaxDepth = 64;

struct Item {
  int lo = -1, hi = -1, step = -1;  // node indices; hi < 0: a single expression
  size_t column = 0;
  std::string text;
};

struct Assignment {
  int field = -1;
  size_t column = 0;
  std::vector<Item> items;
  std::vector<int64_t> names;  // enum values for dir/dt/layout
  std::vector<int> refs;       // fields the expressions read
};

struct Grid {
  std::vector<Node> nodes;
  std::array<int, kNumFields> assigned;  // index into assigns, or -1
  std::vector<Assignment> assigns;
};

Status err(std::string m) { return Status::Invalid("grid: " + std::move(m)); }

// Recursive descent over one VALUES text; columns are reported in the whole spec.
class ValueParser {
 public:
  ValueParser(std::string_view text, size_t column0, Grid& g, Assignment& a)
      : s_(text), col0_(column0), g_(g), a_(a) {}

  Status parse_items() {
    if (s_.empty()) return err(fmt::format("no value for '{}' at column {}", kNames[a_.field], col0_));
    while (true) {
      Item it;
      const size_t start = pos_;
      it.column = col();
      auto lo = expr();
      if (!lo.ok()) return lo.status();
      it.lo = *lo;
      CG_RETURN_IF_ERROR(range_tail(it));
      it.text = std::string(s_.substr(start, pos_ - start));
      a_.items.push_back(std::move(it));
      if (pos_ == s_.size()) return Status::Ok();
      if (s_[pos_] != ',') return unexpected();
      ++pos_;
    }
  }

 private:
  Status range_tail(Item& it) {
    for (int* slot : {&it.hi, &it.step}) {
      if (pos_ == s_.size() || s_[pos_] != ':') return Status::Ok();
      ++pos_;
      auto e = expr();
      if (!e.ok()) return e.status();
      *slot = *e;
    }
    return Status::Ok();
  }
  size_t col() const { return col0_ + pos_; }
  Status unexpected() const {
    if (pos_ == s_.size())
      return err(fmt::format("unexpected end of '{}' at column {}", s_, col()));
    return err(fmt::format("unexpected '{}' at column {}", s_[pos_], col()));
  }
  Status too_deep() const {
    return err(fmt::format("expression nested deeper than {} at column {}", kMaxDepth, col()));
  }
  int depth_of(int n) const { return n < 0 ? 0 : g_.nodes[n].depth; }
  Result<int> add(Node n) {
    n.depth = 1 + std::max(depth_of(n.a), depth_of(n.b));
    if (n.depth > kMaxDepth) return too_deep();
    g_.nodes.push_back(n);
    return static_cast<int>(g_.nodes.size()) - 1;
  }
  Result<int> expr() {
    auto l = term();
    if (!l.ok()) return l;
    while (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) {
      const auto k = s_[pos_++] == '+' ? Node::kAdd : Node::kSub;
      auto r = term();
      if (!r.ok()) return r;
      l = add({k, 0, *l, *r});
      if (!l.ok()) return l;
    }
    return l;
  }
  Result<int> term() {
    auto l = unary();
    if (!l.ok()) return l;
    while (pos_ < s_.size() && (s_[pos_] == '*' || s_[pos_] == '/')) {
      const auto k = s_[pos_++] == '*' ? Node::kMul : Node::kDiv;
      auto r = unary();
      if (!r.ok()) return r;
      l = add({k, 0, *l, *r});
      if (!l.ok()) return l;
    }
    return l;
  }
  // Every nesting (a minus, a parenthesis) passes here, so the guard bounds the recursion.
  Result<int> unary() {
    if (nesting_ == kMaxDepth) return too_deep();
    ++nesting_;
    auto e = negation_or_primary();
    --nesting_;
    return e;
  }
  Result<int> negation_or_primary() {
    if (pos_ < s_.size() && s_[pos_] == '-') {
      ++pos_;
      auto e = unary();
      if (!e.ok()) return e;
      return add({Node::kNeg, 0, *e, -1});
    }
    return primary();
  }
  Result<int> primary() {
    if (pos_ == s_.size()) return unexpected();
    const char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      auto e = expr();
      if (!e.ok()) return e;
      if (pos_ == s_.size() || s_[pos_] != ')') return unexpected();
      ++pos_;
      return e;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) return number();
    if (std::isalpha(static_cast<unsigned char>(c))) return reference();
    return unexpected();
  }
  Result<int> number() {
    const size_t start = pos_;
    int64_t v = 0;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s_[pos_] - '0', &v)) {
        while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
        return err(fmt::format("number '{}' is too large at column {}",
                               s_.substr(start, pos_ - start), col0_ + start));
      }
      ++pos_;
    }
    return add({Node::kNum, v});
  }
  Result<int> reference() {
    const size_t start = pos_;
    while (pos_ < s_.size() && std::isalnum(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    const auto name = s_.substr(start, pos_ - start);
    const int f = field_index(name);
    if (f < 0)
      return err(fmt::format("unknown field '{}' in expression at column {}", name, col0_ + start));
    if (f >= kDir)
      return err(fmt::format("field '{}' cannot be used in an expression at column {}", name,
                             col0_ + start));
    a_.refs.push_back(f);
    return add({Node::kRef, f});
  }

  std::string_view s_;
  size_t pos_ = 0, col0_;
  int nesting_ = 0;
  Grid& g_;
  Assignment& a_;
};

Result<int64_t> eval(const Grid& g, int n, const std::array<int64_t, kNumFields>& v) {
  const Node& node = g.nodes[n];
  if (node.kind == Node::kNum) return node.num;
  if (node.kind == Node::kRef) return v[node.num];
  auto a = eval(g, node.a, v);
  if (!a.ok()) return a;
  if (node.kind == Node::kNeg) return -*a;
  auto b = eval(g, node.b, v);
  if (!b.ok()) return b;
  int64_t r = 0;
  bool overflow = false;
  switch (node.kind) {
    case Node::kAdd: overflow = __builtin_add_overflow(*a, *b, &r); break;
    case Node::kSub: overflow = __builtin_sub_overflow(*a, *b, &r); break;
    case Node::kMul: overflow = __builtin_mul_overflow(*a, *b, &r); break;
    default:
      if (*b == 0) return err("division by zero");
      r = *a / *b;
  }
  if (overflow) return err("integer overflow");
  return r;
}

bool is_constant(const Grid& g, int n) {
  if (n < 0) return true;
  const Node& node = g.nodes[n];
  if (node.kind == Node::kRef) return false;
  return is_constant(g, node.a) && is_constant(g, node.b);
}

}  // namespace
namespace {

using Values = std::array<int64_t, kNumFields>;

// Values an item yields for the current assignment; Invalid explains an empty or bad one.
Status expand_item(const Grid& g, const Item& it, const Values& v, size_t cap,
                   std::vector<int64_t>* out) {
  auto lo = eval(g, it.lo, v);
  if (!lo.ok()) return lo.status();
  if (it.hi < 0) {
    out->push_back(*lo);
    return Status::Ok();
  }
  auto hi = eval(g, it.hi, v);
  if (!hi.ok()) return hi.status();
  int64_t step = 1;
  if (it.step >= 0) {
    auto s = eval(g, it.step, v);
    if (!s.ok()) return s.status();
    step = *s;
  }
  if (step <= 0)
    return err(fmt::format("range step {} is not positive in '{}' at column {}", step, it.text,
                           it.column));
  if (*lo > *hi) return err(fmt::format("range {} is empty at column {}", it.text, it.column));
  if (static_cast<uint64_t>(*hi - *lo) / static_cast<uint64_t>(step) >= cap)
    return err(fmt::format("range {} has more than {} values at column {}", it.text, cap, it.column));
  for (int64_t x = *lo; x <= *hi; x += step) {
    out->push_back(x);
    if (*hi - x < step) break;  // x + step would pass hi (or overflow)
  }
  return Status::Ok();
}

Status parse_enum_values(std::string_view text, size_t column, Assignment& a) {
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const auto name = text.substr(pos, comma - pos);
    const std::string field(kNames[a.field]);
    Result<int64_t> v = Status::Invalid("");
    if (a.field == kDir) {
      auto d = parse_dir(name, field);
      v = d.ok() ? Result<int64_t>(static_cast<int64_t>(*d)) : Result<int64_t>(d.status());
    } else if (a.field == kDt) {
      auto t = parse_dt(name, field);
      v = t.ok() ? Result<int64_t>(static_cast<int64_t>(*t)) : Result<int64_t>(t.status());
    } else {
      auto l = parse_layout(name, field);
      v = l.ok() ? Result<int64_t>(static_cast<int64_t>(*l)) : Result<int64_t>(l.status());
    }
    if (!v.ok()) return err(fmt::format("{} (at column {})", v.status().message(), column + pos));
    a.names.push_back(*v);
    pos = comma + 1;
  }
  return Status::Ok();
}

// Checks constant ranges now, so that a typo fails before any enumeration.
Status check_constant_items(const Grid& g, const Assignment& a, size_t cap) {
  for (const auto& it : a.items) {
    if (it.hi < 0 || !is_constant(g, it.lo) || !is_constant(g, it.hi) || !is_constant(g, it.step))
      continue;
    std::vector<int64_t> scratch;
    Values none{};
    CG_RETURN_IF_ERROR(expand_item(g, it, none, cap, &scratch));
  }
  return Status::Ok();
}

Status parse_assignment(std::string_view tok, size_t column, size_t cap, Grid& g) {
  const size_t eq = tok.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return err(fmt::format("expected FIELD=VALUES at column {}, got '{}'", column, tok));
  const auto name = tok.substr(0, eq);
  const int f = field_index(name);
  if (f < 0) return err(fmt::format("unknown field '{}' at column {}", name, column));
  if (g.assigned[f] >= 0)
    return err(fmt::format("field '{}' is assigned twice (columns {} and {})", name,
                           g.assigns[g.assigned[f]].column, column));
  Assignment a;
  a.field = f;
  a.column = column;
  const auto text = tok.substr(eq + 1);
  const size_t vcol = column + eq + 1;
  if (text.empty()) return err(fmt::format("no value for '{}' at column {}", name, vcol));
  CG_RETURN_IF_ERROR(f >= kDir ? parse_enum_values(text, vcol, a)
                                : ValueParser(text, vcol, g, a).parse_items());
  CG_RETURN_IF_ERROR(check_constant_items(g, a, cap));
  g.assigned[f] = static_cast<int>(g.assigns.size());
  g.assigns.push_back(std::move(a));
  return Status::Ok();
}

Result<Grid> parse_spec(std::string_view spec, size_t cap) {
  Grid g;
  g.assigned.fill(-1);
  size_t pos = 0;
  while (pos < spec.size()) {
    if (std::isspace(static_cast<unsigned char>(spec[pos]))) {
      ++pos;
      continue;
    }
    size_t end = pos;
    while (end < spec.size() && !std::isspace(static_cast<unsigned char>(spec[end]))) ++end;
    CG_RETURN_IF_ERROR(parse_assignment(spec.substr(pos, end - pos), pos + 1, cap, g));
    pos = end;
  }
  if (g.assigns.empty()) return err("empty spec: expected FIELD=VALUES, e.g. 'ic=16 ih=32:64:2'");
  return g;
}

// How each field gets its value in a combination.
enum class Source { base, assigned, promoted, deduced };

struct Plan {
  std::array<Source, kNumFields> source;
  std::array<std::vector<int>, kNumFields> deps;
  std::vector<int> order;  // fields in evaluation order
};

void plan_sources(const Grid& g, Plan& p) {
  for (int f = 0; f < kNumFields; ++f) {
    p.source[f] = g.assigned[f] >= 0 ? Source::assigned : Source::base;
    if (g.assigned[f] >= 0) p.deps[f] = g.assigns[g.assigned[f]].refs;
  }
  for (auto [h, w] : kTwins)
    if (p.source[h] == Source::assigned && p.source[w] == Source::base) {
      p.source[w] = Source::promoted;
      p.deps[w] = {h};
    }
  for (auto [out, in] : {std::pair{kOh, kIh}, std::pair{kOw, kIw}})
    if (p.source[out] == Source::base) {
      p.source[out] = Source::deduced;
      p.deps[out] = {in, in + 5, in + 7, in + 9, in + 11};  // i, k, s, p, d
    }
}

// Names one cycle among the fields left unordered, e.g. "ic -> oc -> ic".
std::string describe_cycle(const Plan& p, const std::vector<bool>& done) {
  int f = 0;
  while (done[f]) ++f;
  std::vector<int> path;
  while (std::find(path.begin(), path.end(), f) == path.end()) {
    path.push_back(f);
    for (int d : p.deps[f])
      if (!done[d]) {
        f = d;
        break;
      }
  }
  std::string s;
  for (auto it = std::find(path.begin(), path.end(), f); it != path.end(); ++it)
    s += std::string(kNames[*it]) + " -> ";
  return s + std::string(kNames[f]);
}

// Topological order; among ready fields, unassigned ones first, then assigned in spec order.
Status order_fields(const Grid& g, Plan& p) {
  std::vector<bool> done(kNumFields, false);
  auto rank = [&](int f) { return g.assigned[f] >= 0 ? kNumFields + g.assigned[f] : f; };
  for (int n = 0; n < kNumFields; ++n) {
    int best = -1;
    for (int f = 0; f < kNumFields; ++f) {
      if (done[f]) continue;
      const bool ready = std::all_of(p.deps[f].begin(), p.deps[f].end(),
                                     [&](int d) { return done[d]; });
      if (ready && (best < 0 || rank(f) < rank(best))) best = f;
    }
    if (best < 0) return err("cyclic reference: " + describe_cycle(p, done));
    done[best] = true;
    p.order.push_back(best);
  }
  return Status::Ok();
}

}  // namespace
namespace {

class Enumerator {
 public:
  Enumerator(const Grid& g, const Plan& p, const Problem& base, size_t cap, GridStats& stats)
      : g_(g), p_(p), base_(base), cap_(cap), stats_(stats) {}

  Status run(std::vector<Problem>* out) {
    out_ = out;
    for (int f = 0; f < 16; ++f) v_[f] = base_.*kMembers[f];
    v_[kDir] = static_cast<int64_t>(base_.dir);
    v_[kDt] = static_cast<int64_t>(base_.dt);
    v_[kLayout] = static_cast<int64_t>(base_.layout);
    return visit(0);
  }

 private:
  Status values_of(int f, std::vector<int64_t>* vals) {
    switch (p_.source[f]) {
      case Source::base: vals->push_back(v_[f]); return Status::Ok();
      case Source::promoted: vals->push_back(v_[p_.deps[f][0]]); return Status::Ok();
      case Source::deduced: {
        const int i = f == kOh ? kIh : kIw;
        vals->push_back(conv_out_size(v_[i], v_[i + 5], v_[i + 7], v_[i + 9], v_[i + 11]));
        return Status::Ok();
      }
      case Source::assigned: break;
    }
    const Assignment& a = g_.assigns[g_.assigned[f]];
    if (f >= kDir) {
      *vals = a.names;
      return Status::Ok();
    }
    for (const auto& it : a.items) CG_RETURN_IF_ERROR(expand_item(g_, it, v_, cap_, vals));
    return Status::Ok();
  }

  Status visit(size_t level) {
    if (level == p_.order.size()) return leaf();
    const int f = p_.order[level];
    std::vector<int64_t> vals;
    if (auto s = values_of(f, &vals); !s.ok()) {
      // A dependent value that cannot be computed (x/0, an empty dependent range) makes
      // this branch invalid, not the whole grid.
      skip(s.message() + " for " + std::string(kNames[f]));
      return count_check();
    }
    for (int64_t x : vals) {
      v_[f] = x;
      CG_RETURN_IF_ERROR(visit(level + 1));
    }
    return Status::Ok();
  }

  Status count_check() {
    if (++stats_.combinations > cap_)
      return err(fmt::format("more than {} combinations; narrow the ranges or split the grid", cap_));
    return Status::Ok();
  }

  void skip(std::string why) {
    if (stats_.skipped++ == 0) stats_.first_skip = std::move(why);
  }

  Status leaf() {
    CG_RETURN_IF_ERROR(count_check());
    Problem p = base_;
    for (int f = 0; f < 16; ++f) p.*kMembers[f] = v_[f];
    p.dir = static_cast<Dir>(v_[kDir]);
    p.dt = static_cast<DataType>(v_[kDt]);
    p.layout = static_cast<Layout>(v_[kLayout]);
    if (auto s = validate(p); !s.ok()) {
      skip(s.message());
      return Status::Ok();
    }
    out_->push_back(std::move(p));
    return Status::Ok();
  }

  const Grid& g_;
  const Plan& p_;
  const Problem& base_;
  size_t cap_;
  GridStats& stats_;
  Values v_{};
  std::vector<Problem>* out_ = nullptr;
};

}  // namespace

const std::vector<std::string_view>& shape_fields() {
  static const std::vector<std::string_view> names(kNames.begin(), kNames.begin() + 16);
  return names;
}

std::optional<int64_t> get_field(const Problem& p, std::string_view name) {
  const int f = field_index(name);
  if (f < 0 || f >= 16) return std::nullopt;
  return p.*kMembers[f];
}

bool set_field(Problem& p, std::string_view name, int64_t value) {
  const int f = field_index(name);
  if (f < 0 || f >= 16) return false;
  p.*kMembers[f] = value;
  return true;
}

std::string_view width_twin(std::string_view h_field) {
  const int f = field_index(h_field);
  for (auto [h, w] : kTwins)
    if (h == f) return kNames[w];
  if (f == kOh) return kNames[kOw];
  return {};
}

void deduce_outputs(Problem& p) {
  p.oh = conv_out_size(p.ih, p.kh, p.sh, p.ph, p.dh);
  p.ow = conv_out_size(p.iw, p.kw, p.sw, p.pw, p.dw);
}

Result<std::vector<Problem>> expand_grid(std::string_view spec, const Problem& base,
                                         GridStats* stats, size_t max_combinations) {
  auto g = parse_spec(spec, max_combinations);
  if (!g.ok()) return g.status();
  Plan plan;
  plan_sources(*g, plan);
  CG_RETURN_IF_ERROR(order_fields(*g, plan));
  GridStats local;
  GridStats& st = stats ? *stats : local;
  st = {};
  std::vector<Problem> out;
  CG_RETURN_IF_ERROR(Enumerator(*g, plan, base, max_combinations, st).run(&out));
  if (out.empty())
    return err(fmt::format("every one of {} combinations is invalid; the first: {}",
                           st.combinations, st.first_skip));
  return out;
}

}  // namespace convguard
