// convguard-torch-worker: an isolated worker that can build the torch engine. The
// supervisor starts it instead of `convguard worker` for --engine torch (and sim over
// torch; see worker_argv_for in engine_registry.h), so that only these processes load libtorch.
// Its reference is make_torch_worker_reference: the system oneDNN cannot run beside libtorch.
#include "convguard/engine_registry.h"
#include "convguard/worker.h"
#include "engines/torch/torch_engine.h"

int main() {
  return convguard::worker_main(convguard::kWorkerRequestFd, convguard::kWorkerResultFd,
                                convguard::make_engine, convguard::make_torch_worker_reference);
}
