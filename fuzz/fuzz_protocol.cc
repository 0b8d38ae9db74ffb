// libFuzzer: the worker protocol's byte stream (frames and their JSON payloads), as the
// supervisor reads it from a worker that may write anything. A decoded message encodes
// to a frame that decodes again.
#include <cstdint>
#include <cstdlib>

#include "isolation/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace convguard;
  FrameReader reader;
  // Two feeds: frames split across reads must reassemble.
  const size_t half = size / 2;
  reader.feed(reinterpret_cast<const char*>(data), half);
  reader.feed(reinterpret_cast<const char*>(data) + half, size - half);
  for (int i = 0; i < 64; ++i) {
    auto m = reader.next();
    if (!m.ok() || !m->has_value()) break;
    FrameReader again;
    const std::string frame = encode(**m);
    again.feed(frame.data(), frame.size());
    auto back = again.next();
    if (!back.ok() || !back->has_value()) std::abort();
  }
  return 0;
}
