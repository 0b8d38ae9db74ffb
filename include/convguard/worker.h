// The isolated worker: one engine, persistent, serving probe requests from the
// supervisor over the protocol in protocol.h until told to stop or the pipe closes.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "convguard/engine.h"
#include "convguard/probe.h"
#include "convguard/status.h"

namespace convguard {

/// The descriptors a worker reads requests from and writes results to; the supervisor
/// sets them up when it spawns the worker's command (SupervisorOptions::worker_argv).
inline constexpr int kWorkerRequestFd = 3;
inline constexpr int kWorkerResultFd = 4;

/// Serves one supervisor: reads hello from `in_fd`, reports phase init, builds the
/// engine with `factory` and initialises it, answers ready (or fatal), then runs
/// requests until stop or end of input. Probes go through run_probe with the CPU
/// reference of the engine under test (never the engine itself); each phase change is
/// written before the phase starts, so the supervisor's clock always knows the phase.
/// Canary probes run with the engine in canary mode (ProbeOptions::canary).
/// Asks the kernel to kill this process when its parent dies (a worker stuck in a hang
/// must not outlive the supervisor); an idle one sees end of input, a writing one dies
/// of SIGPIPE. Returns the process exit status: 0 after stop or
/// end of input, 2 on a protocol or engine start failure, 3 after a probe lost the
/// device (its result is sent first).
/// `factory` is usually make_engine (engine_registry.h); tests pass engines of their own.
/// A program that is its own worker (a supervisor re-executing its binary) calls
/// worker_main(kWorkerRequestFd, kWorkerResultFd, make_engine) when started as one.
/// `reference` builds the reference for the engine of the given name (default:
/// make_cpu_reference, inprocess.h).
using ReferenceFactory = std::function<std::unique_ptr<Reference>(const std::string& judged_engine)>;
int worker_main(int in_fd, int out_fd, const EngineFactory& factory,
                const ReferenceFactory& reference = {});

}  // namespace convguard
