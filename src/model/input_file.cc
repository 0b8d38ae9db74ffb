#include "model/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace convguard {
namespace {

constexpr off_t kMaxInputBytes = off_t{1} << 30;

Status invalid(std::string_view what, const std::string& path, std::string_view why) {
  return Status::Invalid(fmt::format("{} {}: {}", what, path, why));
}

}  // namespace

Result<std::string> read_input_file(const std::string& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return invalid(what, path, std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return invalid(what, path, "is a directory");
  // A FIFO would block the open (or the read) until a writer comes.
  if (!S_ISREG(st.st_mode)) return invalid(what, path, "not a regular file");
  if (st.st_size > kMaxInputBytes) return invalid(what, path, "larger than 1 GiB");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return invalid(what, path, std::strerror(errno));
  std::string text;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return invalid(what, path, std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (static_cast<off_t>(text.size()) > kMaxInputBytes) {
      ::close(fd);
      return invalid(what, path, "larger than 1 GiB");
    }
  }
  ::close(fd);
  return text;
}

Status check_output_path(const std::string& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return invalid(what, path, "is a directory");
  return Status::Ok();
}

}  // namespace convguard
