// Status and Result: the error currency of convguard's library code.
// Library code never exits; it returns a Status (or a Result<T>) and the CLI
// maps codes to exit codes (see docs/DESIGN.md: 2 invalid input, 3 harness cannot go on).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace convguard {

enum class Code {
  kOk,
  kInvalid,      ///< bad input from the user; the message names the field and the value
  kUnsupported,  ///< a library declines a problem/algorithm; not a bug
  kError,        ///< a library failed on something it accepted
  kDeviceLost,   ///< sticky device error: the process must not touch the device again
  kIo,           ///< file system or pipe failure
  kCorrupt,      ///< a store or message could not be read as written
};

/// Name of a code as printed in messages ("invalid", "unsupported", ...).
const char* code_name(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status Invalid(std::string m) { return {Code::kInvalid, std::move(m)}; }
  static Status Unsupported(std::string m) { return {Code::kUnsupported, std::move(m)}; }
  static Status Error(std::string m) { return {Code::kError, std::move(m)}; }
  static Status DeviceLost(std::string m) { return {Code::kDeviceLost, std::move(m)}; }
  static Status Io(std::string m) { return {Code::kIo, std::move(m)}; }
  static Status Corrupt(std::string m) { return {Code::kCorrupt, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  /// "ok" or "<code>: <message>".
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

/// A value or the Status that explains its absence. Never holds an ok Status.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status s) : v_(std::move(s)) {}     // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace convguard

/// Returns the Status of `expr` from the enclosing function when it is not ok: the one
/// way convguard passes an error up.
#define CG_RETURN_IF_ERROR(expr)                                                      \
  do {                                                                                \
    if (::convguard::Status cg_status_ = (expr); !cg_status_.ok()) return cg_status_; \
  } while (0)
