// `convguard scan`: a PyTorch model's convolutions as a benchdnn batch file. The work is done by
// python/convguard/scan.py under the python3 that has the user's torch; this command finds that
// interpreter and the module, and hands every argument over unchanged.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "cli/cli.h"

namespace convguard::cli {
namespace {

namespace fs = std::filesystem;

/// $CONVGUARD_PYTHON, else the python3 beside this executable (a virtual environment's bin/,
/// where pip installed convguard), else python3 from PATH.
std::string python_interpreter(const std::string& self) {
  if (const char* p = std::getenv("CONVGUARD_PYTHON"); p && *p) return p;
  std::error_code ec;
  fs::path beside = fs::path(self).parent_path() / "python3";
  if (fs::exists(beside, ec)) return beside.string();
  return "python3";
}

/// Makes the source tree's python/ importable when this build runs from it; an installed
/// package is importable already.
void add_source_package_to_path() {
  std::error_code ec;
  fs::path dir = CONVGUARD_PYTHON_DIR;
  if (!fs::exists(dir / "convguard" / "scan.py", ec)) return;
  const char* old = std::getenv("PYTHONPATH");
  std::string value = old && *old ? fmt::format("{}:{}", dir.string(), old) : dir.string();
  ::setenv("PYTHONPATH", value.c_str(), 1);
}

int exec_scan(const std::vector<std::string>& args) {
  auto self = self_path();
  if (!self.ok()) return report_error(self.status());
  std::string python = python_interpreter(*self);
  add_source_package_to_path();
  std::vector<std::string> argv{python, "-m", "convguard.scan"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::fflush(stdout);
  ::execvp(cargv[0], cargv.data());
  fmt::print(stderr, "convguard scan: cannot run {} ({}); set CONVGUARD_PYTHON\n", python,
             std::strerror(errno));
  return kExitUsage;
}

}  // namespace

Command scan_command() {
  return {"scan", "list a PyTorch model's convolutions as a benchdnn batch file (scan --help)",
          [](CLI::App& sub) -> std::function<int()> {
            // Every argument, --help included, belongs to scan.py's own parser.
            sub.set_help_flag();
            sub.prefix_command();
            sub.allow_extras();
            return [&sub] { return exec_scan(sub.remaining()); };
          }};
}

}  // namespace convguard::cli
