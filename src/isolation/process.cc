#include "isolation/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "model/environment.h"

namespace convguard {
namespace {

// Parent and child ends of one pipe; every descriptor close-on-exec.
struct Pipe {
  int read = -1, write = -1;
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Moves fd above the descriptors the child's dup2 targets (0..4), so that no dup2 in
// the spawn can overwrite a source that a later dup2 still needs.
Status raise_fd(int& fd) {
  if (fd > kWorkerResultFd) return Status::Ok();
  int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  if (high < 0) return Status::Io(std::string("fcntl(F_DUPFD_CLOEXEC): ") + std::strerror(errno));
  ::close(fd);
  fd = high;
  return Status::Ok();
}

Result<Pipe> make_pipe(bool child_reads) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return Status::Io(std::string("pipe2: ") + std::strerror(errno));
  Pipe p{fds[0], fds[1]};
  int& child_end = child_reads ? p.read : p.write;
  if (Status s = raise_fd(child_end); !s.ok()) {
    close_fd(p.read);
    close_fd(p.write);
    return s;
  }
  int parent_end = child_reads ? p.write : p.read;
  // The parent never blocks on a worker: reads and writes are driven by poll().
  ::fcntl(parent_end, F_SETFL, ::fcntl(parent_end, F_GETFL) | O_NONBLOCK);
  return p;
}

std::vector<std::string> child_environment(const std::map<std::string, std::string>& set) {
  EnvMap all = current_env();
  for (const auto& [k, v] : set) all[k] = v;
  std::vector<std::string> env;
  for (const auto& [k, v] : all) env.push_back(k + "=" + v);
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Own process group, no inherited signal mask, default dispositions for the signals a
// supervisor may ignore or handle (SIGPIPE above all).
void init_attr(posix_spawnattr_t* attr) {
  posix_spawnattr_init(attr);
  posix_spawnattr_setpgroup(attr, 0);
  sigset_t none, defaults;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(attr, &none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2})
    sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(attr, &defaults);
  posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                     POSIX_SPAWN_SETSIGDEF);
}

void init_actions(posix_spawn_file_actions_t* fa, const Pipe& req, const Pipe& res,
                  const Pipe& err) {
  posix_spawn_file_actions_init(fa);
  posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(fa, err.write, 1);
  posix_spawn_file_actions_adddup2(fa, err.write, 2);
  posix_spawn_file_actions_adddup2(fa, req.read, kWorkerRequestFd);
  posix_spawn_file_actions_adddup2(fa, res.write, kWorkerResultFd);
  // Descriptors someone else opened without O_CLOEXEC must not reach the worker.
  posix_spawn_file_actions_addclosefrom_np(fa, kWorkerResultFd + 1);
}

}  // namespace

void TailBuffer::append(const char* data, size_t n) {
  buf_.append(data, n);
  // Trim in large steps so appends stay amortised O(n).
  if (buf_.size() > 2 * max_bytes_) buf_.erase(0, buf_.size() - max_bytes_);
}

std::string TailBuffer::tail() const {
  size_t start = buf_.size() > max_bytes_ ? buf_.size() - max_bytes_ : 0;
  size_t lines = 0;
  // Count line ends from the back; a trailing newline does not start a line.
  for (size_t i = buf_.size(); i > start; --i) {
    if (buf_[i - 1] == '\n' && i != buf_.size() && ++lines == max_lines_) {
      start = i;
      break;
    }
  }
  return buf_.substr(start);
}

std::map<int, SchedTimes> sched_times(pid_t pid) {
  std::map<int, SchedTimes> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(dir + "/" + e->d_name + "/schedstat");
    unsigned long long run_ns = 0, wait_ns = 0;
    if (f >> run_ns >> wait_ns)
      out[std::atoi(e->d_name)] = {static_cast<double>(run_ns) * 1e-9,
                                   static_cast<double>(wait_ns) * 1e-9};
  }
  ::closedir(d);
  return out;
}

std::string signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGPIPE: return "SIGPIPE";
    case SIGTRAP: return "SIGTRAP";
    case SIGSYS: return "SIGSYS";
    case SIGHUP: return "SIGHUP";
    case SIGQUIT: return "SIGQUIT";
  }
  return "signal " + std::to_string(sig);
}

ExitInfo decode_wait_status(int wstatus) {
  ExitInfo e;
  if (WIFEXITED(wstatus)) {
    e.exited = true;
    e.status = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    e.signal = WTERMSIG(wstatus);
  }
  return e;
}

std::string ExitInfo::describe() const {
  if (exited) return "exit status " + std::to_string(status);
  if (signal == 0) return "unknown end";
  std::string s = "signal " + std::to_string(signal) + " (" + signal_name(signal);
  if (signal == SIGABRT) s += ": abort";
  return s + ")";
}

Result<std::unique_ptr<Child>> Child::spawn(const SpawnOptions& opt) {
  if (opt.argv.empty()) return Status::Invalid("spawn: empty argv");
  Pipe req, res, err;
  auto close_all = [&] {
    for (Pipe* p : {&req, &res, &err}) close_fd(p->read), close_fd(p->write);
  };
  for (auto [pipe, child_reads] : {std::pair{&req, true}, {&res, false}, {&err, false}}) {
    auto p = make_pipe(child_reads);
    if (!p.ok()) {
      close_all();
      return p.status();
    }
    *pipe = *p;
  }
  std::vector<std::string> args = opt.argv, env = child_environment(opt.env_set);
  std::vector<char*> argv = c_strings(args), envp = c_strings(env);
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t fa;
  init_attr(&attr);
  init_actions(&fa, req, res, err);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close_fd(req.read);
  close_fd(res.write);
  close_fd(err.write);
  if (rc != 0) {
    close_all();
    return Status::Io("posix_spawn " + opt.argv[0] + ": " + std::strerror(rc));
  }
  std::unique_ptr<Child> c(new Child());
  c->pid_ = pid;
  c->req_fd_ = req.write;
  c->res_fd_ = res.read;
  c->err_fd_ = err.read;
  c->tail_ = TailBuffer(opt.stderr_bytes, opt.stderr_lines);
  return c;
}

Child::~Child() {
  if (!reaped() && !released_) kill_and_reap(std::chrono::milliseconds(2000));
  close_fds();
}

void Child::close_fds() {
  close_fd(req_fd_);
  close_fd(res_fd_);
  close_fd(err_fd_);
}

void Child::drain_stderr() {
  char buf[4096];
  while (err_fd_ >= 0) {
    ssize_t n = ::read(err_fd_, buf, sizeof buf);
    if (n > 0) {
      tail_.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      close_fd(err_fd_);
    } else if (errno != EINTR) {
      break;  // EAGAIN: nothing more now
    }
  }
}

void Child::close_requests() { close_fd(req_fd_); }

void Child::kill_group() {
  if (pid_ <= 0 || reaped()) return;
  // The group id is the leader's pid; it stays reserved while the leader is unreaped.
  if (::kill(-pid_, SIGKILL) != 0) ::kill(pid_, SIGKILL);
}

std::optional<ExitInfo> Child::try_reap() {
  if (exit_ || pid_ <= 0) return exit_;
  int ws = 0;
  pid_t r = ::waitpid(pid_, &ws, WNOHANG);
  if (r == pid_) {
    exit_ = decode_wait_status(ws);
  } else if (r < 0 && errno == ECHILD) {
    exit_ = ExitInfo{};  // reaped elsewhere; nothing left to wait for
  }
  return exit_;
}

std::optional<ExitInfo> Child::reap_for(std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  auto pause = std::chrono::microseconds(100);
  while (!try_reap()) {
    if (std::chrono::steady_clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(10000));
  }
  return exit_;
}

std::optional<ExitInfo> Child::kill_and_reap(std::chrono::milliseconds limit) {
  kill_group();
  auto e = reap_for(limit);
  drain_stderr();
  return e;
}

}  // namespace convguard
