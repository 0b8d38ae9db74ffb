#include "store/sweep_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace convguard {
namespace {

// Lines: "G <group> <reports 0|1>", "S <group> <index>", "R <group> <index> <result JSON>".
bool parse_line(const std::string& line, SweepJournal::Contents* c) {
  std::istringstream in(line);
  char kind = 0;
  int64_t group = 0, second = 0;
  if (!(in >> kind >> group >> second)) return false;
  if (kind == 'G') {
    c->handed[group] = second != 0;
    return true;
  }
  if (kind == 'S') {
    c->started.emplace(group, second);
    return true;
  }
  if (kind != 'R') return false;
  std::string rest;
  std::getline(in, rest);
  auto j = nlohmann::json::parse(rest, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("r") || !j.contains("d")) return false;
  try {
    auto r = probe_result_from_json(j["r"]);
    const auto d = j["d"].get<std::vector<std::string>>();
    if (!r.ok() || d.size() != 3) return false;
    r->time_ms = std::strtod(d[0].c_str(), nullptr);
    r->max_rel_err = std::strtod(d[1].c_str(), nullptr);
    r->wall_ms = std::strtod(d[2].c_str(), nullptr);
    c->results[{group, second}] = std::move(*r);
  } catch (const nlohmann::json::exception&) {
    return false;  // not a line this code wrote
  }
  return true;
}

// The result as JSON, with its doubles as text: JSON has no inf or NaN, and a wrong
// result's error may be either.
std::string result_json(const ProbeResult& r) {
  nlohmann::json body = to_json(r);
  for (const char* k : {"time_ms", "max_rel_err", "wall_ms"}) body.erase(k);
  nlohmann::json j = {{"r", std::move(body)},
                      {"d", {fmt::format("{}", r.time_ms), fmt::format("{}", r.max_rel_err),
                             fmt::format("{}", r.wall_ms)}}};
  // Worker stderr need not be UTF-8; replacing bad bytes beats throwing here.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string SweepJournal::path_for(const std::string& db_path, int64_t run_id) {
  return fmt::format("{}.run{}.journal", db_path, run_id);
}

Result<SweepJournal::Contents> SweepJournal::read(const std::string& path) {
  Contents c;
  std::ifstream in(path);
  if (!in) {
    if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return c;
    return Status::Io(fmt::format("cannot read the sweep journal {}: {}", path, strerror(errno)));
  }
  c.present = true;
  // A process killed inside write() leaves at most a torn last line; it is skipped.
  for (std::string line; std::getline(in, line);) (void)parse_line(line, &c);
  return c;
}

Result<SweepJournal> SweepJournal::open_empty(const std::string& path) {
  SweepJournal j;
  j.path_ = path;
  j.fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (j.fd_ < 0)
    return Status::Io(fmt::format("cannot create the sweep journal {}: {}", path, strerror(errno)));
  return j;
}

SweepJournal::SweepJournal(SweepJournal&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)) {}

SweepJournal& SweepJournal::operator=(SweepJournal&& o) noexcept {
  std::swap(fd_, o.fd_);
  std::swap(path_, o.path_);
  return *this;
}

SweepJournal::~SweepJournal() {
  if (fd_ >= 0) ::close(fd_);
}

Status SweepJournal::append(const std::string& line) {
  if (fd_ < 0) return Status::Io("the sweep journal is not open");
  // One write() per line: with O_APPEND a SIGKILL cannot interleave or half-write a
  // line this small, and a torn tail would only be skipped on reading.
  ssize_t n = ::write(fd_, line.data(), line.size());
  if (n == static_cast<ssize_t>(line.size())) return Status::Ok();
  return Status::Io(fmt::format("cannot write the sweep journal {}: {}", path_,
                                n < 0 ? strerror(errno) : "short write"));
}

Status SweepJournal::handed(int64_t group, bool reports_starts) {
  return append(fmt::format("G {} {}\n", group, reports_starts ? 1 : 0));
}

Status SweepJournal::started(int64_t group, int64_t index) {
  return append(fmt::format("S {} {}\n", group, index));
}

Status SweepJournal::result(int64_t group, int64_t index, const ProbeResult& r) {
  return append(fmt::format("R {} {} {}\n", group, index, result_json(r)));
}

Status SweepJournal::remove() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  if (!path_.empty() && ::unlink(path_.c_str()) != 0 && errno != ENOENT)
    return Status::Io(fmt::format("cannot remove the sweep journal {}: {}", path_, strerror(errno)));
  return Status::Ok();
}

}  // namespace convguard
