// `convguard worker` (hidden): the isolated worker's entry point. The supervisor starts
// it with the protocol on descriptors 3 (requests) and 4 (results); the engine to build
// arrives in the hello message.
#include <memory>

#include "cli/cli.h"
#include "convguard/engine_registry.h"
#include "convguard/worker.h"

namespace convguard::cli {

Command worker_command() {
  return {"worker", "internal: serve probes for a supervisor (started by `probe`)",
          [](CLI::App& sub) -> std::function<int()> {
            auto fds = std::make_shared<std::pair<int, int>>(kWorkerRequestFd, kWorkerResultFd);
            sub.add_option("--fd-in", fds->first, "descriptor the requests arrive on");
            sub.add_option("--fd-out", fds->second, "descriptor the results go to");
            return [fds] { return worker_main(fds->first, fds->second, make_engine); };
          }};
}

}  // namespace convguard::cli
