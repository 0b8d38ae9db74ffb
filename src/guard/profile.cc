#include "convguard/profile.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/input_file.h"

namespace convguard {
namespace {

using Family = std::array<int64_t, 6>;  // g, mb, ic, oc, ph, pw
Family family_of(const Problem& p) { return {p.g, p.mb, p.ic, p.oc, p.ph, p.pw}; }

// What one size point of a family says, all its probes together.
struct Point {
  int64_t ih = 0, iw = 0;
  Verdict verdict = Verdict::ok;
  Outcome outcome = Outcome::ok;
  std::vector<int64_t> probes;
  double time_ms = 0;
};

Verdict verdict_of(Outcome o) {
  if (o == Outcome::ok) return Verdict::ok;
  if (o == Outcome::unsupported) return Verdict::unsupported;
  return Verdict::fail;
}

// Any failure beats unsupported, which beats ok: one bad probe makes a problem unsafe.
void absorb(Point& pt, const ProfileProbe& pp) {
  const Verdict v = verdict_of(pp.result.outcome);
  pt.probes.push_back(pp.id);
  if (pt.probes.size() == 1 || pp.result.time_ms < pt.time_ms) pt.time_ms = pp.result.time_ms;
  if (v == Verdict::fail && (pt.verdict != Verdict::fail || pp.result.outcome > pt.outcome))
    pt.verdict = Verdict::fail, pt.outcome = pp.result.outcome;
  else if (v == Verdict::unsupported && pt.verdict == Verdict::ok)
    pt.verdict = Verdict::unsupported, pt.outcome = pp.result.outcome;
}

ProfileRule rule_base(const ProfileClass& cls, const Family& f) {
  ProfileRule r;
  r.cls = cls;
  r.g = f[0], r.mb = f[1], r.ic = f[2], r.oc = f[3], r.ph = f[4], r.pw = f[5];
  return r;
}

// Turns runs of ok points along one line (sorted by position) into rules; marks the
// points a run covers. `pos` gives a point's place on the line.
template <class Pos>
void line_rules(const ProfileClass& cls, const Family& f, Line line, std::vector<Point*> pts,
                const Pos& pos, int64_t max_gap, std::set<Point*>& covered,
                std::vector<ProfileRule>& out) {
  std::sort(pts.begin(), pts.end(), [&](Point* a, Point* b) { return pos(a) < pos(b); });
  size_t i = 0;
  while (i < pts.size()) {
    size_t j = i;
    while (pts[i]->verdict == Verdict::ok && j + 1 < pts.size() &&
           pts[j + 1]->verdict == Verdict::ok && pos(pts[j + 1]) - pos(pts[j]) <= max_gap)
      ++j;
    if (j > i) {
      ProfileRule r = rule_base(cls, f);
      r.line = line;
      r.ih_lo = pts[i]->ih, r.ih_hi = pts[j]->ih, r.iw_lo = pts[i]->iw, r.iw_hi = pts[j]->iw;
      r.time_ms = pts[i]->time_ms;
      for (size_t k = i; k <= j; ++k) {
        covered.insert(pts[k]);
        r.probes.insert(r.probes.end(), pts[k]->probes.begin(), pts[k]->probes.end());
        r.time_ms = std::min(r.time_ms, pts[k]->time_ms);
        if (k > i && pos(pts[k]) - pos(pts[k - 1]) > 1) r.interpolated = true;
      }
      out.push_back(std::move(r));
    }
    i = j + 1;
  }
}

void family_rules(const ProfileClass& cls, const Family& f, std::vector<Point>& points,
                  int64_t max_gap, std::vector<ProfileRule>& out) {
  std::map<int64_t, std::vector<Point*>> by_iw, by_ih;
  std::vector<Point*> square;
  for (Point& pt : points) {
    by_iw[pt.iw].push_back(&pt), by_ih[pt.ih].push_back(&pt);
    if (pt.ih == pt.iw) square.push_back(&pt);
  }
  std::set<Point*> covered;
  for (auto& [iw, pts] : by_iw)
    line_rules(cls, f, Line::ih, pts, [](Point* p) { return p->ih; }, max_gap, covered, out);
  for (auto& [ih, pts] : by_ih)
    line_rules(cls, f, Line::iw, pts, [](Point* p) { return p->iw; }, max_gap, covered, out);
  line_rules(cls, f, Line::square, square, [](Point* p) { return p->ih; }, max_gap, covered, out);
  for (Point& pt : points) {
    if (covered.count(&pt)) continue;
    ProfileRule r = rule_base(cls, f);
    r.verdict = pt.verdict, r.outcome = pt.outcome;
    r.ih_lo = r.ih_hi = pt.ih, r.iw_lo = r.iw_hi = pt.iw;
    r.probes = pt.probes, r.time_ms = pt.time_ms;
    out.push_back(std::move(r));
  }
}

std::string class_text(const ProfileClass& c) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s %s %s %s %ldx%ld s%ldx%ld d%ldx%ld %s", c.engine.c_str(),
                to_string(c.dir), to_string(c.dt), to_string(c.layout), long(c.kh), long(c.kw),
                long(c.sh), long(c.sw), long(c.dh), long(c.dw), to_string(c.groups));
  return std::string(buf) + " algo=" + c.algo;
}

nlohmann::json rule_json(const ProfileRule& r) {
  nlohmann::json j = {{"verdict", to_string(r.verdict)}, {"class", class_text(r.cls)},
                      {"g", r.g}, {"mb", r.mb}, {"ic", r.ic}, {"oc", r.oc}, {"ph", r.ph},
                      {"pw", r.pw}, {"line", to_string(r.line)},
                      {"ih", {r.ih_lo, r.ih_hi}}, {"iw", {r.iw_lo, r.iw_hi}},
                      {"basis", r.interpolated ? "interpolated" : "probed"}, {"probes", r.probes}};
  if (r.verdict != Verdict::ok) j["outcome"] = to_string(r.outcome);
  return j;
}

std::string exact_key(const std::string& problem, const std::string& engine,
                      const std::string& algo) {
  return problem + "|" + engine + "|" + algo;
}

std::string range_text(int64_t lo, int64_t hi) {
  return lo == hi ? std::to_string(lo) : "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}

}  // namespace

const char* to_string(GroupKind k) {
  switch (k) {
    case GroupKind::single: return "g1";
    case GroupKind::depthwise: return "depthwise";
    case GroupKind::grouped: return "grouped";
  }
  return "?";
}

GroupKind group_kind(const Problem& p) {
  if (p.g == 1) return GroupKind::single;
  return p.g == p.ic && p.g == p.oc ? GroupKind::depthwise : GroupKind::grouped;
}

ProfileClass class_of(const Problem& p, const std::string& engine, const std::string& algo) {
  return {engine, algo, p.dir, p.dt, p.layout, p.kh, p.kw, p.sh, p.sw, p.dh, p.dw, group_kind(p)};
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::ok: return "ok";
    case Verdict::fail: return "fail";
    case Verdict::unsupported: return "unsupported";
    case Verdict::unknown: return "unknown";
  }
  return "?";
}

const char* to_string(Line l) {
  switch (l) {
    case Line::point: return "point";
    case Line::ih: return "ih";
    case Line::iw: return "iw";
    case Line::square: return "square";
  }
  return "?";
}

bool ProfileRule::covers(const Problem& p) const {
  if (family_of(p) != Family{g, mb, ic, oc, ph, pw}) return false;
  switch (line) {
    case Line::point: return p.ih == ih_lo && p.iw == iw_lo;
    case Line::ih: return p.iw == iw_lo && p.ih >= ih_lo && p.ih <= ih_hi;
    case Line::iw: return p.ih == ih_lo && p.iw >= iw_lo && p.iw <= iw_hi;
    case Line::square: return p.ih == p.iw && p.ih >= ih_lo && p.ih <= ih_hi;
  }
  return false;
}

std::string ProfileRule::describe() const {
  std::string where;
  if (line == Line::square) where = "ih=iw in " + range_text(ih_lo, ih_hi);
  else where = "ih " + range_text(ih_lo, ih_hi) + " iw " + range_text(iw_lo, iw_hi);
  std::string v = verdict == Verdict::fail ? std::string("fail (") + to_string(outcome) + ")"
                                           : to_string(verdict);
  return v + ": " + class_text(cls) + ", " + where + ", g" + std::to_string(g) + " mb" +
         std::to_string(mb) + " ic" + std::to_string(ic) + " oc" + std::to_string(oc) + " ph" +
         std::to_string(ph) + " pw" + std::to_string(pw) +
         (interpolated ? " (interpolated)" : "") + " (probes " + id_ranges(probes) + ")";
}

std::string id_ranges(std::vector<int64_t> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::string out;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += std::to_string(ids[i]);
    if (j > i) out += "-" + std::to_string(ids[j]);
    i = j + 1;
  }
  return out;
}

Result<Profile> Profile::build(std::map<std::string, std::string> fingerprint,
                               std::vector<ProfileProbe> probes, ProfileOptions opt) {
  if (opt.max_gap < 1)
    return Status::Invalid("invalid max_gap=" + std::to_string(opt.max_gap) + ": must be >= 1");
  for (const ProfileProbe& pp : probes)
    if (!parse_problem(pp.result.problem).ok() && pp.result.outcome != Outcome::invalid)
      return Status::Invalid("probe " + std::to_string(pp.id) + ": cannot parse problem '" +
                             pp.result.problem + "'");
  Profile p;
  p.fingerprint_ = std::move(fingerprint);
  p.probes_ = std::move(probes);
  p.opt_ = opt;
  p.rebuild();
  return p;
}

void Profile::rebuild() {
  exact_.clear();
  std::map<ProfileClass, std::map<Family, std::map<std::pair<int64_t, int64_t>, Point>>> tree;
  for (const ProfileProbe& pp : probes_) {
    if (pp.result.outcome == Outcome::invalid) continue;
    auto prob = parse_problem(pp.result.problem);
    if (!prob.ok()) continue;
    Point& pt = tree[class_of(*prob, pp.result.engine, pp.result.algo)][family_of(*prob)]
                    [{prob->ih, prob->iw}];
    pt.ih = prob->ih, pt.iw = prob->iw;
    absorb(pt, pp);
    exact_[exact_key(pp.result.problem, pp.result.engine, pp.result.algo)].push_back(pp.id);
  }
  rules_.clear();
  index_.clear();
  for (auto& [cls, families] : tree)
    for (auto& [fam, pts] : families) {
      std::vector<Point> points;
      for (auto& [hw, pt] : pts) points.push_back(pt);
      family_rules(cls, fam, points, opt_.max_gap, rules_);
    }
  for (size_t i = 0; i < rules_.size(); ++i) index_[rules_[i].cls].push_back(i);
}

Finding Profile::find(const Problem& p, const std::string& engine, const std::string& algo) const {
  Finding f;
  f.algo = algo;
  auto it = index_.find(class_of(p, engine, algo));
  if (it == index_.end()) return f;
  std::vector<const ProfileRule*> ok, bad, unsup;
  for (size_t i : it->second) {
    const ProfileRule& r = rules_[i];
    if (!r.covers(p)) continue;
    (r.verdict == Verdict::ok ? ok : r.verdict == Verdict::fail ? bad : unsup).push_back(&r);
  }
  const auto& chosen = !bad.empty() ? bad : !ok.empty() ? ok : unsup;
  if (chosen.empty()) return f;
  f.verdict = chosen.front()->verdict;
  f.time_ms = chosen.front()->time_ms;
  for (const ProfileRule* r : chosen) {
    f.probes.insert(f.probes.end(), r->probes.begin(), r->probes.end());
    if (r->verdict == Verdict::fail && r->outcome > f.outcome) f.outcome = r->outcome;
    if (r->verdict != Verdict::fail) f.outcome = r->outcome;
    f.time_ms = std::min(f.time_ms, r->time_ms);
  }
  if (auto e = exact_.find(exact_key(key(p), engine, algo)); e != exact_.end()) f.probes = e->second;
  return f;
}

std::vector<std::string> Profile::algorithms(const Problem& p, const std::string& engine) const {
  ProfileClass want = class_of(p, engine, "");
  std::vector<std::pair<double, std::string>> algos;
  for (const auto& [cls, idx] : index_) {
    ProfileClass c = cls;
    c.algo.clear();
    if (c != want) continue;
    double best = 1e300;
    for (size_t i : idx)
      if (rules_[i].verdict == Verdict::ok) best = std::min(best, rules_[i].time_ms);
    algos.emplace_back(best, cls.algo);
  }
  std::sort(algos.begin(), algos.end());
  std::vector<std::string> out;
  for (auto& [t, a] : algos) out.push_back(a);
  return out;
}

std::vector<Finding> Profile::find_all(const Problem& p, const std::string& engine) const {
  std::vector<Finding> out;
  for (const std::string& a : algorithms(p, engine)) out.push_back(find(p, engine, a));
  return out;
}

std::vector<int64_t> Profile::ok_values(const Problem& p, const std::string& engine,
                                        const std::string& algo, const std::string& field) const {
  std::set<int64_t, std::greater<>> values;
  for (const ProfileRule& r : rules_) {
    if (r.verdict != Verdict::ok || r.cls.engine != engine || r.cls.algo != algo) continue;
    Problem q = p;
    if (field == "mb") q.mb = r.mb;
    if (field == "g") {
      if (r.g <= 0 || r.g > p.g) continue;
      q.g = r.g, q.ic = p.ic / p.g * r.g, q.oc = p.oc / p.g * r.g;
    }
    if (r.cls == class_of(q, engine, algo) && r.covers(q)) values.insert(field == "g" ? r.g : r.mb);
  }
  return {values.begin(), values.end()};
}

int64_t Profile::add(ProbeResult result) {
  int64_t id = 0;
  for (const ProfileProbe& pp : probes_) id = std::max(id, pp.id);
  result.stderr_tail.clear();
  probes_.push_back({id + 1, std::move(result), true});
  rebuild();
  return id + 1;
}

Status Profile::merge(const Profile& other, bool force) {
  if (Status s = check_fingerprint(other.fingerprint_, force); !s.ok())
    return Status::Invalid("cannot merge profiles of different fingerprints: " + s.message());
  int64_t next = 0;
  for (const ProfileProbe& pp : probes_) next = std::max(next, pp.id);
  for (const ProfileProbe& pp : other.probes_) {
    bool same = false, collides = false;
    for (const ProfileProbe& mine : probes_) {
      if (mine.id != pp.id) continue;
      collides = true;
      same = mine.result.problem == pp.result.problem && mine.result.engine == pp.result.engine &&
             mine.result.algo == pp.result.algo && mine.result.outcome == pp.result.outcome;
    }
    if (same) continue;
    probes_.push_back(pp);
    if (collides) probes_.back().id = ++next;
    next = std::max(next, probes_.back().id);
  }
  opt_.max_gap = std::min(opt_.max_gap, other.opt_.max_gap);
  rebuild();
  return Status::Ok();
}

Status Profile::check_fingerprint(const std::map<std::string, std::string>& running,
                                  bool force) const {
  std::set<std::string> keys;
  for (const auto& [k, v] : fingerprint_) keys.insert(k);
  for (const auto& [k, v] : running) keys.insert(k);
  std::string diff;
  auto value = [](const std::map<std::string, std::string>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? std::string("(absent)") : "'" + it->second + "'";
  };
  for (const std::string& k : keys)
    if (value(fingerprint_, k) != value(running, k))
      diff += (diff.empty() ? "" : "; ") + k + ": profile " + value(fingerprint_, k) +
              ", running " + value(running, k);
  if (diff.empty() || force) return Status::Ok();
  return Status::Invalid("the profile was made for another fingerprint (" + diff +
                         "); forcing it runs convolutions on evidence from another device or library");
}

nlohmann::json Profile::to_json() const {
  nlohmann::json probes = nlohmann::json::array(), rules = nlohmann::json::array();
  for (const ProfileProbe& pp : probes_) {
    nlohmann::json j = convguard::to_json(pp.result);
    j["id"] = pp.id;
    if (pp.learned) j["learned"] = true;
    probes.push_back(std::move(j));
  }
  for (const ProfileRule& r : rules_) rules.push_back(rule_json(r));
  return {{"format", "convguard-profile"}, {"version", kProfileVersion},
          {"fingerprint", fingerprint_}, {"options", {{"max_gap", opt_.max_gap}}},
          {"probes", std::move(probes)}, {"rules", std::move(rules)}};
}

Result<Profile> Profile::from_json(const nlohmann::json& j) {
  // value() throws on a field of the wrong type ("learned": 3): still the file's fault.
  try {
    if (!j.is_object() || j.value("format", "") != "convguard-profile")
      return Status::Invalid("not a convguard profile (field \"format\" is not \"convguard-profile\")");
    if (!j.contains("version") || !j["version"].is_number_integer())
      return Status::Invalid("profile: field \"version\" missing or not an integer");
    if (int v = j["version"].get<int>(); v > kProfileVersion)
      return Status::Invalid("profile version " + std::to_string(v) + " is newer than this build's " +
                             std::to_string(kProfileVersion));
    std::map<std::string, std::string> fp;
    if (!j.contains("fingerprint") || !j["fingerprint"].is_object())
      return Status::Invalid("profile: field \"fingerprint\" missing or not an object");
    for (const auto& [k, v] : j["fingerprint"].items()) {
      if (!v.is_string()) return Status::Invalid("profile: fingerprint." + k + " is not a string");
      fp[k] = v.get<std::string>();
    }
    if (!j.contains("probes") || !j["probes"].is_array())
      return Status::Invalid("profile: field \"probes\" missing or not an array");
    std::vector<ProfileProbe> probes;
    for (const nlohmann::json& e : j["probes"]) {
      auto r = probe_result_from_json(e);
      if (!r.ok()) return Status::Invalid("profile: probes[" + std::to_string(probes.size()) + "]: " + r.status().message());
      if (!e.contains("id") || !e["id"].is_number_integer())
        return Status::Invalid("profile: probes[" + std::to_string(probes.size()) + "]: field \"id\" missing");
      probes.push_back({e["id"].get<int64_t>(), std::move(r.value()), e.value("learned", false)});
    }
    ProfileOptions opt;
    if (j.contains("options") && j["options"].is_object()) opt.max_gap = j["options"].value("max_gap", int64_t{1});
    return build(std::move(fp), std::move(probes), opt);
  } catch (const nlohmann::json::exception& e) {
    return Status::Invalid(std::string("profile: ") + e.what());
  }
}

Result<Profile> Profile::load(const std::string& path) {
  auto text = read_input_file(path, "cannot read profile");
  if (!text.ok()) return text.status();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) return Status::Invalid("profile " + path + ": not valid JSON");
  auto p = from_json(j);
  if (!p.ok()) return Status(p.status().code(), path + ": " + p.status().message());
  return p;
}

Status Profile::save(const std::string& path) const {
  CG_RETURN_IF_ERROR(check_output_path(path, "cannot write the profile"));
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return Status::Io("cannot write " + tmp);
    out << to_json().dump(1) << "\n";
    if (!out.flush()) {
      std::remove(tmp.c_str());
      return Status::Io("cannot write " + tmp);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::Io("cannot rename " + tmp + " to " + path);
  }
  return Status::Ok();
}

std::string Profile::show() const {
  std::ostringstream o;
  o << "profile (format " << kProfileVersion << "), fingerprint:\n";
  for (const auto& [k, v] : fingerprint_) o << "  " << k << " = " << v << "\n";
  size_t learned = 0, ok = 0, fail = 0;
  for (const ProfileProbe& pp : probes_) learned += pp.learned;
  for (const ProfileRule& r : rules_) ok += r.verdict == Verdict::ok, fail += r.verdict == Verdict::fail;
  o << probes_.size() << " probes (" << learned << " learned), " << rules_.size() << " rules ("
    << ok << " ok, " << fail << " failing), max_gap " << opt_.max_gap << "\n";
  for (const ProfileRule& r : rules_) o << "  " << r.describe() << "\n";
  return o.str();
}

}  // namespace convguard
