// Heat maps: grouping probes into maps, row boundaries, and the SVG drawing.
#include "report/heatmap.h"

#include <algorithm>
#include <array>
#include <set>
#include <tuple>

#include <fmt/format.h>

namespace convguard::report {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // A control byte is no character of a page, and printed raw (the report on stdout)
        // it would drive the terminal: it is shown as its escape.
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  return out;
}

namespace {

constexpr std::array<std::string_view, 16> kFields = {"g",  "mb", "ic", "ih", "iw", "oc",
                                                      "oh", "ow", "kh", "kw", "sh", "sw",
                                                      "ph", "pw", "dh", "dw"};
// The order in which fields that vary inside a cell split a group into maps: the ones a
// reader thinks of as "a different convolution" first.
constexpr std::array<std::string_view, 17> kSplitOrder = {
    "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw", "g",
    "mb", "layout", "oc", "ic", "ih", "iw", "oh", "ow"};

struct Entry {
  const StoredProbe* probe;
  Problem problem;
  int64_t x = 0, y = 0;
};

int64_t split_value(const Problem& p, std::string_view field) {
  if (field == "layout") return static_cast<int64_t>(p.layout);
  return shape_field(p, field).value_or(0);
}

std::string split_label(std::string_view field, int64_t v) {
  if (field == "layout") return std::string("layout=") + to_string(static_cast<Layout>(v));
  return fmt::format("{}={}", field, v);
}

using Split = std::vector<std::string_view>;
using SubKey = std::vector<int64_t>;

std::map<SubKey, std::vector<const Entry*>> partition(const std::vector<Entry>& entries,
                                                      const Split& split) {
  std::map<SubKey, std::vector<const Entry*>> out;
  for (const auto& e : entries) {
    SubKey k;
    for (auto f : split) k.push_back(split_value(e.problem, f));
    out[k].push_back(&e);
  }
  return out;
}

// The first field (in kSplitOrder, not yet split, not an axis) whose value differs between
// two entries of one cell of one part; empty when every cell holds one problem.
std::string_view conflicting_field(const std::map<SubKey, std::vector<const Entry*>>& parts,
                                   const Split& split, const std::string& x, const std::string& y) {
  std::string_view best;
  size_t best_rank = kSplitOrder.size();
  for (const auto& [key, members] : parts) {
    std::map<std::pair<int64_t, int64_t>, const Entry*> first;
    for (const Entry* e : members) {
      auto [it, fresh] = first.emplace(std::make_pair(e->x, e->y), e);
      if (fresh) continue;
      for (size_t i = 0; i < best_rank; ++i) {
        auto f = kSplitOrder[i];
        if (f == x || f == y || std::find(split.begin(), split.end(), f) != split.end()) continue;
        if (split_value(e->problem, f) != split_value(it->second->problem, f)) {
          best = f;
          best_rank = i;
          break;
        }
      }
    }
  }
  return best;
}

Split choose_split(const std::vector<Entry>& entries, const std::string& x, const std::string& y) {
  Split split;
  for (size_t round = 0; round < kSplitOrder.size(); ++round) {
    auto field = conflicting_field(partition(entries, split), split, x, y);
    if (field.empty()) break;
    Split wider = split;
    wider.push_back(field);
    if (partition(entries, wider).size() > static_cast<size_t>(kMaxSplitMaps)) break;
    split = std::move(wider);
  }
  return split;
}

// The fields that tell the maps of one group apart: constant inside each map, not across
// them (a split on kh names kw and ph too when they follow it).
Split telling_fields(const std::map<SubKey, std::vector<const Entry*>>& parts,
                     const std::string& x, const std::string& y) {
  Split out;
  if (parts.size() < 2) return out;
  for (auto f : kSplitOrder) {
    if (f == x || f == y) continue;
    std::set<int64_t> across;
    bool constant = true;
    for (const auto& [key, members] : parts) {
      const int64_t v = split_value(members.front()->problem, f);
      across.insert(v);
      for (const Entry* e : members) constant = constant && split_value(e->problem, f) == v;
    }
    if (constant && across.size() > 1) out.push_back(f);
  }
  return out;
}

std::string cell_tip(const Entry& e, const std::string& x, const std::string& y) {
  const ProbeResult& r = e.probe->result;
  std::string tip = fmt::format("{}={} {}={}: {} ({})", x, e.x, y, e.y, to_string(r.outcome),
                                to_string(r.phase));
  if (!r.name.empty()) tip += "\n" + r.name;
  tip += "\n" + r.problem;
  if (!r.message.empty()) tip += "\n" + r.message.substr(0, 240);
  return tip;
}

HeatMap make_map(const std::string& title, const std::vector<const Entry*>& members,
                 const StoredProbe* first, const std::string& x, const std::string& y) {
  HeatMap m;
  m.title = title;
  m.x_axis = x;
  m.y_axis = y;
  std::set<int64_t> xs, ys;
  std::set<std::pair<int64_t, int64_t>> seen_problem;
  for (const Entry* e : members) {
    xs.insert(e->x);
    ys.insert(e->y);
    auto [it, fresh] = m.cells.try_emplace({e->x, e->y});
    HeatCell& c = it->second;
    const Outcome o = e->probe->result.outcome;
    if (fresh || o > c.outcome) {
      c.outcome = o;
      c.tip = cell_tip(*e, x, y);
      c.probe = static_cast<size_t>(e->probe - first);
    }
    ++c.probes;
  }
  for (auto& [xy, c] : m.cells)
    if (c.probes > 1) {
      m.merged = true;
      c.tip = fmt::format("{} probes, worst shown\n{}", c.probes, c.tip);
    }
  m.xs.assign(xs.begin(), xs.end());
  m.ys.assign(ys.begin(), ys.end());
  return m;
}

std::string group_title(const ProbeResult& r, const std::string& fp, bool several_fps) {
  std::string t = fmt::format("{} {} {} {}", r.engine, r.algo, to_string(r.dir), to_string(r.dt));
  if (several_fps) t += " [fingerprint " + fp + "]";
  return t;
}

struct OutcomeStyle {
  Outcome outcome;
  const char* fill;
  const char* text;  // glyph colour, readable on the fill
};
// Hangs and crashes in dark and bright reds, wrong results in purple, so that the failures
// a user fears most stand out; each failing cell also carries a letter for grey-scale prints.
constexpr std::array<OutcomeStyle, 10> kStyles = {{
    {Outcome::ok, "#2e9e4f", "#ffffff"},        {Outcome::unsupported, "#c3c8cf", "#222222"},
    {Outcome::wrong, "#8e44ad", "#ffffff"},     {Outcome::oob, "#d147b8", "#ffffff"},
    {Outcome::error, "#f0b429", "#222222"},     {Outcome::crash, "#e03a1e", "#ffffff"},
    {Outcome::hang, "#7a0d0d", "#ffffff"},      {Outcome::wedged, "#111111", "#ffffff"},
    {Outcome::suspect, "#8c6d31", "#ffffff"},   {Outcome::invalid, "#eeeeee", "#222222"},
}};

struct Geometry {
  int left = 64, top = 8, bottom = 48, right = 12;
  int cw = 20, ch = 20;
  int nx = 0, ny = 0;
  int width() const { return left + nx * cw + right; }
  int height() const { return top + ny * ch + bottom; }
  int cx(size_t col) const { return left + static_cast<int>(col) * cw; }
  // Row 0 (the smallest y) at the bottom, as on a plot.
  int cy(size_t row) const { return top + (ny - 1 - static_cast<int>(row)) * ch; }
};

Geometry geometry(const HeatMap& m) {
  Geometry g;
  g.nx = static_cast<int>(m.xs.size());
  g.ny = static_cast<int>(m.ys.size());
  g.cw = std::clamp(680 / std::max(g.nx, 1), 10, 44);
  g.ch = std::clamp(360 / std::max(g.ny, 1), 10, 30);
  return g;
}

const HeatCell* cell_at(const HeatMap& m, size_t col, size_t row) {
  auto it = m.cells.find({m.xs[col], m.ys[row]});
  return it == m.cells.end() ? nullptr : &it->second;
}

std::string svg_cells(const HeatMap& m, const Geometry& g) {
  std::string out;
  const bool glyphs = g.cw >= 14 && g.ch >= 13;
  for (size_t col = 0; col < m.xs.size(); ++col)
    for (size_t row = 0; row < m.ys.size(); ++row) {
      const HeatCell* c = cell_at(m, col, row);
      if (!c) continue;
      const char* o = to_string(c->outcome);
      out += fmt::format(
          "<rect class=\"cell outcome-{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" "
          "data-x=\"{}\" data-y=\"{}\"><title>{}</title></rect>\n",
          o, g.cx(col), g.cy(row), g.cw, g.ch, m.xs[col], m.ys[row], html_escape(c->tip));
      if (glyphs && *outcome_glyph(c->outcome))
        out += fmt::format("<text class=\"glyph glyph-{}\" x=\"{}\" y=\"{}\">{}</text>\n", o,
                           g.cx(col) + g.cw / 2, g.cy(row) + g.ch / 2 + 4, outcome_glyph(c->outcome));
    }
  return out;
}

std::string svg_labels(const HeatMap& m, const Geometry& g) {
  std::string out;
  const size_t xstep = static_cast<size_t>(std::max(1, (30 + g.cw - 1) / g.cw));
  const int base = g.top + g.ny * g.ch;
  for (size_t col = 0; col < m.xs.size(); col += xstep)
    out += fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\">{}</text>\n", g.cx(col) + g.cw / 2,
                       base + 15, m.xs[col]);
  const size_t ystep = static_cast<size_t>(std::max(1, (13 + g.ch - 1) / g.ch));
  for (size_t row = 0; row < m.ys.size(); row += ystep)
    out += fmt::format("<text class=\"tick ytick\" x=\"{}\" y=\"{}\">{}</text>\n", g.left - 6,
                       g.cy(row) + g.ch / 2 + 4, m.ys[row]);
  out += fmt::format("<text class=\"axis-title\" x=\"{}\" y=\"{}\">{}</text>\n",
                     g.left + g.nx * g.cw / 2, base + 38, html_escape(m.x_axis));
  out += fmt::format(
      "<text class=\"axis-title\" transform=\"translate(16 {}) rotate(-90)\">{}</text>\n",
      g.top + g.ny * g.ch / 2, html_escape(m.y_axis));
  return out;
}

bool ok_meets_failure(const HeatCell* a, const HeatCell* b) {
  if (!a || !b) return false;
  return (a->outcome == Outcome::ok && is_failure(b->outcome)) ||
         (b->outcome == Outcome::ok && is_failure(a->outcome));
}

// Segments on the edges between ok cells and failing neighbours: the boundary contour.
std::string svg_boundary(const HeatMap& m, const Geometry& g) {
  std::string d;
  for (size_t row = 0; row < m.ys.size(); ++row)
    for (size_t col = 0; col + 1 < m.xs.size(); ++col)
      if (ok_meets_failure(cell_at(m, col, row), cell_at(m, col + 1, row)))
        d += fmt::format("M{} {}V{}", g.cx(col + 1), g.cy(row), g.cy(row) + g.ch);
  for (size_t col = 0; col < m.xs.size(); ++col)
    for (size_t row = 0; row + 1 < m.ys.size(); ++row)
      if (ok_meets_failure(cell_at(m, col, row), cell_at(m, col, row + 1)))
        d += fmt::format("M{} {}H{}", g.cx(col), g.cy(row), g.cx(col) + g.cw);
  if (d.empty()) return "";
  return fmt::format("<path class=\"boundary-halo\" d=\"{0}\"/>\n<path class=\"boundary\" d=\"{0}\">"
                     "<title>boundary: ok on one side, failing on the other</title></path>\n",
                     d);
}

}  // namespace

std::optional<int64_t> shape_field(const Problem& p, std::string_view f) {
  const std::array<int64_t, 16> v = {p.g,  p.mb, p.ic, p.ih, p.iw, p.oc, p.oh, p.ow,
                                     p.kh, p.kw, p.sh, p.sw, p.ph, p.pw, p.dh, p.dw};
  for (size_t i = 0; i < kFields.size(); ++i)
    if (kFields[i] == f) return v[i];
  return std::nullopt;
}

bool is_failure(Outcome o) { return o != Outcome::ok && o != Outcome::unsupported; }

const char* outcome_glyph(Outcome o) {
  switch (o) {
    case Outcome::ok: return "";
    case Outcome::unsupported: return "u";
    case Outcome::wrong: return "W";
    case Outcome::oob: return "O";
    case Outcome::error: return "E";
    case Outcome::crash: return "C";
    case Outcome::hang: return "H";
    case Outcome::wedged: return "X";
    case Outcome::suspect: return "?";
    case Outcome::invalid: return "I";
  }
  return "";
}

Result<std::vector<HeatMap>> build_heatmaps(const std::vector<StoredProbe>& probes,
                                            const std::string& x, const std::string& y) {
  Problem probe_shape;
  if (!shape_field(probe_shape, x)) return Status::Invalid("invalid x axis '" + x + "': not a shape field");
  if (!shape_field(probe_shape, y)) return Status::Invalid("invalid y axis '" + y + "': not a shape field");
  if (x == y) return Status::Invalid("invalid axes: x and y are both '" + x + "'");
  std::set<std::string> fps;
  using GroupKey = std::tuple<std::string, std::string, std::string, Dir, DataType>;
  std::map<GroupKey, std::vector<Entry>> groups;
  for (const auto& sp : probes) {
    auto p = parse_problem(sp.result.problem);
    if (!p.ok()) continue;
    fps.insert(sp.fingerprint_hash);
    const ProbeResult& r = sp.result;
    groups[{sp.fingerprint_hash, r.engine, r.algo, r.dir, r.dt}].push_back(
        Entry{&sp, *p, *shape_field(*p, x), *shape_field(*p, y)});
  }
  std::vector<HeatMap> maps;
  for (const auto& [key, entries] : groups) {
    const std::string base = group_title(entries.front().probe->result, std::get<0>(key), fps.size() > 1);
    const auto parts = partition(entries, choose_split(entries, x, y));
    const Split named = telling_fields(parts, x, y);
    for (const auto& [sub, members] : parts) {
      std::string title = base;
      for (auto f : named) title += " " + split_label(f, split_value(members.front()->problem, f));
      maps.push_back(make_map(title, members, probes.data(), x, y));
    }
  }
  return maps;
}

std::vector<RowBoundary> row_boundaries(const HeatMap& m) {
  std::vector<RowBoundary> out;
  for (int64_t y : m.ys) {
    std::optional<int64_t> last_ok;
    for (int64_t x : m.xs) {
      auto it = m.cells.find({x, y});
      if (it == m.cells.end()) continue;
      if (it->second.outcome == Outcome::ok) last_ok = x;
      if (!is_failure(it->second.outcome)) continue;
      out.push_back(RowBoundary{m.title, y, last_ok, x, it->second.outcome, it->second.probe});
      break;
    }
  }
  return out;
}

}  // namespace convguard::report

namespace convguard::report {

std::string heatmap_svg(const HeatMap& m) {
  if (m.xs.empty() || m.ys.empty()) return "";
  const Geometry g = geometry(m);
  std::string out = fmt::format(
      "<svg class=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" role=\"img\" aria-label=\"{2}\">\n",
      g.width(), g.height(), html_escape("heat map: " + m.title));
  out += fmt::format("<rect class=\"plot-bg\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>\n",
                     g.left, g.top, g.nx * g.cw, g.ny * g.ch);
  out += svg_cells(m, g);
  out += svg_boundary(m, g);
  out += svg_labels(m, g);
  return out + "</svg>\n";
}

std::string legend_html() {
  std::string out = "<div class=\"legend\">";
  for (const auto& s : kStyles)
    out += fmt::format(
        "<span class=\"legend-item\"><span class=\"swatch outcome-{0}\">{1}</span>{0}</span>",
        to_string(s.outcome), outcome_glyph(s.outcome));
  out += "<span class=\"legend-item\"><svg width=\"22\" height=\"14\" aria-hidden=\"true\">"
         "<path class=\"boundary-halo\" d=\"M11 0V14\"/><path class=\"boundary\" d=\"M11 0V14\"/>"
         "</svg>boundary (ok | failing)</span>";
  out += "<span class=\"legend-item\"><span class=\"swatch swatch-empty\"></span>not probed</span>";
  return out + "</div>\n";
}

std::string outcome_css() {
  std::string out;
  for (const auto& s : kStyles) {
    const char* o = to_string(s.outcome);
    out += fmt::format("rect.outcome-{0}{{fill:{1}}}.swatch.outcome-{0},.badge.outcome-{0}"
                       "{{background:{1};color:{2}}}text.glyph-{0}{{fill:{2}}}\n",
                       o, s.fill, s.text);
  }
  return out;
}

}  // namespace convguard::report
