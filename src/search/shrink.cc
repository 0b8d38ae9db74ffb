#include "search/shrink.h"

#include <functional>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "search/grid.h"

namespace convguard {
namespace {

// One way to make a problem smaller: a value read from it, a floor, and how to set it.
struct Dimension {
  std::string name;
  int64_t min = 1;
  std::function<int64_t(const Problem&)> get;
  std::function<void(Problem&, int64_t)> set;
};

Dimension field_dim(const std::string& f, int64_t min) {
  return {f, min, [f](const Problem& p) { return *get_field(p, f); },
          [f](Problem& p, int64_t v) { set_field(p, f, v); }};
}

// Both fields of an h/w pair at once, offered only while they are equal (square stays square).
Dimension pair_dim(const std::string& h, int64_t min) {
  const std::string w(width_twin(h));
  return {h + "=" + w, min, [h](const Problem& p) { return *get_field(p, h); },
          [h, w](Problem& p, int64_t v) {
            set_field(p, h, v);
            set_field(p, w, v);
          }};
}

// The reductions in pass order; pairs only where the two fields are equal.
std::vector<Dimension> dimensions(const Problem& p) {
  std::vector<Dimension> d;
  d.push_back(field_dim("mb", 1));
  d.push_back({"g", 1, [](const Problem& q) { return q.g; },
               [](Problem& q, int64_t v) {  // keeps the channels of one group
                 q.ic = q.ic / q.g * v;
                 q.oc = q.oc / q.g * v;
                 q.g = v;
               }});
  d.push_back(field_dim("g", 1));  // keeps ic and oc where the new g divides them
  for (const char* c : {"ic", "oc"}) {
    const std::string f = c;
    d.push_back({f, 1, [f](const Problem& q) { return *get_field(q, f) / q.g; },
                 [f](Problem& q, int64_t v) { set_field(q, f, v * q.g); }});
  }
  const std::pair<const char*, int64_t> spatial[] = {{"ih", 1}, {"kh", 1}, {"sh", 1}, {"dh", 0}, {"ph", 0}};
  for (const auto& [h, min] : spatial) {
    const std::string w(width_twin(h));
    if (get_field(p, h) == get_field(p, w)) d.push_back(pair_dim(h, min));
    d.push_back(field_dim(h, min));
    d.push_back(field_dim(w, min));
  }
  return d;
}

Problem with_value(const Problem& p, const Dimension& d, int64_t v) {
  Problem q = p;
  d.set(q, v);
  deduce_outputs(q);
  q.name.clear();
  return q;
}

enum class Verdict { same, other, budget };

class Shrinker {
 public:
  Shrinker(Prober& prober, const ShrinkOptions& opt) : prober_(prober), opt_(opt) {}

  Status start(const Problem& failing);
  Status run();
  ShrinkResult& result() { return res_; }

 private:
  Result<Verdict> probe(const Problem& p);
  Result<bool> reduce(const Dimension& d);
  bool same(const ProbeResult& r) const {
    return r.outcome == res_.outcome && (!opt_.same_phase || r.phase == res_.phase);
  }
  void accept(const Dimension& d, int64_t from, int64_t to) {
    res_.steps.push_back(fmt::format("{} {} -> {}", d.name, from, to));
    cur_ = with_value(cur_, d, to);
    res_.result = last_same_.at(key(cur_));
  }

  Prober& prober_;
  const ShrinkOptions& opt_;
  ShrinkResult res_;
  Problem cur_;
  std::map<std::string, bool> cache_;  // key -> fails the same way
  std::map<std::string, ProbeResult> last_same_;
};

Result<Verdict> Shrinker::probe(const Problem& p) {
  if (!validate(p).ok()) return Verdict::other;  // not a problem at all: no probe spent
  const std::string k = key(p);
  if (auto it = cache_.find(k); it != cache_.end()) return it->second ? Verdict::same : Verdict::other;
  if (res_.probes >= opt_.max_probes) return Verdict::budget;
  std::optional<ProbeResult> got;
  ++res_.probes;
  CG_RETURN_IF_ERROR(prober_.run({{p, opt_.algo}}, [&](size_t, const ProbeResult& r) { got = r; }));
  if (!got) return Status::Error("shrink: the prober returned no result for " + k);
  res_.evidence.push_back(*got);
  const bool is_same = res_.evidence.size() == 1 || same(*got);
  cache_[k] = is_same;
  if (is_same) last_same_[k] = *got;
  return is_same ? Verdict::same : Verdict::other;
}

Status Shrinker::start(const Problem& failing) {
  if (auto s = validate(failing); !s.ok()) return Status::Invalid("shrink: " + s.message());
  res_.from = failing;
  cur_ = failing;
  auto v = probe(failing);
  if (!v.ok()) return v.status();
  if (*v == Verdict::budget) return Status::Invalid("shrink: --max-probes must be at least 1");
  const ProbeResult& r = res_.evidence.front();
  if (r.outcome == Outcome::ok || r.outcome == Outcome::unsupported)
    return Status::Invalid(fmt::format("shrink: {} does not fail ({}); nothing to shrink",
                                       key(failing), to_string(r.outcome)));
  res_.outcome = r.outcome;
  res_.phase = r.phase;
  res_.result = r;
  return Status::Ok();
}

// Lowers one dimension as far as it still fails the same way. Returns whether it moved; a
// spent budget comes back as an Unsupported status, which run() turns into a stop.
Result<bool> Shrinker::reduce(const Dimension& d) {
  const int64_t v = d.get(cur_);
  if (v <= d.min) return false;
  auto at_min = probe(with_value(cur_, d, d.min));
  if (!at_min.ok()) return at_min.status();
  if (*at_min == Verdict::budget) return Status::Unsupported("budget");
  if (*at_min == Verdict::same) {
    accept(d, v, d.min);
    return true;
  }
  int64_t lo = d.min, hi = v;  // lo does not fail the same way, hi does
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    auto m = probe(with_value(cur_, d, mid));
    if (!m.ok()) return m.status();
    if (*m == Verdict::budget) return Status::Unsupported("budget");
    (*m == Verdict::same ? hi : lo) = mid;
  }
  if (hi == v) return false;
  accept(d, v, hi);
  return true;
}

Status Shrinker::run() {
  last_same_[key(cur_)] = res_.result;
  for (bool changed = true; changed;) {
    changed = false;
    for (const Dimension& d : dimensions(cur_)) {
      auto moved = reduce(d);
      if (!moved.ok()) {
        if (moved.status().code() != Code::kUnsupported) return moved.status();
        res_.to = cur_;
        return Status::Ok();  // budget spent: the best so far, not known minimal
      }
      changed = changed || *moved;
    }
  }
  res_.to = cur_;
  res_.minimal = true;
  return Status::Ok();
}

}  // namespace

Result<ShrinkResult> shrink(Prober& prober, const Problem& failing, const ShrinkOptions& opt) {
  Shrinker s(prober, opt);
  CG_RETURN_IF_ERROR(s.start(failing));
  CG_RETURN_IF_ERROR(s.run());
  return std::move(s.result());
}

std::vector<Problem> smaller_neighbours(const Problem& p) {
  std::vector<Problem> out;
  for (const Dimension& d : dimensions(p)) {
    const int64_t v = d.get(p);
    if (v <= d.min || d.name.find('=') != std::string::npos) continue;
    Problem q = with_value(p, d, v - 1);
    if (validate(q).ok()) out.push_back(q);
  }
  return out;
}

nlohmann::json to_json(const ShrinkResult& r) {
  nlohmann::json j;
  j["from"] = key(r.from);
  j["to"] = key(r.to);
  j["outcome"] = to_string(r.outcome);
  j["phase"] = to_string(r.phase);
  j["probes"] = r.probes;
  j["minimal"] = r.minimal;
  j["steps"] = r.steps;
  return j;
}

}  // namespace convguard
