// Safety profiles: what is proven safe and unsafe for one fingerprint, built from stored
// probes, saved as versioned JSON, and queried by the guard.
//
// What "proven" means here:
//  - A probe proves exactly its own problem, engine and algorithm. A problem with any
//    non-ok evidence (hang, crash, wrong, ...; also `suspect`) is failing even if another
//    probe of it was ok: a flaky problem is not safe.
//  - Along one line of a class (every field fixed but ih, or but iw, or ih = iw varying
//    together), a run of ok probes whose neighbours are at most `max_gap` apart with no
//    other evidence between them becomes one rule covering the closed interval. With the
//    default max_gap 1 every covered size was probed (the rule only summarises); a larger
//    gap interpolates and the rule says so ("basis": "interpolated"). Nothing is ever
//    extrapolated: not past the largest ok size, not to other channels, batch sizes,
//    padding, algorithms or off the line.
//  - Anything no rule covers is `unknown`, and the guard never treats unknown as safe.
// Every rule names the probe ids that support it (store ids; learned probes get ids above
// every stored one and are marked "learned").
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "convguard/outcome.h"
#include "convguard/problem.h"
#include "convguard/status.h"

namespace convguard {

/// Profile format version this build writes; newer files are refused.
inline constexpr int kProfileVersion = 1;

/// One piece of evidence: a probe result and its id.
struct ProfileProbe {
  int64_t id = 0;
  ProbeResult result;
  bool learned = false;  ///< added by a guard's learning, not read from a store
};

/// Groups: one group, depthwise (g = ic = oc... g == ic), or grouped.
enum class GroupKind { single, depthwise, grouped };
const char* to_string(GroupKind k);
GroupKind group_kind(const Problem& p);

/// The fields that make a class of problems: rules never generalise across them.
struct ProfileClass {
  std::string engine, algo;
  Dir dir = Dir::FWD_D;
  DataType dt = DataType::f32;
  Layout layout = Layout::nchw;
  int64_t kh = 0, kw = 0, sh = 0, sw = 0, dh = 0, dw = 0;
  GroupKind groups = GroupKind::single;
  auto operator<=>(const ProfileClass&) const = default;
};
ProfileClass class_of(const Problem& p, const std::string& engine, const std::string& algo);

enum class Verdict { ok, fail, unsupported, unknown };
const char* to_string(Verdict v);

/// Where a rule holds inside its class: fixed fields plus a point or a line in (ih, iw).
enum class Line { point, ih, iw, square };
const char* to_string(Line l);

struct ProfileRule {
  ProfileClass cls;
  Verdict verdict = Verdict::ok;
  Outcome outcome = Outcome::ok;  ///< of the failure, for fail rules
  int64_t g = 1, mb = 1, ic = 0, oc = 0, ph = 0, pw = 0;
  Line line = Line::point;
  int64_t ih_lo = 0, ih_hi = 0, iw_lo = 0, iw_hi = 0;
  bool interpolated = false;    ///< some covered size was not probed (max_gap > 1)
  std::vector<int64_t> probes;  ///< supporting probe ids
  double time_ms = 0;           ///< the fastest supporting probe's time (ok rules)
  /// Whether the rule covers p (p's class must already equal cls).
  bool covers(const Problem& p) const;
  /// "ok: FWD_D 3x3 ... ih=iw in [8, 42], g1 mb1 ic16 oc32 ph1 pw1 (probes 9-12)".
  std::string describe() const;
};

/// The answer for one (problem, engine, algorithm).
struct Finding {
  Verdict verdict = Verdict::unknown;
  std::string algo;
  Outcome outcome = Outcome::ok;  ///< the failure's outcome for fail
  /// Supporting probe ids: the probes of exactly p where it was probed, else those of
  /// every rule that covers it.
  std::vector<int64_t> probes;
  double time_ms = 0;
};

struct ProfileOptions {
  /// Largest distance between neighbouring ok sizes a line rule may bridge (1: only
  /// sizes that were all probed).
  int64_t max_gap = 1;
};

class Profile {
 public:
  /// Builds a profile for `fingerprint` from its probes (the caller filters by
  /// fingerprint). Probes with outcome `invalid` are ignored; every other probe counts.
  static Result<Profile> build(std::map<std::string, std::string> fingerprint,
                               std::vector<ProfileProbe> probes, ProfileOptions opt = {});
  /// Parses a profile; Invalid naming the field for a malformed one, and for a newer version.
  static Result<Profile> from_json(const nlohmann::json& j);
  static Result<Profile> load(const std::string& path);
  nlohmann::json to_json() const;
  /// Writes atomically (temporary file, then rename).
  Status save(const std::string& path) const;

  const std::map<std::string, std::string>& fingerprint() const { return fingerprint_; }
  const std::vector<ProfileProbe>& probes() const { return probes_; }
  const std::vector<ProfileRule>& rules() const { return rules_; }
  const ProfileOptions& options() const { return opt_; }

  /// Ok unless `running` differs from the profile's fingerprint; the error (Invalid) names
  /// every differing key with both values. `force` turns the refusal into Ok.
  Status check_fingerprint(const std::map<std::string, std::string>& running, bool force) const;

  /// The verdict for p with one algorithm: fail if any failing rule covers p, else ok if an
  /// ok rule does, else unsupported/unknown.
  Finding find(const Problem& p, const std::string& engine, const std::string& algo) const;
  /// One finding per algorithm the profile has any evidence about for p's class on `engine`.
  std::vector<Finding> find_all(const Problem& p, const std::string& engine) const;
  /// Values of `field` ("mb" or "g") for which some ok rule in p's class covers p with that
  /// field changed (g changes ic and oc with it, per group), largest first.
  std::vector<int64_t> ok_values(const Problem& p, const std::string& engine,
                                 const std::string& algo, const std::string& field) const;
  /// Algorithms with any evidence for p's class on `engine`, ok rules' fastest first.
  std::vector<std::string> algorithms(const Problem& p, const std::string& engine) const;

  /// Adds a probe result (learning); returns its new id. Rules are rebuilt.
  int64_t add(ProbeResult result);
  /// Adds the other profile's probes (same fingerprint only, unless `force`); probes
  /// already present (same problem, engine, algo, outcome, id) are skipped, colliding ids
  /// renumbered. Rules are rebuilt.
  Status merge(const Profile& other, bool force = false);

  /// A human summary: fingerprint, counts, and every rule.
  std::string show() const;

 private:
  void rebuild();
  std::map<std::string, std::string> fingerprint_;
  std::vector<ProfileProbe> probes_;
  ProfileOptions opt_;
  std::vector<ProfileRule> rules_;
  std::map<ProfileClass, std::vector<size_t>> index_;  // class -> rule indices
  // (problem key, engine, algo) -> ids of the probes of exactly that problem
  std::map<std::string, std::vector<int64_t>> exact_;
};

/// "9-12, 17" for a list of ids.
std::string id_ranges(std::vector<int64_t> ids);

}  // namespace convguard
