// StoreProber: reuse, durable in-flight marks, batched records, resume. See sweep.h.
#include "convguard/sweep.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <set>
#include <utility>
#include <vector>

#include "store/sweep_journal.h"

namespace convguard {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Descriptors of store files kept for run locks. A descriptor of the store file is never
// closed: closing any descriptor of a file drops every POSIX lock the process holds on it,
// SQLite's included. Released locks leave theirs here for the next lock to reuse, so a
// process holds at most as many as it ever held locks at once.
class LockFds {
 public:
  static LockFds& get() {
    static LockFds* fds = new LockFds;  // never destroyed: its descriptors outlive every store
    return *fds;
  }
  Result<int> take(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      std::lock_guard lock(mu_);
      auto& free = free_[{st.st_dev, st.st_ino}];
      if (!free.empty()) {
        const int fd = free.back();
        free.pop_back();
        return fd;
      }
    }
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
      return Status::Io(
          fmt::format("cannot open the store {} to lock a run: {}", path, strerror(errno)));
    return fd;
  }
  void give_back(int fd) {
    struct stat st {};
    const bool known = ::fstat(fd, &st) == 0;
    std::lock_guard lock(mu_);
    free_[{known ? st.st_dev : 0, known ? st.st_ino : 0}].push_back(fd);
  }

 private:
  std::mutex mu_;
  std::map<std::pair<dev_t, ino_t>, std::vector<int>> free_;
};

// An OFD write lock on one byte of the store file itself, far beyond SQLite's lock bytes
// (at 1 GiB): the kernel drops it when its holder dies, and no stale or deleted lock file
// can let a second process take over a live run.
class RunLock {
 public:
  RunLock() = default;
  RunLock(RunLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)), run_(o.run_) {}
  RunLock& operator=(RunLock&& o) noexcept {
    std::swap(fd_, o.fd_);
    std::swap(run_, o.run_);
    return *this;
  }
  ~RunLock() {
    if (fd_ < 0) return;
    struct flock fl = region(run_, F_UNLCK);
    (void)::fcntl(fd_, F_OFD_SETLK, &fl);
    LockFds::get().give_back(fd_);
  }
  static Result<RunLock> take(const std::string& db_path, int64_t run_id) {
    auto fd = LockFds::get().take(db_path);
    if (!fd.ok()) return fd.status();
    struct flock fl = region(run_id, F_WRLCK);
    if (::fcntl(*fd, F_OFD_SETLK, &fl) != 0) {
      LockFds::get().give_back(*fd);
      return Status::Io(fmt::format("run {} of {} is in use by another convguard process", run_id,
                                    db_path));
    }
    RunLock lock;
    lock.fd_ = *fd;
    lock.run_ = run_id;
    return lock;
  }

 private:
  static struct flock region(int64_t run_id, short type) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t{1} << 40) + run_id;
    fl.l_len = 1;
    return fl;
  }
  int fd_ = -1;
  int64_t run_ = 0;
};

ProbeResult suspect_result(const ProbeRequest& req, const std::string& engine,
                           const InflightMark& m, bool same_boot, int64_t run_id) {
  ProbeResult r;
  r.problem = key(req.problem);
  r.name = req.problem.name;
  r.dir = req.problem.dir;
  r.dt = req.problem.dt;
  r.engine = engine;
  r.algo = req.algo;
  r.outcome = Outcome::suspect;
  r.phase = m.phase.value_or(Phase::init);
  const char* who = same_boot ? "the sweep's process died" : "the host went down (new boot id)";
  if (m.state == MarkState::running)
    r.message = fmt::format("running{} when {} (run {})",
                            m.phase ? fmt::format(" in {}", to_string(*m.phase)) : "", who,
                            run_id);
  else
    r.message = fmt::format("in the in-flight group {} when {} (run {}); it may not have "
                            "started: --retry-suspects runs each alone",
                            m.group_id, who, run_id);
  return r;
}

}  // namespace

std::vector<ProbeRequest> plan_sweep(std::vector<ProbeRequest> requests) {
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<ProbeRequest> out;
  out.reserve(requests.size());
  for (auto& r : requests)
    if (seen.emplace(key(r.problem), r.algo).second) out.push_back(std::move(r));
  std::stable_sort(out.begin(), out.end(), [](const ProbeRequest& a, const ProbeRequest& b) {
    return a.problem.flops() < b.problem.flops();
  });
  return out;
}

std::vector<int64_t> assign_shards(const std::vector<ProbeRequest>& requests, int64_t count,
                                   const RequestCost& cost) {
  std::vector<double> costs;
  std::vector<std::string> keys;
  for (const auto& r : requests) {
    costs.push_back(cost(r));
    keys.push_back(key(r.problem) + " " + r.algo);
  }
  std::vector<size_t> order(requests.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (costs[a] != costs[b]) return costs[a] > costs[b];
    return keys[a] < keys[b];
  });
  // Longest processing time first onto the least loaded shard: a min-heap of (load, index).
  using Load = std::pair<double, int64_t>;
  std::priority_queue<Load, std::vector<Load>, std::greater<>> loads;
  for (int64_t i = 0; i < std::max<int64_t>(count, 1); ++i) loads.push({0.0, i});
  std::vector<int64_t> shard(requests.size(), 0);
  for (size_t i : order) {
    auto [load, idx] = loads.top();
    loads.pop();
    shard[i] = idx;
    loads.push({load + costs[i], idx});
  }
  return shard;
}

std::vector<ProbeRequest> shard_requests(const std::vector<ProbeRequest>& requests, Shard s,
                                         const RequestCost& cost) {
  const std::vector<int64_t> shard = assign_shards(requests, s.count, cost);
  std::vector<ProbeRequest> out;
  for (size_t i = 0; i < requests.size(); ++i)
    if (shard[i] == s.index) out.push_back(requests[i]);
  return out;
}

struct StoreProber::Impl {
  Store& store;
  Prober& inner;
  SweepOptions opt;
  RunInfo run;
  RunLock lock;
  std::string boot;
  bool finished = false;
  bool stopped = false;
  SweepProgress progress;
  Clock::time_point started = Clock::now();
  size_t ran = 0;
  int64_t next_group = 0;
  double per_probe_ms = -1, fsync_ms = -1;
  size_t last_group = 0;
  SweepJournal journal;
  // The store is shared with the thread that commits the next group's marks.
  std::mutex store_mu;

  Impl(Store& s, Prober& p, SweepOptions o) : store(s), inner(p), opt(std::move(o)) {
    boot = opt.boot_id.empty() ? current_boot_id() : opt.boot_id;
    next_group = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  }

  // One entry to settle: its plan index, request and the attempt it will be.
  struct Item {
    int64_t index;
    ProbeRequest request;
    int attempt = 1;
  };
  using Emit = std::function<void(const Item&, const ProbeResult&)>;
  /// The caller's dispatch report for an item, during run() (empty otherwise).
  std::function<void(const Item&)> on_start;
  struct Group {
    int64_t id = 0;
    std::vector<Item> items;
  };
  // A mark commit: its status and how long it took (the fsync, mostly).
  struct Marked {
    Status status;
    double ms = 0;
  };

  Status execute(std::vector<Item> items, bool one_at_a_time, const Emit& emit);
  Status reuse(std::vector<Item>* items, const Emit& emit);
  Group take_group(const std::vector<Item>& items, size_t* pos, bool one_at_a_time);
  Marked commit_marks(const std::vector<InflightMark>& marks);
  std::vector<InflightMark> marks_for(const Group& g) const;
  Status unmark(const Group& g);
  Status run_group(const Group& g, const Emit& emit);
  Status check_reported(const Group& g, const std::vector<bool>& got, Status st);
  size_t group_size(bool one_at_a_time);
  void settle(const Item& item, const ProbeResult& r, bool reused, const Emit& emit);
  Status turn_marks_into_suspects();
  Status open_journal();
  Status load_progress(std::vector<Item>* open, std::vector<Item>* suspects);
};

size_t StoreProber::Impl::group_size(bool one_at_a_time) {
  if (one_at_a_time) return 1;
  if (opt.group_size > 0) return opt.group_size;
  if (per_probe_ms < 0 || fsync_ms < 0) return std::max<size_t>(opt.min_group, 1);
  // Big enough that the mark's fsync is a small share of the group's time, never more
  // than doubling at once (a slow stretch shrinks it at once).
  double want = fsync_ms / (opt.fsync_share * std::max(per_probe_ms, 1e-3));
  size_t n = static_cast<size_t>(std::min(want, 2.0 * static_cast<double>(last_group)));
  return std::clamp(n, std::max<size_t>(opt.min_group, 1), std::max(opt.max_group, opt.min_group));
}

void StoreProber::Impl::settle(const Item& item, const ProbeResult& r, bool reused,
                               const Emit& emit) {
  progress.done++;
  progress.counts[r.outcome]++;
  if (reused) progress.reused++;
  else ran++;
  const double secs = ms_since(started) / 1000;
  progress.rate = secs > 0 ? static_cast<double>(ran) / secs : 0;
  progress.eta_s = progress.rate > 0
                       ? static_cast<double>(progress.total - progress.done) / progress.rate
                       : -1;
  emit(item, r);
  if (opt.on_progress) opt.on_progress(progress);
}

Status StoreProber::Impl::reuse(std::vector<Item>* items, const Emit& emit) {
  if (opt.rerun) return Status::Ok();
  std::vector<Item> left;
  std::vector<std::pair<int64_t, int64_t>> settled;
  std::vector<std::pair<Item, ProbeResult>> found;
  for (auto& it : *items) {
    auto hit = store.lookup(key(it.request.problem), run.engine, it.request.algo,
                            run.fingerprint_hash);
    if (!hit.ok()) return hit.status();
    const bool usable = hit->has_value() &&
                        !(opt.retry_suspects && (*hit)->result.outcome == Outcome::suspect);
    if (!usable) {
      left.push_back(std::move(it));
      continue;
    }
    settled.emplace_back(it.index, (*hit)->id);
    found.emplace_back(std::move(it), (*hit)->result);
  }
  CG_RETURN_IF_ERROR(store.settle_plan(run.id, settled));
  for (const auto& [it, r] : found) settle(it, r, true, emit);
  *items = std::move(left);
  return Status::Ok();
}

std::vector<InflightMark> StoreProber::Impl::marks_for(const Group& g) const {
  std::vector<InflightMark> marks;
  for (const auto& it : g.items) {
    InflightMark m;
    m.run_id = run.id;
    m.group_id = g.id;
    m.plan_index = it.index;
    m.request_key = key(it.request.problem) + " " + it.request.algo;
    // Whether the group was handed over, and which requests started, is in the journal.
    m.state = MarkState::journaled;
    marks.push_back(std::move(m));
  }
  return marks;
}

StoreProber::Impl::Marked StoreProber::Impl::commit_marks(const std::vector<InflightMark>& marks) {
  auto t0 = Clock::now();
  std::lock_guard lock(store_mu);
  Marked done{store.mark_inflight(marks), 0};
  done.ms = ms_since(t0);
  return done;
}

Status StoreProber::Impl::unmark(const Group& g) {
  std::vector<int64_t> indices;
  for (const auto& it : g.items) indices.push_back(it.index);
  std::lock_guard lock(store_mu);
  return store.clear_inflight(run.id, indices);
}

StoreProber::Impl::Group StoreProber::Impl::take_group(const std::vector<Item>& items, size_t* pos,
                                                       bool one_at_a_time) {
  const size_t n = std::min(group_size(one_at_a_time), items.size() - *pos);
  Group g;
  g.id = next_group++;
  g.items.assign(items.begin() + static_cast<ptrdiff_t>(*pos),
                 items.begin() + static_cast<ptrdiff_t>(*pos + n));
  *pos += n;
  return g;
}

Status StoreProber::Impl::run_group(const Group& g, const Emit& emit) {
  const std::vector<Item>& group = g.items;
  std::vector<ResultRecord> pending;
  Status store_error;
  CG_RETURN_IF_ERROR(journal.handed(g.id, inner.reports_dispatch()));
  std::vector<ProbeRequest> requests;
  for (const auto& it : group) requests.push_back(it.request);

  // Results are in the journal before they wait here, so a flush may be put off: it is
  // skipped while the next group's marks hold the store (their fsync), never waited for.
  auto flush = [&](bool wait) {
    if (pending.empty() || !store_error.ok()) return;
    std::unique_lock lock(store_mu, std::defer_lock);
    if (wait) lock.lock();
    else if (!lock.try_lock()) return;
    if (auto r = store.record(run.id, run.fingerprint_hash, pending); !r.ok())
      store_error = r.status();
    pending.clear();
  };
  auto note = [&](Status s) {
    if (!s.ok() && store_error.ok()) store_error = std::move(s);
  };
  auto started = [&](size_t i) {
    if (i >= group.size()) return;
    note(journal.started(g.id, group[i].index));
    if (on_start) on_start(group[i]);
  };
  std::vector<bool> got(group.size(), false);
  Clock::time_point first_pending;
  auto t1 = Clock::now();
  Status st = inner.run(
      requests,
      [&](size_t i, const ProbeResult& r0) {
        if (i >= group.size() || got[i]) return;
        got[i] = true;
        ProbeResult r = r0;
        r.attempt = std::max(r.attempt, group[i].attempt);
        note(journal.result(g.id, group[i].index, r));
        if (pending.empty()) first_pending = Clock::now();
        pending.push_back({group[i].index, r});
        if (pending.size() >= opt.batch_max || ms_since(first_pending) >= opt.batch_ms)
          flush(false);
        settle(group[i], r, false, emit);
      },
      started);
  flush(true);
  const double group_ms = ms_since(t1);
  const double each = group_ms / static_cast<double>(group.size());
  per_probe_ms = per_probe_ms < 0 ? each : 0.5 * per_probe_ms + 0.5 * each;
  last_group = group.size();
  if (!store_error.ok()) return store_error;
  return check_reported(g, got, st);
}

Status StoreProber::Impl::check_reported(const Group& g, const std::vector<bool>& got, Status st) {
  const std::vector<Item>& group = g.items;
  // Requests the prober never reported (it stopped) are not suspects: drop their marks,
  // they stay open in the plan.
  std::vector<int64_t> unreported;
  size_t first_missing = group.size();
  for (size_t i = 0; i < group.size(); ++i)
    if (!got[i]) {
      unreported.push_back(group[i].index);
      first_missing = std::min(first_missing, i);
    }
  if (!unreported.empty()) {
    std::lock_guard lock(store_mu);
    CG_RETURN_IF_ERROR(store.clear_inflight(run.id, unreported));
  }
  // The Prober contract: an Ok return reports every request. Going on would end the run
  // "done" with open entries.
  if (st.ok() && !unreported.empty())
    return Status::Error(fmt::format(
        "the {} prober returned without a result for {} of {} requests (first: {} {}); they "
        "stay open in run {}: --resume runs them again",
        inner.engine_name(), unreported.size(), group.size(),
        key(group[first_missing].request.problem), group[first_missing].request.algo, run.id));
  return st;
}

// Pipelined marks: while group k runs, a second thread commits (with its fsync) the marks
// of group k+1, so the prober waits on an fsync only when a group is shorter than one.
// Group k+1 is handed over only after its marks are durable. Groups of one (suspect
// retries) are not pipelined: a freeze must leave exactly one suspect.
Status StoreProber::Impl::execute(std::vector<Item> items, bool one_at_a_time, const Emit& emit) {
  CG_RETURN_IF_ERROR(reuse(&items, emit));
  size_t pos = 0;
  std::optional<Group> next;
  std::future<Marked> next_marked;
  Status st;
  while (next || pos < items.size()) {
    if (opt.stop && opt.stop->load()) {
      stopped = true;
      break;
    }
    Group g;
    Marked marked;
    if (next) {
      g = std::move(*next);
      next.reset();
      marked = next_marked.get();
    } else {
      g = take_group(items, &pos, one_at_a_time);
      marked = commit_marks(marks_for(g));
    }
    if (!marked.status.ok()) {
      st = marked.status;
      break;
    }
    fsync_ms = fsync_ms < 0 ? marked.ms : 0.5 * fsync_ms + 0.5 * marked.ms;
    if (!one_at_a_time && pos < items.size()) {
      next = take_group(items, &pos, false);
      next_marked = std::async(std::launch::async,
                               [this, m = marks_for(*next)] { return commit_marks(m); });
    }
    st = run_group(g, emit);
    if (!st.ok()) break;
  }
  // A group marked ahead that will not run now never started: its marks go.
  if (next) {
    Marked m = next_marked.get();
    if (m.status.ok()) {
      if (auto s = unmark(*next); !s.ok() && st.ok()) st = s;
    }
  }
  return st;
}

// Whether the probe of a mark left by a dead process of this boot may have started. The
// journal (page cache) outlived the process; marks from before it (group, queued, running)
// keep their old reading, and a journaled mark with no journal is read cautiously.
static bool may_have_started(const InflightMark& m, const SweepJournal::Contents& j) {
  switch (m.state) {
    case MarkState::group:
    case MarkState::running: return true;
    case MarkState::queued: return false;
    case MarkState::journaled: break;
  }
  if (!j.present || j.started.count({m.group_id, m.plan_index})) return true;
  auto handed = j.handed.find(m.group_id);
  return handed != j.handed.end() && !handed->second;
}

Status StoreProber::Impl::turn_marks_into_suspects() {
  auto marks = store.inflight(run.id);
  if (!marks.ok()) return marks.status();
  if (marks->empty()) return open_journal();
  auto plan = store.load_plan(run.id);
  if (!plan.ok()) return plan.status();
  // Same boot: the dead process's page cache survived, journal included. New boot: only
  // the fsynced marks can be trusted; every one is suspect.
  const bool same_boot = !boot.empty() && boot == run.boot_id;
  SweepJournal::Contents journal_left;
  if (same_boot) {
    auto j = SweepJournal::read(SweepJournal::path_for(store.path(), run.id));
    if (!j.ok()) return j.status();
    journal_left = std::move(*j);
  }
  std::vector<ResultRecord> settled;
  size_t suspects = 0;
  for (auto m : *marks) {
    const bool in_plan = m.plan_index >= 0 && m.plan_index < static_cast<int64_t>(plan->size());
    if (!in_plan) continue;
    if (same_boot) {
      // Finished, but the process died before its batch reached the store.
      auto done = journal_left.results.find({m.group_id, m.plan_index});
      if (done != journal_left.results.end()) {
        settled.push_back({m.plan_index, done->second});
        continue;
      }
      if (!may_have_started(m, journal_left)) continue;
      if (journal_left.started.count({m.group_id, m.plan_index})) m.state = MarkState::running;
    }
    const auto& req = (*plan)[static_cast<size_t>(m.plan_index)].request;
    settled.push_back({m.plan_index, suspect_result(req, run.engine, m, same_boot, run.id)});
    ++suspects;
  }
  if (auto r = store.record(run.id, run.fingerprint_hash, settled); !r.ok()) return r.status();
  progress.suspects = suspects;
  // Recording removed the settled marks; what is left never started and runs again.
  CG_RETURN_IF_ERROR(store.clear_inflight(run.id));
  // Only now: a resume killed before this point reads the same journal again.
  return open_journal();
}

Status StoreProber::Impl::open_journal() {
  auto j = SweepJournal::open_empty(SweepJournal::path_for(store.path(), run.id));
  if (!j.ok()) return j.status();
  journal = std::move(*j);
  return Status::Ok();
}

Status StoreProber::Impl::load_progress(std::vector<Item>* open, std::vector<Item>* suspects) {
  auto plan = store.load_plan(run.id);
  if (!plan.ok()) return plan.status();
  progress = SweepProgress{plan->size(), 0, 0, progress.suspects, {}, 0, -1};
  for (auto& e : *plan) {
    if (e.probe_id == 0) {
      open->push_back({e.index, std::move(e.request), 1});
      continue;
    }
    auto p = store.get_probe(e.probe_id);
    if (!p.ok()) return p.status();
    if (opt.retry_suspects && p->result.outcome == Outcome::suspect) {
      suspects->push_back({e.index, std::move(e.request), p->result.attempt + 1});
      continue;
    }
    progress.done++;
    progress.counts[p->result.outcome]++;
  }
  return Status::Ok();
}

StoreProber::StoreProber(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StoreProber::~StoreProber() {
  if (!impl_->finished) (void)finish(RunStatus::interrupted);
}

Result<std::unique_ptr<StoreProber>> StoreProber::create(Store& store, Prober& inner,
                                                         const std::string& command,
                                                         const std::string& options_json,
                                                         SweepOptions opt,
                                                         const std::vector<ProbeRequest>& plan) {
  auto impl = std::make_unique<Impl>(store, inner, std::move(opt));
  auto fp = inner.fingerprint();
  if (!fp.ok()) return fp.status();
  RunInfo& r = impl->run;
  r.command = command;
  r.engine = inner.engine_name();
  r.fingerprint_json = fingerprint_json(*fp);
  r.fingerprint_hash = convguard::fingerprint_hash(*fp);
  r.boot_id = impl->boot;
  r.options_json = options_json;
  auto id = store.begin_run(r, plan);
  if (!id.ok()) return id.status();
  r.id = *id;
  auto lock = RunLock::take(store.path(), r.id);
  if (!lock.ok()) return lock.status();
  impl->lock = std::move(*lock);
  CG_RETURN_IF_ERROR(impl->open_journal());
  return std::unique_ptr<StoreProber>(new StoreProber(std::move(impl)));
}

// The latest sweep not marked done, or with unsettled plan entries (or, when retrying,
// suspect ones).
Result<int64_t> latest_open_run(Store& store, bool retry_suspects) {
  auto runs = store.list_runs();
  if (!runs.ok()) return runs.status();
  for (auto it = runs->rbegin(); it != runs->rend(); ++it) {
    auto plan = store.load_plan(it->id);
    if (!plan.ok()) return plan.status();
    if (plan->empty()) continue;
    // A run that settled everything but died before it was marked done is finished here.
    if (it->status != RunStatus::done) return it->id;
    for (const auto& e : *plan)
      if (e.probe_id == 0) return it->id;
    if (!retry_suspects) continue;
    ProbeFilter f;
    f.run_id = it->id;
    f.outcome = Outcome::suspect;
    auto suspects = store.list_probes(f);
    if (!suspects.ok()) return suspects.status();
    if (!suspects->empty()) return it->id;
  }
  return Status::Invalid(fmt::format("nothing to resume in {}: every sweep finished{}",
                                     store.path(), retry_suspects ? " and has no suspects" : ""));
}

Result<std::unique_ptr<StoreProber>> StoreProber::resume(Store& store, Prober& inner,
                                                         int64_t run_id, SweepOptions opt) {
  if (run_id == 0) {
    auto latest = latest_open_run(store, opt.retry_suspects);
    if (!latest.ok()) return latest.status();
    run_id = *latest;
  }
  auto run = store.get_run(run_id);
  if (!run.ok()) return run.status();
  auto fp = inner.fingerprint();
  if (!fp.ok()) return fp.status();
  const std::string hash = convguard::fingerprint_hash(*fp);
  if (run->engine != inner.engine_name() || run->fingerprint_hash != hash)
    return Status::Invalid(fmt::format(
        "run {} was made with engine {} (fingerprint {}), this one is {} (fingerprint {}): "
        "start a new sweep instead of resuming",
        run_id, run->engine, run->fingerprint_hash, inner.engine_name(), hash));
  auto lock = RunLock::take(store.path(), run_id);
  if (!lock.ok()) return lock.status();
  auto impl = std::make_unique<Impl>(store, inner, std::move(opt));
  impl->run = std::move(*run);
  impl->lock = std::move(*lock);
  CG_RETURN_IF_ERROR(impl->turn_marks_into_suspects());
  CG_RETURN_IF_ERROR(store.reopen_run(run_id, impl->boot));
  impl->run.boot_id = impl->boot;
  return std::unique_ptr<StoreProber>(new StoreProber(std::move(impl)));
}

bool StoreProber::reports_dispatch() const { return impl_->inner.reports_dispatch(); }

Status StoreProber::do_run(const std::vector<ProbeRequest>& requests,
                           const ResultCallback& on_result, const DispatchCallback& on_dispatch) {
  auto first = impl_->store.append_plan(impl_->run.id, requests);
  if (!first.ok()) return first.status();
  std::vector<Impl::Item> items;
  for (size_t i = 0; i < requests.size(); ++i)
    items.push_back({*first + static_cast<int64_t>(i), requests[i], 1});
  impl_->progress = SweepProgress{requests.size(), 0, 0, 0, {}, 0, -1};
  const int64_t base = *first;
  if (on_dispatch)
    impl_->on_start = [&](const Impl::Item& it) {
      on_dispatch(static_cast<size_t>(it.index - base));
    };
  Status s =
      impl_->execute(std::move(items), false, [&](const Impl::Item& it, const ProbeResult& r) {
        if (on_result) on_result(static_cast<size_t>(it.index - base), r);
      });
  impl_->on_start = nullptr;
  return s;
}

Status StoreProber::add_plan(const std::vector<ProbeRequest>& requests) {
  auto first = impl_->store.append_plan(impl_->run.id, requests);
  return first.ok() ? Status::Ok() : first.status();
}

Status StoreProber::run_plan(const ResultCallback& on_result) {
  std::vector<Impl::Item> open, suspects;
  CG_RETURN_IF_ERROR(impl_->load_progress(&open, &suspects));
  impl_->stopped = false;
  if (impl_->opt.on_progress) impl_->opt.on_progress(impl_->progress);
  auto emit = [&](const Impl::Item& it, const ProbeResult& r) {
    if (on_result) on_result(static_cast<size_t>(it.index), r);
  };
  if (auto s = impl_->execute(std::move(open), false, emit); !s.ok() || impl_->stopped) return s;
  // Suspects last, each alone with its own fsynced mark: if one freezes the host again,
  // the next resume names exactly that one.
  return impl_->execute(std::move(suspects), true, emit);
}

Status StoreProber::finish(RunStatus status) {
  impl_->finished = true;
  CG_RETURN_IF_ERROR(impl_->store.end_run(impl_->run.id, status));
  // A journal is kept while marks are left (a store error stopped the run): a resume
  // reads the results that did not reach the store from it.
  auto left = impl_->store.inflight(impl_->run.id);
  if (!left.ok()) return left.status();
  return left->empty() ? impl_->journal.remove() : Status::Ok();
}

Result<std::vector<std::string>> StoreProber::algorithms(const Problem& p) {
  return impl_->inner.algorithms(p);
}
Result<std::map<std::string, std::string>> StoreProber::fingerprint() {
  return impl_->inner.fingerprint();
}
std::string StoreProber::engine_name() const { return impl_->inner.engine_name(); }
int64_t StoreProber::run_id() const { return impl_->run.id; }
const std::string& StoreProber::fingerprint_hash() const { return impl_->run.fingerprint_hash; }
const SweepProgress& StoreProber::progress() const { return impl_->progress; }
bool StoreProber::stopped() const { return impl_->stopped; }

}  // namespace convguard
