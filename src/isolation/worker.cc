#include "convguard/worker.h"

#include <sys/prctl.h>

#include <csignal>

#include "convguard/inprocess.h"
#include "convguard/probe.h"
#include "isolation/protocol.h"

namespace convguard {
namespace {

constexpr int kExitProtocol = 2, kExitDeviceLost = 3;

class Worker {
 public:
  Worker(int in_fd, int out_fd, ReferenceFactory make_reference)
      : in_(in_fd), out_(out_fd), make_reference_(std::move(make_reference)) {}

  int serve(const EngineFactory& factory);

 private:
  Status send(Message m) {
    return write_message(out_, m, std::chrono::hours(1), OnClosedPeer::kSignal);
  }
  Status send_phase(uint64_t id, Phase ph);
  int fatal(Code code, const std::string& message);
  int start(const EngineFactory& factory);
  /// Handles one request; returns an exit status to stop with, or -1 to go on.
  int handle(const Message& req);
  int probe(const Message& req);
  Status list_algorithms(const Message& req);

  int in_, out_;
  ReferenceFactory make_reference_;
  FrameReader reader_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Reference> reference_;
};

Status Worker::send_phase(uint64_t id, Phase ph) {
  Message m;
  m.type = MsgType::phase;
  m.id = id;
  m.phase = ph;
  return send(std::move(m));
}

int Worker::fatal(Code code, const std::string& message) {
  Message m;
  m.type = MsgType::fatal;
  m.code = code == Code::kOk ? Code::kError : code;
  m.message = message;
  (void)send(std::move(m));
  return kExitProtocol;
}

int Worker::start(const EngineFactory& factory) {
  auto hello = read_message(in_, reader_);
  if (!hello.ok()) return kExitProtocol;  // nobody to tell
  if (hello->type != MsgType::hello)
    return fatal(Code::kCorrupt, std::string("expected hello, got ") + to_string(hello->type));
  if (hello->version != kProtocolVersion)
    return fatal(Code::kCorrupt, "protocol version " + std::to_string(hello->version) +
                                     " is not this worker's " +
                                     std::to_string(kProtocolVersion));
  if (!send_phase(0, Phase::init).ok()) return kExitProtocol;
  auto engine = factory(hello->spec);
  if (!engine.ok()) return fatal(engine.status().code(), engine.status().message());
  engine_ = std::move(*engine);
  if (Status s = engine_->init(); !s.ok())
    return fatal(s.code(), engine_->name() + " init: " + s.message());
  reference_ = make_reference_(engine_->name());
  Message ready;
  ready.type = MsgType::ready;
  ready.engine = engine_->name();
  ready.engine_version = engine_->version();
  return send(std::move(ready)).ok() ? -1 : kExitProtocol;
}

int Worker::probe(const Message& req) {
  ProbeOptions opt;
  opt.verify = req.verify;
  opt.exec = req.exec;
  opt.seed = req.seed;
  Message out;
  out.type = MsgType::result;
  out.id = req.id;
  bool lost = false, broken = false;
  auto p = parse_problem(req.problem);
  if (!p.ok()) {
    out.result.problem = req.problem;
    out.result.engine = engine_->name();
    out.result.algo = req.algo;
    out.result.outcome = Outcome::invalid;
    out.result.message = p.status().message();
  } else {
    // The engine is initialised before ready, so the supervisor's clock already counts
    // init from dispatch; announcing init again would cost a message per probe.
    auto on_phase = [&](Phase ph) {
      if (ph != Phase::init && !broken) broken = !send_phase(req.id, ph).ok();
    };
    opt.canary = req.canary;
    out.result = run_probe(*engine_, *p, req.algo, reference_.get(), opt, on_phase, &lost);
  }
  if (broken || !send(std::move(out)).ok()) return kExitProtocol;
  return lost ? kExitDeviceLost : -1;
}

Status Worker::list_algorithms(const Message& req) {
  Message out;
  out.type = MsgType::algorithms;
  out.id = req.id;
  auto p = parse_problem(req.problem);
  if (p.ok()) {
    out.algos = engine_->algorithms(*p);
  } else {
    out.code = p.status().code();
    out.message = p.status().message();
  }
  return send(std::move(out));
}

int Worker::handle(const Message& req) {
  switch (req.type) {
    case MsgType::probe: return probe(req);
    case MsgType::list_algorithms: return list_algorithms(req).ok() ? -1 : kExitProtocol;
    case MsgType::fingerprint: {
      Message out;
      out.type = MsgType::fingerprint_reply;
      out.id = req.id;
      out.fingerprint = engine_->fingerprint();
      return send(std::move(out)).ok() ? -1 : kExitProtocol;
    }
    case MsgType::stop: return 0;
    default:
      return fatal(Code::kCorrupt, std::string("unexpected request ") + to_string(req.type));
  }
}

int Worker::serve(const EngineFactory& factory) {
  if (int rc = start(factory); rc >= 0) return rc;
  for (;;) {
    auto req = read_message(in_, reader_);
    if (!req.ok()) {
      if (req.status().code() == Code::kIo && req.status().message() == "eof") return 0;
      return fatal(req.status().code(), "bad request: " + req.status().message());
    }
    if (int rc = handle(*req); rc >= 0) return rc;
  }
}

}  // namespace

int worker_main(int in_fd, int out_fd, const EngineFactory& factory,
                const ReferenceFactory& reference) {
  // A worker stuck in a hang never reads its pipe again, so it would not notice the
  // supervisor's death; the kernel kills it instead.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  Worker w(in_fd, out_fd, reference ? reference : ReferenceFactory(make_cpu_reference));
  return w.serve(factory);
}

}  // namespace convguard
