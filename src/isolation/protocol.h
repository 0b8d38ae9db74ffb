// The supervisor <-> worker protocol: length-prefixed JSON frames over pipes.
//
// A frame is an 8-byte header, the magic "CGP1" then the payload length as a 32-bit
// big-endian number, followed by the payload: one JSON object with a "t" field naming
// the message type. Anything else on the pipe (a library printing to the wrong
// descriptor, a torn write from a dying worker) is Code::kCorrupt, never a crash.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "convguard/engine.h"
#include "convguard/outcome.h"
#include "convguard/status.h"

namespace convguard {

inline constexpr char kFrameMagic[4] = {'C', 'G', 'P', '1'};
inline constexpr size_t kFrameHeaderBytes = 8;
/// Largest payload either side accepts; results and algorithm lists are far smaller.
inline constexpr size_t kMaxFrameBytes = 1 << 20;
/// Sent in hello; a worker of another version answers fatal.
inline constexpr int kProtocolVersion = 1;

enum class MsgType {
  // supervisor -> worker
  hello,            ///< version and engine spec; the worker builds and inits the engine
  probe,            ///< run one probe
  list_algorithms,  ///< algorithms for a problem
  fingerprint,      ///< the engine's fingerprint
  stop,             ///< finish and exit 0
  // worker -> supervisor
  ready,            ///< engine built and initialised: name and version
  phase,            ///< the current request entered `phase` (sent before entering it)
  result,           ///< a probe's result
  algorithms,       ///< reply to list_algorithms
  fingerprint_reply,
  fatal,            ///< the worker cannot go on (engine failed to build or init)
};
const char* to_string(MsgType t);

/// One message; only the fields of its type are encoded.
struct Message {
  MsgType type = MsgType::stop;
  uint64_t id = 0;  ///< request id; phase/result/algorithms/fingerprint_reply echo it
  int version = kProtocolVersion;  // hello
  EngineSpec spec;                 // hello
  std::string problem;             // probe, list_algorithms: to_string(Problem)
  std::string algo;                // probe
  bool verify = true;              // probe
  bool canary = false;             // probe: run on the base of a fault-injecting engine
  ExecOptions exec;                // probe
  uint64_t seed = 0;               // probe
  std::string engine, engine_version;  // ready
  Phase phase = Phase::init;           // phase
  ProbeResult result;                  // result
  std::vector<std::string> algos;      // algorithms
  std::map<std::string, std::string> fingerprint;  // fingerprint_reply
  Code code = Code::kOk;               // fatal; algorithms/fingerprint_reply on failure
  std::string message;                 // fatal, or the failure of a reply
};

/// The frame bytes for m (header + JSON payload).
std::string encode(const Message& m);
/// Parses one payload. Corrupt, naming the problem, for anything malformed.
Result<Message> decode_payload(std::string_view payload);

/// Reassembles frames from a byte stream. Once it reports corruption it stays corrupt.
class FrameReader {
 public:
  /// Appends bytes (tests, or a caller that reads itself).
  void feed(const char* data, size_t n);
  /// Reads everything `fd` holds now (non-blocking fd) or blocks for at least one read
  /// (blocking fd). Sets eof() at end of stream. Io on a read error.
  Status fill(int fd);
  /// The next complete message; nullopt when more bytes are needed. Corrupt on a bad
  /// magic, an oversized length, a bad payload, or (after EOF) a truncated frame.
  Result<std::optional<Message>> next();
  bool eof() const { return eof_; }

 private:
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  Status corrupt_;
};

/// What a write to a pipe whose reader is gone does.
enum class OnClosedPeer {
  kStatus,  ///< Io ("peer closed"), without SIGPIPE reaching the process (the supervisor)
  kSignal,  ///< the usual SIGPIPE: a worker whose supervisor is gone just dies (cheaper)
};

/// Writes m whole, waiting at most `timeout` for room in the pipe.
Status write_message(int fd, const Message& m,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(5000),
                     OnClosedPeer closed = OnClosedPeer::kStatus);
/// Blocks until one message arrives on a blocking fd. Io with message "eof" at a clean
/// end of stream; Corrupt on garbage.
Result<Message> read_message(int fd, FrameReader& reader);

}  // namespace convguard
