// Options shared by the subcommands, the result printer, and the engine factory.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "convguard/engine_registry.h"
#include "convguard/sim.h"
#include "model/limits.h"
#include "search/grid.h"

namespace convguard::cli {
namespace {

template <class T, class Parse>
Result<std::vector<T>> parse_all(const std::vector<std::string>& names, Parse parse) {
  std::vector<T> out;
  for (const auto& n : names) {
    auto v = parse(n);
    if (!v.ok()) return v.status();
    out.push_back(*v);
  }
  return out;
}

Result<Knobs> knobs_from(const ProblemArgs& a) {
  Knobs k;
  auto dirs = parse_all<Dir>(a.dirs, [](const std::string& s) { return parse_dir(s, "--dir"); });
  if (!dirs.ok()) return dirs.status();
  auto dts = parse_all<DataType>(a.dts, [](const std::string& s) { return parse_dt(s, "--dt"); });
  if (!dts.ok()) return dts.status();
  auto lays = parse_all<Layout>(a.layouts,
                                [](const std::string& s) { return parse_layout(s, "--layout"); });
  if (!lays.ok()) return lays.status();
  if (a.mb < 0) return Status::Invalid(fmt::format("invalid --mb={}: must be positive", a.mb));
  k.dirs = *dirs;
  k.dts = *dts;
  k.layouts = *lays;
  k.mb = a.mb;
  return k;
}

// Appends what `make` builds from a base problem of every knob combination, with the
// --mb override applied.
template <class Make>
Status append_for_knobs(const Knobs& k, Make make, std::vector<Problem>* out) {
  CG_RETURN_IF_ERROR(check_expansion(out->size(), 1, k, "the --dir/--dt/--layout lists"));
  for (Dir d : k.dirs)
    for (DataType t : k.dts)
      for (Layout l : k.layouts) {
        Problem base;
        base.dir = d;
        base.dt = t;
        base.layout = l;
        Result<std::vector<Problem>> ps = make(base);
        if (!ps.ok()) return ps.status();
        if (out->size() + ps->size() > kMaxProblems)
          return Status::Invalid(
              fmt::format("the problems named come to more than {}: split them", kMaxProblems));
        for (Problem& p : *ps) {
          if (k.mb > 0) p.mb = k.mb;
          out->push_back(std::move(p));
        }
      }
  return Status::Ok();
}

Status append_descriptor(const std::string& text, const Knobs& k, std::vector<Problem>* out) {
  return append_for_knobs(
      k,
      [&](const Problem& base) -> Result<std::vector<Problem>> {
        auto p = parse_problem(text, base);
        if (!p.ok()) return p.status();
        return std::vector<Problem>{*p};
      },
      out);
}

Status append_grid(const std::string& spec, const Knobs& k, std::vector<Problem>* out) {
  return append_for_knobs(
      k, [&](const Problem& base) { return expand_grid(spec, base); }, out);
}

std::string short_message(const ProbeResult& r) {
  std::string m = r.message;
  for (char& c : m)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return m;
}

}  // namespace

void ProblemArgs::add_to(CLI::App& app) {
  app.add_option("problems", descriptors, "benchdnn descriptors, e.g. mb1ic16ih44oc32kh3ph1");
  app.add_option("--batch", batches, "benchdnn batch file (descriptor lines, knob lines, #)")
      ->allow_extra_args(false);
  app.add_option("--driver-cmd", driver_cmds, "MIOpenDriver command line, e.g. 'conv -n 1 -c 16 ...'")
      ->allow_extra_args(false);
  app.add_option("--grid", grids, "grid of problems, e.g. 'mb=1 ic=16,32 ih=8:64:8 kh=3'")
      ->allow_extra_args(false);
  app.add_option("--dir", dirs, "directions: FWD_D,FWD_B,BWD_D,BWD_W,BWD_WB")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
  app.add_option("--dt", dts, "data types: f32,f16,bf16")->delimiter(',')
      ->allow_extra_args(false)->capture_default_str();
  app.add_option("--layout", layouts, "layouts: nchw,nhwc")->delimiter(',')
      ->allow_extra_args(false)->capture_default_str();
  app.add_option("--mb", mb, "override the minibatch of every problem (0: keep)");
  app.add_option("--algo", algos, "algorithm names, 'default' or 'all'")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
}

Result<std::vector<Problem>> ProblemArgs::problems() const {
  auto k = knobs_from(*this);
  if (!k.ok()) return k.status();
  std::vector<Problem> out;
  for (const auto& d : descriptors) CG_RETURN_IF_ERROR(append_descriptor(d, *k, &out));
  for (const auto& b : batches) {
    auto ps = parse_batch_file(b, *k);
    if (!ps.ok()) return ps.status();
    CG_RETURN_IF_ERROR(check_expansion(out.size(), ps->size(), Knobs{}, "--batch " + b));
    out.insert(out.end(), ps->begin(), ps->end());
  }
  for (const auto& c : driver_cmds) {
    auto ps = parse_driver_cmd(c);
    if (!ps.ok()) return ps.status();
    for (auto& p : *ps)
      if (k->mb > 0) p.mb = k->mb;
    out.insert(out.end(), ps->begin(), ps->end());
  }
  for (const auto& g : grids) CG_RETURN_IF_ERROR(append_grid(g, *k, &out));
  if (out.empty())
    return Status::Invalid(
        "no problems: give descriptors, --batch FILE, --driver-cmd 'conv ...' or --grid SPEC");
  return out;
}

Result<std::vector<ProbeRequest>> ProblemArgs::requests(Prober& prober) const {
  auto ps = problems();
  if (!ps.ok()) return ps.status();
  std::vector<ProbeRequest> out;
  for (const auto& p : *ps)
    for (const auto& a : algos) {
      if (a != "all") {
        out.push_back({p, a});
        continue;
      }
      auto names = prober.algorithms(p);
      if (!names.ok()) return names.status();
      for (const auto& n : *names) out.push_back({p, n});
    }
  return out;
}

void EngineArgs::add_to(CLI::App& app) {
  app.add_option("--engine", spec.name, "engine: ref, onednn, cudnn, miopen, torch, sim")->capture_default_str();
  app.add_option("--base", spec.base, "for --engine sim: the engine it wraps");
  app.add_option("--quirks", spec.quirks_path, "for --engine sim: the quirk file (JSON)");
  app.add_option("--seed", spec.seed, "for --engine sim: seed of probabilistic rules")
      ->check(CLI::NonNegativeNumber);
}

Status EngineArgs::check() const {
  const auto names = engine_names();
  auto known = [&](const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  if (!known(spec.name))
    return Status::Invalid(fmt::format("invalid --engine={}: this build has {}", spec.name,
                                       fmt::join(names, ", ")));
  if (spec.name != "sim") {
    if (!spec.base.empty() || !spec.quirks_path.empty())
      return Status::Invalid("--base and --quirks go with --engine sim");
    return Status::Ok();
  }
  if (spec.base.empty() || spec.base == "sim" || !known(spec.base))
    return Status::Invalid(fmt::format("invalid --base={}: --engine sim wraps one of {}",
                                       spec.base.empty() ? "(none)" : spec.base,
                                       fmt::join(names, ", ")));
  if (spec.quirks_path.empty()) return Status::Invalid("--engine sim needs --quirks FILE");
  // Read here as well as in each worker: a bad file is the user's input (exit 2), not a
  // worker that cannot start.
  return load_quirks(spec.quirks_path).status();
}

ResultPrinter::ResultPrinter(bool json, bool show_worker) : json_(json), show_worker_(show_worker) {}

void ResultPrinter::print(const ProbeResult& r) {
  outcomes_.push_back(r.outcome);
  if (json_) {
    std::cout << to_json(r).dump() << '\n' << std::flush;
    return;
  }
  auto desc = r.problem.substr(r.problem.rfind(' ') + 1);
  if (!header_done_) {
    fmt::print("{:<56} {:<6} {:<4} {:<28} {:<11} {:<7} {:>10} {:>11}{}  {}\n", "problem", "dir",
               "dt", "algo", "outcome", "phase", "time_ms", "max_rel_err",
               show_worker_ ? "  worker" : "", "message");
    header_done_ = true;
  }
  fmt::print("{:<56} {:<6} {:<4} {:<28} {:<11} {:<7} {:>10.3f} {:>11.3g}{}  {}\n", desc,
             to_string(r.dir), to_string(r.dt), r.impl.empty() ? r.algo : r.impl,
             to_string(r.outcome), to_string(r.phase),
             r.time_ms, r.max_rel_err,
             show_worker_ ? fmt::format("  {:>6}", r.worker >= 0 ? std::to_string(r.worker) : "-")
                          : "",
             short_message(r));
  std::fflush(stdout);
}

void ResultPrinter::finish() {
  if (json_) return;
  std::map<Outcome, int> counts;
  for (Outcome o : outcomes_) ++counts[o];
  std::string line = fmt::format("{} probes:", outcomes_.size());
  for (auto [o, n] : counts) line += fmt::format(" {} {}", n, to_string(o));
  fmt::print("{}\n", line);
}

Status PrintingProber::do_run(const std::vector<ProbeRequest>& requests,
                              const ResultCallback& on_result,
                              const DispatchCallback& on_dispatch) {
  return inner_.run(
      requests,
      [&](size_t i, const ProbeResult& r) {
        printer_.print(r);
        on_result(i, r);
      },
      on_dispatch);
}
Result<std::vector<std::string>> PrintingProber::algorithms(const Problem& p) {
  return inner_.algorithms(p);
}
Result<std::map<std::string, std::string>> PrintingProber::fingerprint() {
  return inner_.fingerprint();
}
std::string PrintingProber::engine_name() const { return inner_.engine_name(); }

Result<std::string> self_path() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return Status::Io("cannot find this executable (/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

int report_error(const Status& s) {
  fmt::print(stderr, "convguard: {}\n", s.message());
  return s.code() == Code::kInvalid ? kExitUsage : kExitHarness;
}

}  // namespace convguard::cli
