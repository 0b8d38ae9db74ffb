// `convguard profile build|show|check|merge`: safety profiles from the store, and what
// the guard would do with them.
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/cli.h"
#include "convguard/guard.h"
#include "convguard/profile.h"
#include "convguard/store.h"
#include "guard/guard_plan.h"
#include "guard/profile_export.h"

namespace convguard::cli {
namespace {

struct ProfileArgs {
  std::string db, out, fingerprint, engine, profile, device, cpu_engine = "onednn", as;
  std::vector<std::string> inputs;
  ProblemArgs problems;
  int64_t max_gap = 1, min_tile = 8;
  bool json = false, force = false, any_cudnn_version = false;
};

Result<std::map<std::string, std::string>> fingerprint_map(const std::string& json_text) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (!j.is_object()) return Status::Corrupt("store: a run's fingerprint is not a JSON object");
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : j.items()) m[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return m;
}

// The fingerprint to build for: --fingerprint, or the store's only one.
Result<std::pair<std::string, std::string>> choose_fingerprint(Store& store, const std::string& want) {
  auto runs = store.list_runs();
  if (!runs.ok()) return runs.status();
  std::map<std::string, std::string> seen;  // hash -> fingerprint JSON
  for (const RunInfo& r : *runs) seen.emplace(r.fingerprint_hash, r.fingerprint_json);
  if (!want.empty()) {
    if (!seen.count(want)) return Status::Invalid("invalid --fingerprint=" + want + ": not in the store");
    return std::pair{want, seen[want]};
  }
  if (seen.size() == 1) return std::pair<std::string, std::string>(*seen.begin());
  std::string list;
  for (const auto& [h, fp] : seen) list += "\n  " + h + " " + fp;
  return Status::Invalid(fmt::format("the store holds {} fingerprints; choose one with --fingerprint:{}",
                                     seen.size(), list));
}

int build_main(const ProfileArgs& a) {
  auto store = Store::open(a.db, Store::Mode::read_only);
  if (!store.ok()) return report_error(store.status());
  auto fp = choose_fingerprint(**store, a.fingerprint);
  if (!fp.ok()) return report_error(fp.status());
  auto fp_map = fingerprint_map(fp->second);
  if (!fp_map.ok()) return report_error(fp_map.status());
  ProbeFilter filter;
  filter.fingerprint_hash = fp->first, filter.engine = a.engine;
  auto stored = (*store)->list_probes(filter);
  if (!stored.ok()) return report_error(stored.status());
  std::vector<ProfileProbe> probes;
  for (const StoredProbe& sp : *stored) probes.push_back({sp.id, sp.result, false});
  auto prof = Profile::build(*fp_map, std::move(probes), {.max_gap = a.max_gap});
  if (!prof.ok()) return report_error(prof.status());
  if (Status s = prof->save(a.out); !s.ok()) return report_error(s);
  size_t ok = 0;
  for (const ProfileRule& r : prof->rules()) ok += r.verdict == Verdict::ok;
  fmt::print("wrote {}: fingerprint {}, {} probes, {} rules ({} ok, {} not ok)\n", a.out, fp->first,
             prof->probes().size(), prof->rules().size(), ok, prof->rules().size() - ok);
  return kExitOk;
}

int show_main(const ProfileArgs& a) {
  auto prof = Profile::load(a.profile);
  if (!prof.ok()) return report_error(prof.status());
  std::printf("%s", a.json ? (prof->to_json().dump(1) + "\n").c_str() : prof->show().c_str());
  return kExitOk;
}

// The profile's device engine: --device, or the only engine its probes name.
Result<std::string> device_of(const Profile& prof, const std::string& want) {
  if (!want.empty()) return want;
  std::set<std::string> names;
  for (const ProfileProbe& pp : prof.probes()) names.insert(pp.result.engine);
  if (names.size() == 1) return *names.begin();
  return Status::Invalid(fmt::format("the profile holds probes of {} engines; name one with --device",
                                     names.size()));
}

int check_main(const ProfileArgs& a) {
  auto prof = Profile::load(a.profile);
  if (!prof.ok()) return report_error(prof.status());
  auto device = device_of(*prof, a.device);
  if (!device.ok()) return report_error(device.status());
  auto ps = a.problems.problems();
  if (!ps.ok()) return report_error(ps.status());
  GuardOptions o;
  o.cpu_engine = a.cpu_engine, o.min_tile = a.min_tile;
  Planner planner(*prof, o, *device, {});
  bool refused = false;
  for (const Problem& p : *ps) {
    auto r = planner.plan(p);
    if (!r.ok()) return report_error(r.status());
    refused |= r->kind == RouteKind::refuse;
    if (a.json)
      std::printf("%s\n", nlohmann::json{{"problem", key(p)}, {"route", r->text()},
                                         {"route_kind", to_string(r->kind)}}.dump().c_str());
    else
      fmt::print("{}\n  -> route: {}\n", key(p), r->text());
  }
  return refused ? kExitNotOk : kExitOk;
}

int merge_main(const ProfileArgs& a) {
  if (a.inputs.size() < 2) return report_error(Status::Invalid("profile merge needs two or more profiles"));
  auto merged = Profile::load(a.inputs[0]);
  if (!merged.ok()) return report_error(merged.status());
  for (size_t i = 1; i < a.inputs.size(); ++i) {
    auto other = Profile::load(a.inputs[i]);
    if (!other.ok()) return report_error(other.status());
    if (Status s = merged->merge(*other, a.force); !s.ok())
      return report_error(Status(s.code(), a.inputs[i] + ": " + s.message()));
  }
  if (Status s = merged->save(a.out); !s.ok()) return report_error(s);
  fmt::print("wrote {}: {} probes, {} rules\n", a.out, merged->probes().size(), merged->rules().size());
  return kExitOk;
}

int export_main(const ProfileArgs& a) {
  auto format = parse_export_format(a.as);
  if (!format.ok()) return report_error(format.status());
  auto prof = Profile::load(a.profile);
  if (!prof.ok()) return report_error(prof.status());
  const std::string text = export_profile(*prof, *format, ExportOptions{a.any_cudnn_version});
  if (a.out.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return kExitOk;
  }
  std::FILE* f = std::fopen(a.out.c_str(), "w");
  const bool ok = f && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (f && std::fclose(f) != 0) return report_error(Status::Io("cannot write " + a.out));
  return ok ? kExitOk : report_error(Status::Io("cannot write " + a.out));
}

void add_export(CLI::App& sub, std::shared_ptr<ProfileArgs> a, std::function<int()>& action) {
  CLI::App* e = sub.add_subcommand(
      "export",
      "Write a profile's failures as a cuDNN errata file, an XLA deny list or MIOpen variables");
  e->add_option("--as", a->as, "cudnn-errata, xla-denylist or miopen-env")->required();
  e->add_option("profile", a->profile, "profile file")->required();
  e->add_option("-o,--out", a->out, "write to this file instead of stdout");
  e->add_flag("--any-cudnn-version", a->any_cudnn_version,
              "cudnn-errata: rules for every cuDNN version, not only the profile's (frameworks "
              "compare the cuDNN they were compiled with)");
  e->callback([a, &action] { action = [a] { return export_main(*a); }; });
}

void add_build(CLI::App& sub, std::shared_ptr<ProfileArgs> a, std::function<int()>& action) {
  CLI::App* b = sub.add_subcommand("build", "Build a profile from the store's probes of one fingerprint");
  b->add_option("--db", a->db, "the store (SQLite file)")->required();
  b->add_option("-o,--out", a->out, "profile file to write")->required();
  b->add_option("--fingerprint", a->fingerprint, "fingerprint hash (when the store holds several)");
  b->add_option("--engine", a->engine, "only probes of this engine");
  b->add_option("--max-gap", a->max_gap,
                "largest gap between ok sizes a line rule may bridge (1: only probed sizes)")
      ->capture_default_str();
  b->callback([a, &action] { action = [a] { return build_main(*a); }; });
}

void add_show_check_merge(CLI::App& sub, std::shared_ptr<ProfileArgs> a, std::function<int()>& action) {
  CLI::App* s = sub.add_subcommand("show", "Print a profile's fingerprint and rules");
  s->add_option("profile", a->profile, "profile file")->required();
  s->add_flag("--json", a->json, "print the profile's JSON");
  s->callback([a, &action] { action = [a] { return show_main(*a); }; });
  CLI::App* c = sub.add_subcommand("check", "Print the route the guard would take for each problem");
  c->add_option("--profile", a->profile, "profile file")->required();
  c->add_option("--device", a->device, "device engine name (default: the profile's only one)");
  c->add_option("--cpu-engine", a->cpu_engine, "CPU route engine ('' refuses instead)")->capture_default_str();
  c->add_option("--min-tile", a->min_tile, "smallest useful tile side")->capture_default_str();
  c->add_flag("--json", a->json, "print JSON lines");
  a->problems.add_to(*c);
  c->callback([a, &action] { action = [a] { return check_main(*a); }; });
  CLI::App* m = sub.add_subcommand("merge", "Merge profiles of one fingerprint");
  m->add_option("profiles", a->inputs, "profile files")->required();
  m->add_option("-o,--out", a->out, "profile file to write")->required();
  m->add_flag("--force", a->force, "merge even if the fingerprints differ");
  m->callback([a, &action] { action = [a] { return merge_main(*a); }; });
}

}  // namespace

Command profile_command() {
  return {"profile",
          "Safety profiles: build from the store, show, check routes, merge, export for frameworks",
          [](CLI::App& sub) -> std::function<int()> {
            auto a = std::make_shared<ProfileArgs>();
            auto action = std::make_shared<std::function<int()>>();
            sub.require_subcommand(1);
            add_build(sub, a, *action);
            add_show_check_merge(sub, a, *action);
            add_export(sub, a, *action);
            return [action] { return *action ? (*action)() : kExitUsage; };
          }};
}

}  // namespace convguard::cli
