#include "isolation/protocol.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace convguard {
namespace {

Result<std::optional<Message>> feed_and_next(FrameReader& r, const std::string& bytes) {
  r.feed(bytes.data(), bytes.size());
  return r.next();
}

Message roundtrip(const Message& m) {
  FrameReader r;
  auto got = feed_and_next(r, encode(m));
  EXPECT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_TRUE(got.ok() && got->has_value());
  return got.ok() && got->has_value() ? **got : Message{};
}

TEST(Protocol, RoundTripsAProbeRequest) {
  Message m;
  m.type = MsgType::probe;
  m.id = 42;
  m.problem = "--dir=FWD_D --dt=f32 g1mb1ic4ih8iw8oc4oh6ow6kh3kw3sh1sw1ph0pw0dh0dw0";
  m.algo = "default";
  m.verify = false;
  m.canary = true;
  m.exec.warmup = 2;
  m.exec.repeats = 5;
  m.seed = 1ull << 60;
  Message got = roundtrip(m);
  EXPECT_EQ(got.type, MsgType::probe);
  EXPECT_EQ(got.id, 42u);
  EXPECT_EQ(got.problem, m.problem);
  EXPECT_EQ(got.algo, "default");
  EXPECT_FALSE(got.verify);
  EXPECT_TRUE(got.canary);
  EXPECT_EQ(got.exec.warmup, 2);
  EXPECT_EQ(got.exec.repeats, 5);
  EXPECT_EQ(got.seed, 1ull << 60);
}

TEST(Protocol, RoundTripsHelloReadyPhaseAndFatal) {
  Message hello;
  hello.type = MsgType::hello;
  hello.spec = {"sim", "onednn", "quirks/x.json", 7};
  Message got = roundtrip(hello);
  EXPECT_EQ(got.version, kProtocolVersion);
  EXPECT_EQ(got.spec.name, "sim");
  EXPECT_EQ(got.spec.base, "onednn");
  EXPECT_EQ(got.spec.quirks_path, "quirks/x.json");
  EXPECT_EQ(got.spec.seed, 7u);

  Message ready;
  ready.type = MsgType::ready;
  ready.engine = "onednn";
  ready.engine_version = "oneDNN 3.0";
  got = roundtrip(ready);
  EXPECT_EQ(got.engine, "onednn");
  EXPECT_EQ(got.engine_version, "oneDNN 3.0");

  Message phase;
  phase.type = MsgType::phase;
  phase.id = 3;
  phase.phase = Phase::verify;
  EXPECT_EQ(roundtrip(phase).phase, Phase::verify);

  Message fatal;
  fatal.type = MsgType::fatal;
  fatal.code = Code::kUnsupported;
  fatal.message = "no GPU";
  got = roundtrip(fatal);
  EXPECT_EQ(got.code, Code::kUnsupported);
  EXPECT_EQ(got.message, "no GPU");
}

TEST(Protocol, RoundTripsResultsAlgorithmsAndFingerprints) {
  Message res;
  res.type = MsgType::result;
  res.result.problem = "--dir=FWD_D --dt=f32 g1mb1ic4ih8iw8oc4oh8ow8kh3kw3sh1sw1ph1pw1dh0dw0";
  res.result.engine = "ref";
  res.result.algo = "direct";
  res.result.outcome = Outcome::wrong;
  res.result.phase = Phase::verify;
  res.result.max_rel_err = 0.5;
  res.result.message = "dst[0]=1 ref=2\n\"quoted\"";
  Message got = roundtrip(res);
  EXPECT_EQ(got.result.outcome, Outcome::wrong);
  EXPECT_EQ(got.result.phase, Phase::verify);
  EXPECT_EQ(got.result.message, res.result.message);

  Message algos;
  algos.type = MsgType::algorithms;
  algos.algos = {"default", "gemm", "winograd"};
  EXPECT_EQ(roundtrip(algos).algos, algos.algos);

  Message fp;
  fp.type = MsgType::fingerprint_reply;
  fp.fingerprint = {{"device", "cpu"}, {"library", "oneDNN 3"}};
  EXPECT_EQ(roundtrip(fp).fingerprint, fp.fingerprint);
}

TEST(Protocol, ReassemblesFramesFedByteByByte) {
  Message a, b;
  a.type = MsgType::phase;
  a.phase = Phase::prepare;
  b.type = MsgType::stop;
  std::string bytes = encode(a) + encode(b);
  FrameReader r;
  std::vector<MsgType> seen;
  for (char c : bytes) {
    r.feed(&c, 1);
    auto m = r.next();
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    if (m->has_value()) seen.push_back((*m)->type);
  }
  EXPECT_EQ(seen, (std::vector<MsgType>{MsgType::phase, MsgType::stop}));
}

TEST(Protocol, GarbageIsCorruptAtOnce) {
  FrameReader r;
  auto m = feed_and_next(r, "Segmentation fault");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kCorrupt);
  EXPECT_NE(m.status().message().find("bad frame magic"), std::string::npos);
  // Sticky: a valid frame after garbage does not resynchronise.
  Message stop;
  EXPECT_FALSE(feed_and_next(r, encode(stop)).ok());
}

TEST(Protocol, PhaseMessagesInAnyJsonSpellingAreRead) {
  std::string payload = "{ \"id\": 3, \"phase\": \"execute\", \"t\": \"phase\" }";
  auto m = decode_payload(payload);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->type, MsgType::phase);
  EXPECT_EQ(m->id, 3u);
  EXPECT_EQ(m->phase, Phase::execute);
  EXPECT_FALSE(decode_payload("{\"t\":\"phase\",\"id\":3,\"phase\":\"nap\"}").ok());
  EXPECT_FALSE(decode_payload("{\"t\":\"phase\",\"id\":,\"phase\":\"execute\"}").ok());
}

TEST(Protocol, OversizedFrameIsCorrupt) {
  FrameReader r;
  std::string header(kFrameMagic, 4);
  header += std::string("\x7f\xff\xff\xff", 4);
  auto m = feed_and_next(r, header);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kCorrupt);
  EXPECT_NE(m.status().message().find("exceeds the limit"), std::string::npos);
}

TEST(Protocol, BadPayloadsAreCorrupt) {
  auto frame = [](const std::string& payload) {
    std::string f(kFrameMagic, 4);
    uint32_t n = static_cast<uint32_t>(payload.size());
    for (int s : {24, 16, 8, 0}) f.push_back(static_cast<char>((n >> s) & 0xff));
    return f + payload;
  };
  for (std::string payload :
       {"{not json", "[1,2]", "{\"t\":\"explode\",\"id\":1}", "{\"t\":\"phase\",\"id\":1}",
        "{\"t\":\"phase\",\"id\":1,\"phase\":\"dance\"}", "{\"t\":\"probe\",\"id\":\"x\"}",
        "{\"t\":\"result\",\"id\":1,\"result\":{\"problem\":1}}",
        "{\"t\":\"result\",\"id\":1,\"result\":{\"problem\":\"p\",\"dir\":\"FWD_D\",\"dt\":"
        "\"f32\",\"engine\":\"e\",\"algo\":\"a\",\"outcome\":\"ok\",\"phase\":\"init\","
        "\"time_ms\":\"slow\"}}"}) {
    FrameReader r;
    auto m = feed_and_next(r, frame(payload));
    ASSERT_FALSE(m.ok()) << payload;
    EXPECT_EQ(m.status().code(), Code::kCorrupt) << payload;
  }
}

TEST(Protocol, TruncatedFrameAtEndOfStreamIsCorrupt) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  Message m;
  m.type = MsgType::ready;
  std::string f = encode(m);
  ASSERT_EQ(::write(fds[1], f.data(), f.size() - 3), static_cast<ssize_t>(f.size() - 3));
  ::close(fds[1]);
  FrameReader r;
  auto got = read_message(fds[0], r);
  ::close(fds[0]);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kCorrupt);
  EXPECT_NE(got.status().message().find("truncated"), std::string::npos);
}

TEST(Protocol, CleanEndOfStreamIsEof) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  Message m;
  m.type = MsgType::stop;
  ASSERT_TRUE(write_message(fds[1], m).ok());
  ::close(fds[1]);
  FrameReader r;
  auto first = read_message(fds[0], r);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->type, MsgType::stop);
  auto second = read_message(fds[0], r);
  ::close(fds[0]);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kIo);
  EXPECT_EQ(second.status().message(), "eof");
}

TEST(Protocol, WritingToAClosedPipeIsIoNotSigpipe) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  Message m;
  m.type = MsgType::stop;
  Status s = write_message(fds[1], m);
  ::close(fds[1]);
  EXPECT_EQ(s.code(), Code::kIo);
}

TEST(Protocol, WriteToAFullPipeTimesOut) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK), 0);
  Message m;
  m.type = MsgType::fatal;
  m.message = std::string(100000, 'x');  // larger than a pipe's buffer
  Status s = write_message(fds[1], m, std::chrono::milliseconds(50));
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_EQ(s.code(), Code::kIo);
}

}  // namespace
}  // namespace convguard
