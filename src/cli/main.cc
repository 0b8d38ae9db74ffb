// convguard: find where GPU convolutions hang, crash or compute wrong results.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "cli/cli.h"

namespace {

using convguard::cli::Command;

/// The subcommands, in the order `--help` lists them.
std::vector<Command> command_table() {
  using namespace convguard::cli;
  return {run_command(),    probe_command(),    sweep_command(),  merge_command(),
          slurm_command(),  boundary_command(), shrink_command(), repro_command(),
          report_command(), profile_command(),  env_command(),    scan_command(),
          worker_command()};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"convguard: find where GPU convolutions hang, crash or compute wrong results,\n"
               "map the safe region, and route around it."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "convguard " CONVGUARD_VERSION);
  std::function<int()> action;
  for (const auto& cmd : command_table()) {
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.summary);
    auto run = cmd.setup(*sub);
    sub->callback([&action, run] { action = run; });
    if (std::string(cmd.name) == "worker") sub->group("");  // internal: hidden from --help
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : convguard::cli::kExitUsage;
  }
  if (!action) return convguard::cli::kExitUsage;
  // Library code returns statuses; an exception here is a bug, and still no abort (exit
  // 134) with a core dump but a message and the harness's exit code.
  try {
    return action();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "convguard: internal error: %s\n", e.what());
    return convguard::cli::kExitHarness;
  }
}
