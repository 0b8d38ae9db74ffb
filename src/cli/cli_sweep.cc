// `convguard sweep`: many problems through isolated workers, every result in the store,
// resumable after Ctrl-C, SIGKILL or a frozen host.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/cli.h"
#include "cli/cli_isolation.h"
#include "cli/cli_shard.h"
#include "convguard/store.h"
#include "convguard/sweep.h"

namespace convguard::cli {
namespace {

struct SweepArgs : StoreCommandArgs {
  bool resume = false, retry_suspects = false, json = false;
  int64_t run = 0;
  size_t group = 0;
  std::string command;  ///< the command line, for the run record
  ShardArgs shard;
  std::optional<Shard> chosen;  ///< the shard this sweep runs (resolved before the store opens)
};

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) { g_stop.store(true); }

// Ctrl-C and SIGTERM set the flag; the sweep stops after the group in flight. Workers
// live in their own process groups, so the terminal's SIGINT does not reach them.
void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

Result<std::vector<ProbeRequest>> sweep_requests(const SweepArgs& a, Prober& prober) {
  auto requests = a.problems.requests(prober);
  if (!requests.ok()) return requests.status();
  auto plan = plan_sweep(std::move(*requests));
  if (!a.chosen) return plan;
  auto opt = supervisor_options(a.engine, a.iso);
  if (!opt.ok()) return opt.status();
  auto cost = [&o = *opt](const ProbeRequest& r) { return expected_probe_s(o, r.problem.flops()); };
  auto mine = shard_requests(plan, *a.chosen, cost);
  double all = 0, part = 0;
  for (const auto& r : plan) all += cost(r);
  for (const auto& r : mine) part += cost(r);
  fmt::print(stderr, "convguard: shard {}/{} ({}): {} of {} probes, {:.1f}% of the expected cost\n",
             a.chosen->index, a.chosen->count, a.shard.source, mine.size(), plan.size(),
             all > 0 ? 100 * part / all : 0.0);
  return mine;
}

nlohmann::json stored_options(const SweepArgs& a) {
  nlohmann::json j = a.engine_json();
  j["rerun"] = a.rerun;
  j["group"] = a.group;
  if (a.chosen) j["shard"] = fmt::format("{}/{}", a.chosen->index, a.chosen->count);
  return j;
}

// Restores what a resume needs from the run's stored options.
Status restore_options(const std::string& text, SweepArgs* a) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Status::Corrupt(fmt::format("the run's stored options are not JSON: {}", text));
  a->rerun = j.value("rerun", false);
  a->group = j.value("group", size_t{0});
  return a->restore_engine(j);
}

// One redrawn line on a terminal, JSON lines on stderr with --json, nothing otherwise.
class ProgressView {
 public:
  explicit ProgressView(bool json) : json_(json), tty_(::isatty(2) == 1) {}
  void update(const SweepProgress& p, bool force = false) {
    auto now = std::chrono::steady_clock::now();
    const double wait_s = json_ ? 1.0 : 0.1;
    if (!force && std::chrono::duration<double>(now - last_).count() < wait_s) return;
    last_ = now;
    if (json_) {
      nlohmann::json c = nlohmann::json::object();
      for (const auto& [o, n] : p.counts) c[to_string(o)] = n;
      fmt::print(stderr, "{}\n", nlohmann::json{{"progress", {{"done", p.done}, {"total", p.total},
                                                              {"counts", c}, {"rate", p.rate},
                                                              {"eta_s", p.eta_s}}}}
                                     .dump());
      return;
    }
    if (!tty_) return;
    std::string counts;
    for (const auto& [o, n] : p.counts) counts += fmt::format(" {} {}", to_string(o), n);
    fmt::print(stderr, "\r\033[K{}/{}{} | {:.0f}/s ETA {}", p.done, p.total, counts, p.rate,
               p.eta_s < 0 ? std::string("?") : fmt::format("{:.0f}s", p.eta_s));
    shown_ = true;
  }
  /// Clears the line before other output.
  void clear() {
    if (shown_) fmt::print(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  bool json_, tty_, shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

std::string describe_command(const SweepArgs& a) {
  std::string c = fmt::format("convguard sweep --db {} --engine {}", a.db, a.engine.spec.name);
  if (!a.engine.spec.base.empty()) c += " --base " + a.engine.spec.base;
  if (!a.engine.spec.quirks_path.empty()) c += " --quirks " + a.engine.spec.quirks_path;
  for (const auto& g : a.problems.grids) c += " --grid '" + g + "'";
  for (const auto& d : a.problems.descriptors) c += " " + d;
  for (const auto& b : a.problems.batches) c += " --batch " + b;
  for (const auto& d : a.problems.driver_cmds) c += " --driver-cmd '" + d + "'";
  if (a.chosen) c += fmt::format(" --shard {}/{}", a.chosen->index, a.chosen->count);
  return c;
}

// Builds the prober, creates or resumes the run, runs its plan and reports.
int sweep_run(SweepArgs& a, std::unique_ptr<Store> store, int64_t resume_run) {
  SweepOptions opt;
  opt.rerun = a.rerun;
  opt.retry_suspects = a.retry_suspects;
  opt.group_size = a.group;
  opt.stop = &g_stop;
  auto inner = make_isolated_prober(a.engine, a.iso);
  if (!inner.ok()) return report_error(inner.status());
  ProgressView view(a.json);
  opt.on_progress = [&view](const SweepProgress& p) { view.update(p); };
  Result<std::unique_ptr<StoreProber>> sp = Status::Invalid("unset");
  if (resume_run) {
    sp = StoreProber::resume(*store, **inner, resume_run, opt);
  } else {
    auto requests = sweep_requests(a, **inner);
    if (!requests.ok()) return report_error(requests.status());
    sp = StoreProber::create(*store, **inner, a.command, stored_options(a).dump(), opt, *requests);
  }
  if (!sp.ok()) return report_error(sp.status());
  seed_speed_from_store(**inner, *store, **sp);
  install_stop_handlers();
  ResultPrinter printer(a.json, false);
  Status s = (*sp)->run_plan([&](size_t, const ProbeResult& r) {
    view.clear();
    printer.print(r);
  });
  view.update((*sp)->progress(), true);
  view.clear();
  printer.finish();
  const SweepProgress& p = (*sp)->progress();
  if (p.suspects > 0)
    fmt::print(stderr, "convguard: {} suspect probe(s) were in flight when run {} died; "
               "re-run them one at a time with --resume --retry-suspects\n",
               p.suspects, (*sp)->run_id());
  if (!s.ok()) {
    (void)(*sp)->finish(RunStatus::failed);
    return report_error(s);
  }
  if ((*sp)->stopped()) {
    (void)(*sp)->finish(RunStatus::interrupted);
    fmt::print(stderr, "convguard: stopped after {}/{}; everything is saved. Go on with: "
               "convguard sweep --db {} --resume\n", p.done, p.total, a.db);
    return 130;
  }
  if (auto f = (*sp)->finish(RunStatus::done); !f.ok()) return report_error(f);
  std::vector<Outcome> all;
  for (const auto& [o, n] : p.counts) all.insert(all.end(), n, o);
  return exit_code_for(all);
}

// What a run measures comes from the run: these options are refused with --resume.
constexpr const char* kRunOptions[] = {
    "problems", "--batch",  "--driver-cmd", "--grid",      "--dir",    "--dt",         "--layout",
    "--mb",     "--algo",   "--engine",     "--base",      "--quirks", "--seed",       "--rerun",
    "--group",  "--warmup", "--repeats",    "--no-verify", "--shard",  "--shard-count"};

Status check_resume_options(const CLI::App& sub) {
  for (const char* name : kRunOptions)
    if (sub.count(name) > 0)
      return Status::Invalid(fmt::format(
          "invalid {} with --resume: the run keeps the problems, engine and measurement it "
          "started with; with --resume give --db, --run, --retry-suspects, --json, and the "
          "workers' --jobs, --devices, --timeout-* or --verbose",
          name));
  return Status::Ok();
}

// How the workers run (their number, devices, deadlines) may change on resume: a wedged
// device is found sooner with a short --timeout-init. Given options beat the stored ones.
void keep_given_worker_options(const CLI::App& sub, const IsolationArgs& given, IsolationArgs* a) {
  if (sub.count("--jobs")) a->jobs = given.jobs;
  if (sub.count("--devices")) a->devices = given.devices;
  if (sub.count("--timeout-init")) a->timeout_init = given.timeout_init;
  if (sub.count("--timeout-prepare")) a->timeout_prepare = given.timeout_prepare;
  if (sub.count("--timeout-exec")) a->timeout_exec = given.timeout_exec;
  if (sub.count("--timeout-verify")) a->timeout_verify = given.timeout_verify;
  a->verbose = given.verbose;
}

int sweep_main(SweepArgs& a, const CLI::App& sub) {
  // Bad options are found before the store is created or touched.
  if (auto s = a.resume ? check_resume_options(sub) : supervisor_options(a.engine, a.iso).status();
      !s.ok())
    return report_error(s);
  // A resumed run keeps the plan (its shard included) it started with.
  if (!a.resume) {
    auto shard = a.shard.resolve([](const char* name) { return std::getenv(name); });
    if (!shard.ok()) return report_error(shard.status());
    a.chosen = *shard;
  }
  a.command = describe_command(a);
  auto store = Store::open(a.db);
  if (!store.ok()) return report_error(store.status());
  int64_t run = 0;
  if (a.resume) {
    auto id = a.run ? Result<int64_t>(a.run) : latest_open_run(**store, a.retry_suspects);
    if (!id.ok()) return report_error(id.status());
    auto info = (*store)->get_run(*id);
    if (!info.ok()) return report_error(info.status());
    const IsolationArgs given = a.iso;
    if (auto s = restore_options(info->options_json, &a); !s.ok()) return report_error(s);
    keep_given_worker_options(sub, given, &a.iso);
    run = *id;
  }
  return sweep_run(a, std::move(*store), run);
}

}  // namespace

Command sweep_command() {
  return {"sweep",
          "Probe many problems in isolated workers, keeping every result in a store; "
          "--resume goes on after Ctrl-C, a kill or a frozen host",
          [](CLI::App& sub) -> std::function<int()> {
            auto a = std::make_shared<SweepArgs>();
            a->add_to(sub);
            sub.add_flag("--resume", a->resume, "go on with the latest unfinished sweep in --db");
            sub.add_option("--run", a->run, "with --resume: the run to go on with");
            sub.add_flag("--retry-suspects", a->retry_suspects,
                         "re-run probes that were in flight when a sweep died, one at a time");
            sub.add_option("--group", a->group,
                           "probes per durable in-flight mark (0: adaptive)")->capture_default_str();
            sub.add_flag("--json", a->json, "print JSON lines instead of a table");
            a->shard.add_to(sub);
            return [a, &sub] { return sweep_main(*a, sub); };
          }};
}

}  // namespace convguard::cli
