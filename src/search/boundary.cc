#include "search/boundary.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "search/grid.h"

namespace convguard {
namespace {

enum class Verdict { ok, fail, skip };

// Unsupported is the library declining, not a bug: it is neither side of a boundary.
Verdict verdict_of(const ProbeResult& r) {
  if (r.outcome == Outcome::ok) return Verdict::ok;
  if (r.outcome == Outcome::unsupported) return Verdict::skip;
  return Verdict::fail;
}

Status bad(std::string m) { return Status::Invalid("boundary: " + std::move(m)); }

Result<int64_t> parse_int(std::string_view s, std::string_view what) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    return bad(fmt::format("invalid {} '{}': expected an integer", what, s));
  return v;
}

bool is_input_field(std::string_view f) {
  return get_field(Problem{}, f).has_value() && f != "oh" && f != "ow";
}

Status check_options(const BoundaryOptions& o) {
  const Axis& a = o.axis;
  if (!is_input_field(a.field))
    return bad(fmt::format("invalid axis field '{}': expected an input shape field such as ih",
                           a.field));
  if (a.step <= 0) return bad(fmt::format("invalid step {}: must be positive", a.step));
  if (a.lo > a.hi) return bad(fmt::format("axis range {}:{} is empty", a.lo, a.hi));
  for (const auto& t : o.tie)
    if (!is_input_field(t) || t == a.field)
      return bad(fmt::format("invalid --tie {}: expected an input shape field other than {}", t,
                             a.field));
  if (o.repeats < 1) return bad(fmt::format("invalid repeats {}: must be at least 1", o.repeats));
  if (o.parallel < 1)
    return bad(fmt::format("invalid parallel {}: must be at least 1", o.parallel));
  return Status::Ok();
}

}  // namespace

Result<Axis> parse_axis(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos)
    return bad(fmt::format("invalid axis '{}': expected FIELD=LO:HI[:STEP], e.g. ih=8:512", text));
  Axis a;
  a.field = std::string(text.substr(0, eq));
  std::vector<std::string_view> parts;
  std::string_view rest = text.substr(eq + 1);
  for (size_t c; (c = rest.find(':')) != std::string_view::npos; rest.remove_prefix(c + 1))
    parts.push_back(rest.substr(0, c));
  parts.push_back(rest);
  if (parts.size() < 2 || parts.size() > 3)
    return bad(fmt::format("invalid axis '{}': expected FIELD=LO:HI[:STEP]", text));
  int64_t* slots[] = {&a.lo, &a.hi, &a.step};
  for (size_t i = 0; i < parts.size(); ++i) {
    auto v = parse_int(parts[i], "axis bound");
    if (!v.ok()) return v.status();
    *slots[i] = *v;
  }
  return a;
}

Result<std::pair<std::string, std::vector<int64_t>>> parse_over(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq + 1 == text.size())
    return bad(fmt::format("invalid --over '{}': expected FIELD=V1,V2,..., e.g. ic=8,16,32", text));
  std::pair<std::string, std::vector<int64_t>> out{std::string(text.substr(0, eq)), {}};
  if (!is_input_field(out.first))
    return bad(fmt::format("invalid --over field '{}': expected an input shape field", out.first));
  std::string_view rest = text.substr(eq + 1);
  while (true) {
    const size_t c = std::min(rest.find(','), rest.size());
    auto v = parse_int(rest.substr(0, c), "--over value");
    if (!v.ok()) return v.status();
    out.second.push_back(*v);
    if (c == rest.size()) break;
    rest.remove_prefix(c + 1);
  }
  return out;
}

Result<Problem> problem_at(const Problem& base, const BoundaryOptions& opt, int64_t value) {
  Problem p = base;
  set_field(p, opt.axis.field, value);
  for (const auto& t : opt.tie) set_field(p, t, value);
  deduce_outputs(p);
  if (auto s = validate(p); !s.ok())
    return bad(fmt::format("the problem at {}={} is invalid: {}", opt.axis.field, value,
                           s.message()));
  return p;
}

namespace {

/// A usable result of BoundaryOptions::stored, its problem parsed once for every line.
struct Known {
  Problem problem;
  std::string key;
  const ProbeResult* result;
};

// The stored results of opt.algo that are evidence (suspect ones are not) and parse.
std::vector<Known> known_results(const BoundaryOptions& opt) {
  std::vector<Known> out;
  for (const ProbeResult& r : opt.stored) {
    if (r.algo != opt.algo || r.outcome == Outcome::suspect) continue;
    if (auto p = parse_problem(r.problem); p.ok()) out.push_back({*p, key(*p), &r});
  }
  return out;
}

// One boundary search as a state machine, so that several lines (a frontier) can share
// each batch handed to the prober.
class Line {
 public:
  Line(const Problem& base, const BoundaryOptions& opt) : base_(base), opt_(opt) {
    n_ = (opt.axis.hi - opt.axis.lo) / opt.axis.step + 1;
    lo_ = 0;
    hi_ = n_ - 1;
    res_.axis = opt.axis.field;
    res_.tie = opt.tie;
  }
  BoundaryResult& result() { return res_; }
  /// Takes the stored results that are this line's problems as evidence.
  void take_stored(const std::vector<Known>& known);
  /// Per request of the last next(): whether it repeats a value already probed.
  const std::vector<bool>& repeats() const { return repeat_; }

  Status check_ends() {
    for (int64_t i : {lo_, hi_})
      if (auto p = problem_at(base_, opt_, value(i)); !p.ok()) return p.status();
    return Status::Ok();
  }

  /// The next round of requests; empty when the search is over.
  std::vector<ProbeRequest> next();
  /// The results of the last round, in request order.
  void feed(const std::vector<ProbeResult>& results);
  /// Judges the evidence once next() returned nothing.
  void finish();

 private:
  enum class Stage { ends, bisect, confirm, done };

  int64_t value(int64_t i) const { return opt_.axis.lo + i * opt_.axis.step; }
  bool decided(int64_t i, Verdict v) const {
    auto it = seen_.find(i);
    return it != seen_.end() && std::count(it->second.begin(), it->second.end(), v) > 0;
  }
  bool skipped(int64_t i) const { return decided(i, Verdict::skip) || !usable(i); }
  // Values that make no valid problem (odd ic with g=2) are stepped over unprobed.
  bool usable(int64_t i) const {
    auto it = valid_.find(i);
    if (it != valid_.end()) return it->second;
    const bool ok = problem_at(base_, opt_, value(i)).ok();
    valid_[i] = ok;
    if (!ok) ++invalid_count_;
    return ok;
  }
  void ask(int64_t i, std::vector<ProbeRequest>& out, bool repeat = false) {
    asked_.push_back(i);
    repeat_.push_back(repeat);
    out.push_back({*problem_at(base_, opt_, value(i)), opt_.algo});
  }
  bool over_budget(size_t more) {
    if (res_.probes + static_cast<int>(more) <= opt_.max_probes) return false;
    res_.notes.push_back(fmt::format("probe budget of {} used up", opt_.max_probes));
    budget_out_ = true;
    stage_ = Stage::done;
    return true;
  }
  std::optional<std::pair<int64_t, int64_t>> seen_bracket() const;
  std::vector<ProbeRequest> next_ends();
  std::vector<ProbeRequest> next_bisect();
  std::vector<ProbeRequest> next_confirm();
  void after_ends();
  std::vector<int64_t> pick_points(int n) const;
  std::optional<int64_t> widest_gap_middle(int64_t from, int64_t to) const;
  std::vector<int64_t> spot_picks() const;
  void judge_flaky_and_order();
  void set_pair();

  const Problem& base_;
  const BoundaryOptions& opt_;
  BoundaryResult res_;
  Stage stage_ = Stage::ends;
  int64_t n_, lo_, hi_;
  std::optional<int64_t> a_, b_;  // largest known ok index, smallest known failing index
  std::map<int64_t, std::vector<Verdict>> seen_;
  mutable std::map<int64_t, bool> valid_;
  mutable int invalid_count_ = 0;
  std::vector<int64_t> asked_;
  std::vector<bool> repeat_;  // per asked_: a confirmation repeat of a value already probed
  bool budget_out_ = false;
};

std::vector<ProbeRequest> Line::next() {
  std::vector<ProbeRequest> out;
  asked_.clear();
  repeat_.clear();
  while (out.empty() && stage_ != Stage::done) {
    switch (stage_) {
      case Stage::ends: out = next_ends(); break;
      case Stage::bisect: out = next_bisect(); break;
      case Stage::confirm: out = next_confirm(); break;
      case Stage::done: break;
    }
  }
  res_.probes += static_cast<int>(out.size());
  res_.rounds += out.empty() ? 0 : 1;
  return out;
}

void Line::take_stored(const std::vector<Known>& known) {
  for (const Known& k : known) {
    auto v = get_field(k.problem, opt_.axis.field);
    if (!v || *v < opt_.axis.lo || *v > opt_.axis.hi || (*v - opt_.axis.lo) % opt_.axis.step)
      continue;
    auto here = problem_at(base_, opt_, *v);
    if (!here.ok() || key(*here) != k.key) continue;
    const int64_t i = (*v - opt_.axis.lo) / opt_.axis.step;
    seen_[i].push_back(verdict_of(*k.result));
    res_.evidence.push_back({*v, *k.result});
    ++res_.stored;
  }
}

// The tightest bracket the evidence so far makes: the lowest failure and the highest ok
// below it. An ok above that failure stays in seen_, where finish() calls it non-monotonic.
std::optional<std::pair<int64_t, int64_t>> Line::seen_bracket() const {
  std::optional<int64_t> ok, fail;
  for (const auto& entry : seen_) {
    const int64_t i = entry.first;
    if (decided(i, Verdict::fail)) {
      fail = i;
      break;
    }
    if (decided(i, Verdict::ok)) ok = i;
  }
  if (!ok || !fail) return std::nullopt;
  return std::pair{*ok, *fail};
}

std::vector<ProbeRequest> Line::next_ends() {
  std::vector<ProbeRequest> out;
  while (lo_ <= hi_ && !usable(lo_)) ++lo_;
  while (lo_ <= hi_ && !usable(hi_)) --hi_;
  if (lo_ > hi_) {
    res_.notes.push_back(fmt::format("every value of {} in [{}, {}] is unsupported",
                                     opt_.axis.field, opt_.axis.lo, opt_.axis.hi));
    stage_ = Stage::done;
    return out;
  }
  // Stored evidence that brackets a boundary makes the ends unnecessary: the spot checks
  // of the confirmation round still look on both sides of the pair.
  if (auto br = seen_bracket()) {
    std::tie(a_, b_) = *br;
    stage_ = Stage::bisect;
    return out;
  }
  std::vector<int64_t> need;
  for (int64_t i : {lo_, hi_})
    if (!seen_.count(i) && std::find(need.begin(), need.end(), i) == need.end()) need.push_back(i);
  if (need.empty()) {
    after_ends();
    return out;
  }
  if (over_budget(need.size())) return out;
  for (int64_t i : need) ask(i, out);
  return out;
}

// Both ends have a verdict: step over unsupported ends, else choose how to go on.
void Line::after_ends() {
  if (skipped(lo_)) {
    ++lo_;
    return;
  }
  if (skipped(hi_)) {
    --hi_;
    return;
  }
  const bool lo_ok = decided(lo_, Verdict::ok), hi_ok = decided(hi_, Verdict::ok);
  if (lo_ok) a_ = lo_;
  if (!hi_ok) b_ = hi_;
  if (lo_ok && hi_ok) {
    a_ = hi_;
    stage_ = Stage::confirm;  // spot checks only: there is no pair to repeat
  } else if (!lo_ok && hi_ok) {
    a_ = hi_;
    b_ = lo_;
    stage_ = Stage::done;  // an ok above a failure: judged non-monotonic in finish()
  } else if (!lo_ok) {
    b_ = lo_;
    a_.reset();
    stage_ = Stage::confirm;
  } else {
    stage_ = Stage::bisect;
    if (auto br = seen_bracket()) std::tie(a_, b_) = *br;  // stored evidence inside the ends
  }
}

// Up to n values strictly between a and b that split it into n+1 near-equal stretches,
// each moved to the nearest value that is usable and not picked yet; ascending. n = 1 is
// the bisection's middle. Empty: every value between is unsupported or invalid.
std::vector<int64_t> Line::pick_points(int n) const {
  const int64_t a = *a_, b = *b_;
  std::vector<int64_t> picks;
  for (int k = 1; k <= n; ++k) {
    const int64_t c = a + (b - a) * k / (n + 1);
    bool found = false;
    for (int64_t d = 0; !found && (c - d > a || c + d < b); ++d)
      for (int64_t i : {c + d, c - d})
        if (!found && i > a && i < b && !skipped(i) &&
            std::find(picks.begin(), picks.end(), i) == picks.end()) {
          picks.push_back(i);
          found = true;
        }
  }
  std::sort(picks.begin(), picks.end());
  return picks;
}

std::vector<ProbeRequest> Line::next_bisect() {
  std::vector<ProbeRequest> out;
  // The budget's last probes still narrow the bracket, fewer at a time.
  const int left = std::max(1, opt_.max_probes - res_.probes);
  const std::vector<int64_t> picks = pick_points(std::min(opt_.parallel, left));
  if (picks.empty()) {
    stage_ = Stage::confirm;
    return out;
  }
  if (over_budget(picks.size())) return out;
  for (int64_t i : picks) ask(i, out);
  return out;
}

// The middle of the widest stretch of unprobed usable values in [from, to], if any.
std::optional<int64_t> Line::widest_gap_middle(int64_t from, int64_t to) const {
  std::optional<int64_t> best;
  int64_t best_width = 1, prev = from;
  auto consider = [&](int64_t next) {
    if (next - prev > best_width) {
      const int64_t mid = prev + (next - prev) / 2;
      if (usable(mid)) {
        best = mid;
        best_width = next - prev;
      }
    }
    prev = next;
  };
  for (auto it = seen_.upper_bound(from); it != seen_.end() && it->first < to; ++it)
    consider(it->first);
  consider(to);
  return best;
}

std::vector<int64_t> Line::spot_picks() const {
  std::vector<std::pair<int64_t, int64_t>> spans;
  if (a_ && b_)
    spans = {{lo_, *a_}, {*b_, hi_}};
  else
    spans = {{lo_, hi_}};
  std::vector<int64_t> picks;
  for (int k = 0; k < opt_.spot_checks; ++k) {
    const auto& [from, to] = spans[k % spans.size()];
    auto m = widest_gap_middle(from, to);
    // A pick is not in seen_ yet, so pick twice from one span only when it has room.
    if (m && std::find(picks.begin(), picks.end(), *m) == picks.end()) picks.push_back(*m);
  }
  return picks;
}

std::vector<ProbeRequest> Line::next_confirm() {
  std::vector<ProbeRequest> out;
  stage_ = Stage::done;
  const std::vector<int64_t> spots = spot_picks();
  std::vector<int64_t> again;
  for (const auto& side : {a_, b_}) {
    if (!side || !b_) continue;
    const int have = static_cast<int>(seen_[*side].size());
    for (int k = have; k < opt_.repeats; ++k) again.push_back(*side);
  }
  if (spots.size() + again.size() == 0 || over_budget(spots.size() + again.size())) return out;
  for (int64_t i : spots) ask(i, out);
  for (int64_t i : again) ask(i, out, true);
  return out;
}

void Line::feed(const std::vector<ProbeResult>& results) {
  std::optional<int64_t> low_fail;
  std::vector<int64_t> oks;
  for (size_t k = 0; k < results.size() && k < asked_.size(); ++k) {
    const int64_t i = asked_[k];
    const Verdict v = verdict_of(results[k]);
    seen_[i].push_back(v);
    res_.evidence.push_back({value(i), results[k]});
    if (stage_ != Stage::bisect) continue;
    if (v == Verdict::fail && (!low_fail || i < *low_fail)) low_fail = i;
    if (v == Verdict::ok) oks.push_back(i);
  }
  // The bracket narrows to the lowest failure and the highest ok below it; an ok above
  // a failure of the same round stays in seen_, where finish() calls it non-monotonic.
  if (stage_ != Stage::bisect) return;
  if (low_fail && *low_fail < *b_) b_ = low_fail;
  for (int64_t i : oks)
    if (i < *b_ && i > *a_) a_ = i;
}

// Flaky: one value gave both verdicts. Non-monotonic: an ok above a failure.
void Line::judge_flaky_and_order() {
  std::optional<int64_t> top_ok, low_fail;
  for (const auto& [i, vs] : seen_) {
    const auto oks = std::count(vs.begin(), vs.end(), Verdict::ok);
    const auto fails = std::count(vs.begin(), vs.end(), Verdict::fail);
    if (oks) top_ok = i;
    if (fails && !low_fail) low_fail = i;
    if (oks && fails) {
      res_.flaky = true;
      res_.notes.push_back(fmt::format("flaky: {}={} was ok {} and failed {} of {} times",
                                       opt_.axis.field, value(i), oks, fails, vs.size()));
    }
  }
  if (top_ok && low_fail && *top_ok > *low_fail) {
    res_.non_monotonic = true;
    res_.notes.push_back(fmt::format("non-monotonic: ok at {}={} above a failure at {}",
                                     opt_.axis.field, value(*top_ok), value(*low_fail)));
  }
  if (low_fail) b_ = res_.non_monotonic || res_.flaky ? low_fail : b_;
}

void Line::set_pair() {
  std::vector<std::string> unsupported;
  for (const auto& [i, vs] : seen_)
    if (std::count(vs.begin(), vs.end(), Verdict::skip)) unsupported.push_back(std::to_string(value(i)));
  if (!unsupported.empty())
    res_.notes.push_back(fmt::format("unsupported (not a failure) at {}={}", opt_.axis.field,
                                     fmt::join(unsupported, ",")));
  if (b_) {
    for (const auto& e : res_.evidence)
      if (e.value == value(*b_) && verdict_of(e.result) == Verdict::fail) {
        res_.outcome = e.result.outcome;
        res_.phase = e.result.phase;
        break;
      }
  }
  if (res_.flaky || res_.non_monotonic) return;  // no boundary rather than a wrong one
  if (a_) {
    res_.largest_ok = value(*a_);
    res_.ok_problem = *problem_at(base_, opt_, value(*a_));
  }
  if (b_) {
    res_.first_failing = value(*b_);
    res_.failing_problem = *problem_at(base_, opt_, value(*b_));
  }
  if (a_ && b_ && *b_ - *a_ > 1)
    res_.notes.push_back(fmt::format("every value between {} and {} is unsupported or invalid",
                                     value(*a_), value(*b_)));
  const auto repeated = [&](const std::optional<int64_t>& i) {
    return i && static_cast<int>(seen_[*i].size()) >= opt_.repeats;
  };
  res_.confirmed = !budget_out_ && opt_.repeats >= 2 && repeated(b_) &&
                   (a_ ? repeated(a_) : *b_ == lo_);
  if (!b_) res_.notes.push_back("no failure found, so no boundary to confirm");
}

void Line::finish() {
  judge_flaky_and_order();
  set_pair();
}

// Runs `batch[which[k]]` through `prober`, storing results at their batch positions.
Status run_part(Prober& prober, const std::vector<ProbeRequest>& batch,
                const std::vector<size_t>& which, std::vector<std::optional<ProbeResult>>& got) {
  if (which.empty()) return Status::Ok();
  std::vector<ProbeRequest> part;
  for (size_t i : which) part.push_back(batch[i]);
  return prober.run(part, [&](size_t k, const ProbeResult& r) {
    if (k < which.size()) got[which[k]] = r;
  });
}

// Runs the lines in rounds: each round is one batch holding every line's next requests
// (repeats go to `repeater`, which must really run them again).
Status run_rounds(Prober& prober, Prober& repeater, std::vector<Line>& lines) {
  while (true) {
    std::vector<ProbeRequest> batch;
    std::vector<size_t> fresh, again;
    std::vector<std::pair<size_t, size_t>> owner;  // (line, count) per line in batch order
    for (size_t l = 0; l < lines.size(); ++l) {
      auto reqs = lines[l].next();
      owner.push_back({l, reqs.size()});
      for (size_t k = 0; k < reqs.size(); ++k) {
        (lines[l].repeats()[k] ? again : fresh).push_back(batch.size());
        batch.push_back(std::move(reqs[k]));
      }
    }
    if (batch.empty()) return Status::Ok();
    std::vector<std::optional<ProbeResult>> got(batch.size());
    if (&repeater == &prober) {
      fresh.insert(fresh.end(), again.begin(), again.end());
      again.clear();
    }
    CG_RETURN_IF_ERROR(run_part(prober, batch, fresh, got));
    CG_RETURN_IF_ERROR(run_part(repeater, batch, again, got));
    size_t at = 0;
    for (auto [l, count] : owner) {
      std::vector<ProbeResult> mine;
      for (size_t k = 0; k < count; ++k, ++at) {
        if (!got[at])
          return Status::Error("boundary: the prober returned no result for " +
                               key(batch[at].problem));
        mine.push_back(*got[at]);
      }
      lines[l].feed(mine);
    }
  }
}

}  // namespace

Result<std::vector<BoundaryResult>> map_frontier(Prober& prober, const Problem& base,
                                                 const BoundaryOptions& opt,
                                                 const std::string& over_field,
                                                 const std::vector<int64_t>& over_values) {
  CG_RETURN_IF_ERROR(check_options(opt));
  if (!over_field.empty() && (!is_input_field(over_field) || over_field == opt.axis.field))
    return bad(fmt::format("invalid --over field '{}': expected an input field other than {}",
                           over_field, opt.axis.field));
  std::vector<Problem> bases;
  if (over_field.empty()) bases.push_back(base);
  for (int64_t v : over_values) {
    Problem b = base;
    set_field(b, over_field, v);
    bases.push_back(b);
  }
  const std::vector<Known> known = known_results(opt);
  std::vector<Line> lines;
  lines.reserve(bases.size());
  for (size_t i = 0; i < bases.size(); ++i) {
    lines.emplace_back(bases[i], opt);
    if (!over_field.empty()) lines.back().result().over = {{over_field, over_values[i]}};
    CG_RETURN_IF_ERROR(lines.back().check_ends());
    lines.back().take_stored(known);
  }
  Prober& repeater = opt.repeat_prober ? *opt.repeat_prober : prober;
  CG_RETURN_IF_ERROR(run_rounds(prober, repeater, lines));
  std::vector<BoundaryResult> out;
  for (auto& l : lines) {
    l.finish();
    out.push_back(std::move(l.result()));
  }
  return out;
}

Result<BoundaryResult> find_boundary(Prober& prober, const Problem& base,
                                     const BoundaryOptions& opt) {
  auto r = map_frontier(prober, base, opt, "", {});
  if (!r.ok()) return r.status();
  return std::move(r->front());
}

nlohmann::json to_json(const BoundaryResult& r) {
  nlohmann::json j;
  j["axis"] = r.axis;
  if (!r.tie.empty()) j["tie"] = r.tie;
  j["over"] = nlohmann::json::object();
  for (const auto& [f, v] : r.over) j["over"][f] = v;
  j["largest_ok"] = r.largest_ok ? nlohmann::json(*r.largest_ok) : nlohmann::json();
  j["first_failing"] = r.first_failing ? nlohmann::json(*r.first_failing) : nlohmann::json();
  j["outcome"] = to_string(r.outcome);
  j["phase"] = to_string(r.phase);
  j["probes"] = r.probes;
  if (r.stored > 0) j["stored"] = r.stored;
  if (r.rounds > 0) j["rounds"] = r.rounds;
  j["confirmed"] = r.confirmed;
  if (r.flaky) j["flaky"] = true;
  if (r.non_monotonic) j["non_monotonic"] = true;
  if (!r.notes.empty()) j["notes"] = r.notes;
  if (r.ok_problem) j["ok_problem"] = key(*r.ok_problem);
  if (r.failing_problem) j["failing_problem"] = key(*r.failing_problem);
  return j;
}

namespace {

// The value at `field` when it holds a T (absent or null: nullopt); Invalid names the field.
template <class T>
Result<std::optional<T>> optional_field(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return std::optional<T>();
  try {
    return std::optional<T>(it->get<T>());
  } catch (const nlohmann::json::exception&) {
    return bad(fmt::format("invalid summary field {}={}", field, it->dump()));
  }
}

Status read_pair(const nlohmann::json& j, BoundaryResult& r) {
  auto lo = optional_field<int64_t>(j, "largest_ok");
  auto hi = optional_field<int64_t>(j, "first_failing");
  auto ok_key = optional_field<std::string>(j, "ok_problem");
  auto fail_key = optional_field<std::string>(j, "failing_problem");
  for (const Status* s : {&lo.status(), &hi.status(), &ok_key.status(), &fail_key.status()})
    if (!s->ok()) return *s;
  r.largest_ok = *lo;
  r.first_failing = *hi;
  auto read_problem = [](const std::optional<std::string>& text, std::optional<Problem>& slot) {
    if (!text) return Status::Ok();
    auto p = parse_problem(*text);
    if (!p.ok())
      return bad(fmt::format("invalid summary problem '{}': {}", *text, p.status().message()));
    slot = *p;
    return Status::Ok();
  };
  if (auto s = read_problem(*ok_key, r.ok_problem); !s.ok()) return s;
  return read_problem(*fail_key, r.failing_problem);
}

Status read_flags(const nlohmann::json& j, BoundaryResult& r) {
  for (auto [field, flag] : {std::pair{"confirmed", &r.confirmed}, std::pair{"flaky", &r.flaky},
                             std::pair{"non_monotonic", &r.non_monotonic}}) {
    auto v = optional_field<bool>(j, field);
    if (!v.ok()) return v.status();
    *flag = v->value_or(false);
  }
  return Status::Ok();
}

Status read_verdict(const nlohmann::json& j, BoundaryResult& r) {
  auto outcome = optional_field<std::string>(j, "outcome");
  auto phase = optional_field<std::string>(j, "phase");
  if (!outcome.ok()) return outcome.status();
  if (!phase.ok()) return phase.status();
  if (!*outcome || !*phase) return bad("summary lacks outcome or phase");
  auto o = parse_outcome(**outcome);
  if (!o.ok()) return o.status();
  auto ph = parse_phase(**phase);
  if (!ph.ok()) return ph.status();
  r.outcome = *o;
  r.phase = *ph;
  return Status::Ok();
}

}  // namespace

Result<BoundaryResult> boundary_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return bad("summary is not a JSON object");
  BoundaryResult r;
  auto axis = optional_field<std::string>(j, "axis");
  auto tie = optional_field<std::vector<std::string>>(j, "tie");
  auto over = optional_field<std::map<std::string, int64_t>>(j, "over");
  auto probes = optional_field<int>(j, "probes");
  auto rounds = optional_field<int>(j, "rounds");
  auto stored = optional_field<int>(j, "stored");
  auto notes = optional_field<std::vector<std::string>>(j, "notes");
  for (const Status* s : {&axis.status(), &tie.status(), &over.status(), &probes.status(),
                          &rounds.status(), &stored.status(), &notes.status()})
    if (!s->ok()) return *s;
  if (!*axis) return bad("summary lacks the axis");
  r.axis = **axis;
  r.tie = tie->value_or(std::vector<std::string>{});
  for (const auto& [f, v] : over->value_or(std::map<std::string, int64_t>{}))
    r.over.push_back({f, v});
  r.probes = probes->value_or(0);
  r.rounds = rounds->value_or(0);
  r.stored = stored->value_or(0);
  r.notes = notes->value_or(std::vector<std::string>{});
  if (auto s = read_flags(j, r); !s.ok()) return s;
  if (auto s = read_pair(j, r); !s.ok()) return s;
  if (auto s = read_verdict(j, r); !s.ok()) return s;
  return r;
}

std::string summary_line(const BoundaryResult& r) {
  std::string s;
  for (const auto& [f, v] : r.over) s += fmt::format("{}={}: ", f, v);
  auto opt = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "none"; };
  std::string axes = r.axis;
  for (const auto& t : r.tie) axes += "=" + t;
  s += fmt::format("largest ok: {}={}   first failing: {}", axes, opt(r.largest_ok),
                   opt(r.first_failing));
  if (r.first_failing) s += fmt::format(" ({}, {})", to_string(r.outcome), to_string(r.phase));
  s += fmt::format("   probes: {}{}   {}", r.probes,
                   r.stored ? fmt::format(" (and {} stored)", r.stored) : "",
                   r.confirmed ? "confirmed" : "not confirmed");
  for (const auto& n : r.notes) s += "; " + n;
  return s;
}

}  // namespace convguard
