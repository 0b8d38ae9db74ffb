#include "isolation/protocol.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include <nlohmann/json.hpp>

namespace convguard {
namespace {

using nlohmann::json;

constexpr std::array kTypeNames = {"hello",  "probe",  "list_algorithms", "fingerprint",
                                   "stop",   "ready",  "phase",           "result",
                                   "algorithms", "fingerprint_reply", "fatal"};

Result<MsgType> parse_type(const std::string& s) {
  for (size_t i = 0; i < kTypeNames.size(); ++i)
    if (s == kTypeNames[i]) return static_cast<MsgType>(i);
  return Status::Corrupt("unknown message type \"" + s + "\"");
}

json spec_json(const EngineSpec& s) {
  return {{"name", s.name}, {"base", s.base}, {"quirks", s.quirks_path}, {"seed", s.seed}};
}

EngineSpec spec_from(const json& j) {
  return {j.at("name").get<std::string>(), j.at("base").get<std::string>(),
          j.at("quirks").get<std::string>(), j.at("seed").get<uint64_t>()};
}

void put_body(const Message& m, json& j) {
  switch (m.type) {
    case MsgType::hello:
      j["version"] = m.version;
      j["spec"] = spec_json(m.spec);
      break;
    case MsgType::probe:
      j.update({{"problem", m.problem}, {"algo", m.algo}, {"verify", m.verify},
                {"canary", m.canary}, {"warmup", m.exec.warmup}, {"repeats", m.exec.repeats},
                {"seed", m.seed}});
      break;
    case MsgType::list_algorithms: j["problem"] = m.problem; break;
    case MsgType::ready:
      j["engine"] = m.engine;
      j["engine_version"] = m.engine_version;
      break;
    case MsgType::phase: j["phase"] = to_string(m.phase); break;
    case MsgType::result: j["result"] = to_json(m.result); break;
    case MsgType::algorithms: j["algos"] = m.algos; break;
    case MsgType::fingerprint_reply: j["fingerprint"] = m.fingerprint; break;
    case MsgType::fingerprint:
    case MsgType::stop:
    case MsgType::fatal: break;
  }
  if (m.code != Code::kOk || m.type == MsgType::fatal) {
    j["code"] = static_cast<int>(m.code);
    j["message"] = m.message;
  }
}

// Reads the type's fields; nlohmann's exceptions for missing or mistyped fields are
// caught by the caller.
Status get_body(const json& j, Message& m) {
  switch (m.type) {
    case MsgType::hello:
      m.version = j.at("version").get<int>();
      m.spec = spec_from(j.at("spec"));
      break;
    case MsgType::probe:
      m.problem = j.at("problem").get<std::string>();
      m.algo = j.at("algo").get<std::string>();
      m.verify = j.at("verify").get<bool>();
      m.canary = j.at("canary").get<bool>();
      m.exec.warmup = j.at("warmup").get<int>();
      m.exec.repeats = j.at("repeats").get<int>();
      m.seed = j.at("seed").get<uint64_t>();
      break;
    case MsgType::list_algorithms: m.problem = j.at("problem").get<std::string>(); break;
    case MsgType::ready:
      m.engine = j.at("engine").get<std::string>();
      m.engine_version = j.at("engine_version").get<std::string>();
      break;
    case MsgType::phase: {
      auto p = parse_phase(j.at("phase").get<std::string>());
      if (!p.ok()) return Status::Corrupt(p.status().message());
      m.phase = *p;
      break;
    }
    case MsgType::result: {
      auto r = probe_result_from_json(j.at("result"));
      if (!r.ok()) return Status::Corrupt("bad result: " + r.status().message());
      m.result = std::move(*r);
      break;
    }
    case MsgType::algorithms: m.algos = j.at("algos").get<std::vector<std::string>>(); break;
    case MsgType::fingerprint_reply:
      m.fingerprint = j.at("fingerprint").get<std::map<std::string, std::string>>();
      break;
    case MsgType::fingerprint:
    case MsgType::stop:
    case MsgType::fatal: break;
  }
  if (j.contains("code")) {
    int c = j.at("code").get<int>();
    if (c < 0 || c > static_cast<int>(Code::kCorrupt)) return Status::Corrupt("bad code");
    m.code = static_cast<Code>(c);
    m.message = j.at("message").get<std::string>();
  }
  return Status::Ok();
}

uint32_t read_be32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

// write() that reports EPIPE instead of raising SIGPIPE: the signal is blocked for this
// thread during the write and a SIGPIPE it generated is consumed before unblocking.
ssize_t write_no_sigpipe(int fd, const char* data, size_t n) {
  sigset_t pipe_set, old, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE);
  ssize_t w = ::write(fd, data, n);
  int err = errno;
  if (w < 0 && err == EPIPE && !was_pending) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return w;
}

const char* type_name(MsgType t) { return kTypeNames[static_cast<size_t>(t)]; }


// Phase messages are most of the traffic (three per probe): written and read without
// building a JSON tree. The text is still ordinary JSON.
std::string phase_payload(const Message& m) {
  char buf[96];
  int n = std::snprintf(buf, sizeof buf, "{\"t\":\"phase\",\"id\":%llu,\"phase\":\"%s\"}",
                        static_cast<unsigned long long>(m.id), to_string(m.phase));
  return std::string(buf, static_cast<size_t>(n));
}

// Recognises exactly what phase_payload writes; anything else takes the general path.
std::optional<Message> fast_phase(std::string_view payload) {
  constexpr std::string_view head = "{\"t\":\"phase\",\"id\":";
  if (payload.substr(0, head.size()) != head) return std::nullopt;
  size_t i = head.size();
  uint64_t id = 0;
  size_t digits = 0;
  for (; i < payload.size() && payload[i] >= '0' && payload[i] <= '9' && digits < 19; ++i, ++digits)
    id = id * 10 + static_cast<uint64_t>(payload[i] - '0');
  constexpr std::string_view mid = ",\"phase\":\"";
  if (digits == 0 || payload.substr(i, mid.size()) != mid) return std::nullopt;
  i += mid.size();
  size_t end = payload.find('"', i);
  if (end == std::string_view::npos || payload.substr(end) != "\"}") return std::nullopt;
  auto ph = parse_phase(payload.substr(i, end - i));
  if (!ph.ok()) return std::nullopt;
  Message m;
  m.type = MsgType::phase;
  m.id = id;
  m.phase = *ph;
  return m;
}

}  // namespace

std::string encode(const Message& m) {
  std::string payload;
  if (m.type == MsgType::phase && m.code == Code::kOk) {
    payload = phase_payload(m);
  } else {
    json j = {{"t", type_name(m.type)}, {"id", m.id}};
    put_body(m, j);
    payload = j.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  std::string frame(kFrameMagic, 4);
  uint32_t n = static_cast<uint32_t>(payload.size());
  for (int shift : {24, 16, 8, 0}) frame.push_back(static_cast<char>((n >> shift) & 0xff));
  return frame + payload;
}

const char* to_string(MsgType t) { return type_name(t); }

Result<Message> decode_payload(std::string_view payload) {
  if (auto m = fast_phase(payload)) return std::move(*m);
  json j = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Corrupt("payload is not a JSON object");
  try {
    auto type = parse_type(j.at("t").get<std::string>());
    if (!type.ok()) return type.status();
    Message m;
    m.type = *type;
    m.id = j.at("id").get<uint64_t>();
    CG_RETURN_IF_ERROR(get_body(j, m));
    return m;
  } catch (const json::exception& e) {
    return Status::Corrupt(std::string("bad message: ") + e.what());
  }
}

void FrameReader::feed(const char* data, size_t n) {
  // Compact before growing so a long-lived reader stays small.
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 65536) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(data, n);
}

Status FrameReader::fill(int fd) {
  // One read per call: on a blocking descriptor a second read could wait for bytes the
  // peer will only send after our reply. poll() brings a caller back for the rest.
  char chunk[65536];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n > 0) {
      feed(chunk, static_cast<size_t>(n));
      return Status::Ok();
    }
    if (n == 0) {
      eof_ = true;
      return Status::Ok();
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Ok();
    if (errno != EINTR) return Status::Io(std::string("read: ") + std::strerror(errno));
  }
}

Result<std::optional<Message>> FrameReader::next() {
  if (!corrupt_.ok()) return corrupt_;
  size_t avail = buf_.size() - pos_;
  const char* p = buf_.data() + pos_;
  // Check the magic as soon as its bytes arrive, so garbage is caught without waiting.
  if (std::memcmp(p, kFrameMagic, std::min<size_t>(avail, 4)) != 0) {
    std::string head(p, std::min<size_t>(avail, 16));
    for (char& c : head)
      if (c < 32 || c > 126) c = '.';
    return corrupt_ = Status::Corrupt("bad frame magic (\"" + head + "\")");
  }
  if (avail >= kFrameHeaderBytes) {
    uint32_t len = read_be32(p + 4);
    if (len > kMaxFrameBytes)
      return corrupt_ = Status::Corrupt("frame of " + std::to_string(len) +
                                        " bytes exceeds the limit of " +
                                        std::to_string(kMaxFrameBytes));
    if (avail >= kFrameHeaderBytes + len) {
      auto m = decode_payload(std::string_view(p + kFrameHeaderBytes, len));
      if (!m.ok()) return corrupt_ = m.status();
      pos_ += kFrameHeaderBytes + len;
      return std::optional<Message>(std::move(*m));
    }
  }
  if (eof_ && avail > 0)
    return corrupt_ = Status::Corrupt("truncated frame: stream ended after " +
                                      std::to_string(avail) + " bytes of a frame");
  return std::optional<Message>();
}

Status write_message(int fd, const Message& m, std::chrono::milliseconds timeout,
                     OnClosedPeer closed) {
  std::string frame = encode(m);
  if (frame.size() - kFrameHeaderBytes > kMaxFrameBytes)
    return Status::Invalid("message too large to send: " + std::to_string(frame.size()));
  auto end = std::chrono::steady_clock::now() + timeout;
  size_t off = 0;
  while (off < frame.size()) {
    // Guarding against SIGPIPE costs three system calls per write.
    ssize_t w = closed == OnClosedPeer::kStatus
                    ? write_no_sigpipe(fd, frame.data() + off, frame.size() - off)
                    : ::write(fd, frame.data() + off, frame.size() - off);
    if (w > 0) {
      off += static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EPIPE) return Status::Io("peer closed the pipe");
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
      return Status::Io(std::string("write: ") + std::strerror(errno));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::Io("write timed out: the peer is not reading");
    struct pollfd pfd = {fd, POLLOUT, 0};
    ::poll(&pfd, 1, static_cast<int>(left.count()));
  }
  return Status::Ok();
}

Result<Message> read_message(int fd, FrameReader& reader) {
  for (;;) {
    auto m = reader.next();
    if (!m.ok()) return m.status();
    if (m->has_value()) return std::move(**m);
    if (reader.eof()) return Status::Io("eof");
    CG_RETURN_IF_ERROR(reader.fill(fd));
  }
}

}  // namespace convguard
