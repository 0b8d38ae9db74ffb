#include "convguard/status.h"

namespace convguard {

const char* code_name(Code c) {
  switch (c) {
    case Code::kOk: return "ok";
    case Code::kInvalid: return "invalid";
    case Code::kUnsupported: return "unsupported";
    case Code::kError: return "error";
    case Code::kDeviceLost: return "device lost";
    case Code::kIo: return "io";
    case Code::kCorrupt: return "corrupt";
  }
  return "?";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(code_name(code_)) + ": " + message_;
}

}  // namespace convguard
