// `convguard repro`: a stored probe as a benchdnn line, a MIOpenDriver command, a PyTorch
// script or a `convguard probe` command.
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "search/repro.h"
#include "convguard/store.h"

namespace convguard::cli {
namespace {

struct ReproArgs {
  std::string db, as = "convguard";
  int64_t probe = 0;
  std::string base, quirks;
  uint64_t seed = 0;
  bool json = false;
};

int repro_main(const ReproArgs& a) {
  auto form = parse_repro_form(a.as);
  if (!form.ok()) return report_error(form.status());
  auto store = Store::open(a.db, Store::Mode::read_only);
  if (!store.ok()) return report_error(store.status());
  auto sp = (*store)->get_probe(a.probe);
  if (!sp.ok()) return report_error(sp.status());
  ReproContext ctx;
  if (auto run = (*store)->get_run(sp->run_id); run.ok())
    ctx = repro_context_from_run(run->options_json, run->command);
  if (!a.base.empty()) ctx.base = a.base;
  if (!a.quirks.empty()) ctx.quirks_path = a.quirks;
  if (a.seed != 0) ctx.seed = a.seed;
  auto p = problem_of(sp->result);
  if (!p.ok()) return report_error(p.status());
  const std::string text = repro(*form, *p, sp->result, ctx);
  if (a.json)
    fmt::print("{}\n", nlohmann::json{{"probe", a.probe}, {"as", to_string(*form)},
                                      {"outcome", to_string(sp->result.outcome)}, {"repro", text}}
                           .dump());
  else
    fmt::print("{}{}", text, text.empty() || text.back() != '\n' ? "\n" : "");
  return kExitOk;
}

}  // namespace

Command repro_command() {
  return {"repro",
          "Print a stored probe as a benchdnn line, MIOpenDriver command, PyTorch script "
          "or convguard command",
          [](CLI::App& sub) -> std::function<int()> {
            auto a = std::make_shared<ReproArgs>();
            sub.add_option("--db", a->db, "the store (SQLite file)")->required();
            sub.add_option("--probe", a->probe, "stored probe id (see report --format json)")
                ->required();
            sub.add_option("--as", a->as, "benchdnn, miopen, torch or convguard")
                ->capture_default_str();
            sub.add_option("--base", a->base, "override the sim engine's base stored with the run");
            sub.add_option("--quirks", a->quirks, "override the quirk file stored with the run");
            sub.add_option("--seed", a->seed, "override the sim seed stored with the run");
            sub.add_flag("--json", a->json, "one JSON object with the text");
            return [a] { return repro_main(*a); };
          }};
}

}  // namespace convguard::cli
