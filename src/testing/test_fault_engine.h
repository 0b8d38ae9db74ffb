// Test-only: a fault engine over `ref` whose faults are chosen by the problem, so the
// supervisor's tests need no quirk file. Used by supervisor_test and isolation_soak_test,
// which re-execute themselves as workers (argv[1] == "--as-worker").
//
//   oc 7  hang in prepare           ic 5  SIGSEGV in execute
//   oc 9  hang in execute           ic 6  abort in execute
//   oc 11 hang in verify            ic 7  the worker exits (status 0) in prepare
//   oc 13 error status in execute   ic 9  garbage on the result pipe in execute
//   oc 15 wrong result
//   oc 17 hang in execute once the worker has executed 3 times
//   oc 19 wedge: creates the marker file, then hangs; while it exists, init() hangs
//   oc 21 device lost in execute
//   oc 23 with "hang-once:FILE": hangs in prepare if FILE is missing (creating it)
//   oc 25 with "hang-once:FILE": hangs in execute if FILE is missing (creating it)
//   oc 27 takes 0.4 s in prepare, then runs normally
// EngineSpec::quirks_path selects start-up faults: "init-hang-once:FILE" (hangs in the
// first init, the one that creates FILE), "init-slow-after-first:FILE" (every init but the
// first, which creates FILE, takes 3 s), "init-fail" (init returns an error),
// "wedge:FILE" (the marker of oc 19), "hang-once:FILE" (the marker of oc 23). Canary
// mode bypasses the problem's faults.
// Hangs sleep rather than spin: the effect on the supervisor is the same and the tests
// leave the CPU to others.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "convguard/cpu_engines.h"
#include "convguard/sim.h"
#include "convguard/worker.h"
#include "isolation/process.h"

namespace convguard::testing {

[[noreturn]] inline void hang_forever(const char* where) {
  std::fprintf(stderr, "fault: hang in %s\n", where);
  std::fflush(stderr);
  for (;;) ::pause();
}

inline bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

inline void touch(const std::string& path) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
}

class FaultPrepared : public Prepared {
 public:
  FaultPrepared(std::unique_ptr<Prepared> base, const Problem& p, bool canary, int64_t* execs,
                std::string wedge_file, std::string once_file)
      : base_(std::move(base)), p_(p), canary_(canary), execs_(execs),
        wedge_file_(std::move(wedge_file)), once_file_(std::move(once_file)) {}
  std::string algo() const override { return base_->algo(); }
  AlgoClass algo_class() const override {
    // run_probe asks for the class after announcing verify: a hang here is a verify hang.
    if (!canary_ && p_.oc == 11) hang_forever("verify");
    return base_->algo_class();
  }
  Result<double> execute(ConvTensors& t, const ExecOptions& opt) override {
    if (!canary_) {
      CG_RETURN_IF_ERROR(fault());
      ++*execs_;
    }
    auto r = base_->execute(t, opt);
    if (r.ok() && !canary_ && p_.oc == 15) t.dst[0] += 1000;
    return r;
  }

 private:
  Status fault() {
    if (p_.oc == 9 || (p_.oc == 17 && *execs_ >= 3)) hang_forever("execute");
    if (p_.oc == 19) {
      touch(wedge_file_);
      hang_forever("execute (wedging the device)");
    }
    if (p_.oc == 25 && !once_file_.empty() && !file_exists(once_file_)) {
      touch(once_file_);
      hang_forever("execute (once)");
    }
    if (p_.ic == 5) {
      std::fprintf(stderr, "fault: segfault in execute\n");
      std::fflush(stderr);
      std::raise(SIGSEGV);
    }
    if (p_.ic == 6) {
      std::fprintf(stderr, "fault: abort in execute\n");
      std::fflush(stderr);
      std::abort();
    }
    if (p_.ic == 9) {
      const char junk[] = "Segmentation fault (core dumped)\n";
      (void)!::write(kWorkerResultFd, junk, sizeof junk - 1);
    }
    if (p_.oc == 13) return Status::Error("fault: injected error status");
    if (p_.oc == 21) return Status::DeviceLost("fault: injected device loss");
    return Status::Ok();
  }

  std::unique_ptr<Prepared> base_;
  Problem p_;
  bool canary_;
  int64_t* execs_;
  std::string wedge_file_, once_file_;
};

class FaultEngine : public SimEngine {
 public:
  explicit FaultEngine(std::string mode) : base_(make_ref_engine()), mode_(std::move(mode)) {
    wedge_file_ = marker_of("wedge:");
    once_file_ = marker_of("hang-once:");
  }
  std::string name() const override { return "fault"; }
  std::string version() const override { return "fault over " + base_->version(); }
  Status init() override {
    if (!wedge_file_.empty() && file_exists(wedge_file_)) hang_forever("init (wedged)");
    if (mode_ == "init-fail") return Status::Unsupported("fault: no device here");
    if (const std::string marker = marker_of("init-slow-after-first:"); !marker.empty() && !started_) {
      if (file_exists(marker)) ::usleep(3000000);
      touch(marker);
    }
    started_ = true;
    if (const std::string marker = marker_of("init-hang-once:"); !marker.empty()) {
      if (!file_exists(marker)) {
        touch(marker);
        hang_forever("init");
      }
    }
    return base_->init();
  }
  std::vector<std::string> algorithms(const Problem& p) override {
    return base_->algorithms(p);
  }
  Result<std::unique_ptr<Prepared>> prepare(const Problem& p, const std::string& algo) override {
    if (!canary_ && p.oc == 7) hang_forever("prepare");
    if (!canary_ && p.ic == 7) std::_Exit(0);
    if (!canary_ && p.oc == 23 && !once_file_.empty() && !file_exists(once_file_)) {
      touch(once_file_);
      hang_forever("prepare (once)");
    }
    if (!canary_ && p.oc == 27) ::usleep(400000);
    auto b = base_->prepare(p, algo);
    if (!b.ok()) return b.status();
    return std::unique_ptr<Prepared>(
        std::make_unique<FaultPrepared>(std::move(*b), p, canary_, &execs_, wedge_file_, once_file_));
  }
  std::map<std::string, std::string> fingerprint() override {
    auto fp = base_->fingerprint();
    const char* dev = std::getenv("CUDA_VISIBLE_DEVICES");
    fp["CUDA_VISIBLE_DEVICES"] = dev ? dev : "";
    return fp;
  }
  void set_canary(bool on) override { canary_ = on; }
  bool canary() const override { return canary_; }
  int64_t executions() const override { return execs_; }
  const Quirks& quirks() const override { return quirks_; }

 private:
  /// The marker file a mode "PREFIX:FILE" names, or "" for another mode.
  std::string marker_of(std::string_view prefix) const {
    return mode_.starts_with(prefix) ? mode_.substr(prefix.size()) : std::string();
  }

  std::unique_ptr<Engine> base_;
  std::string mode_, wedge_file_, once_file_;
  bool started_ = false;  ///< init() ran once in this process
  bool canary_ = false;
  int64_t execs_ = 0;
  Quirks quirks_;
};

/// The workers' engine factory of the test binaries: "fault", "ref", "onednn", and "sim"
/// over ref with the spec's quirk file.
inline Result<std::unique_ptr<Engine>> make_test_engine(const EngineSpec& spec) {
  if (spec.name == "fault") return std::unique_ptr<Engine>(std::make_unique<FaultEngine>(spec.quirks_path));
  if (spec.name == "sim") return make_sim_engine(make_ref_engine(), spec.quirks_path, spec.seed);
  if (spec.name == "ref") return make_ref_engine();
  if (spec.name == "onednn") return make_onednn_engine();
  return Status::Invalid("invalid engine " + spec.name + " in the test worker");
}

/// main() of a test binary that re-executes itself as the supervisor's worker: with
/// "--as-worker" it serves probes on the child fds, otherwise it runs the tests.
inline int test_or_worker_main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--as-worker")
    return worker_main(kWorkerRequestFd, kWorkerResultFd, make_test_engine);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

}  // namespace convguard::testing
