// Splitting independent work over the machine's cores, for the CPU-side loops
// (reference, fills, tile gathering). Header-only: the bodies are lambdas.
#pragma once

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace convguard {

/// Cores to use; hardware_concurrency() reads sysfs on every call, so it is read once.
inline int64_t hardware_threads() {
  static const int64_t hw = std::max(1u, std::thread::hardware_concurrency());
  return hw;
}

/// Calls body(begin, end) over contiguous chunks of [0, n), one thread each, using at
/// most hardware_threads() threads and at least `min_per_thread` items a thread (small
/// jobs stay on the calling thread, where thread start-up would dominate). The caller
/// guarantees the chunks are independent, so the split changes only the speed.
template <class F>
void parallel_ranges(int64_t n, int64_t min_per_thread, const F& body) {
  const int64_t threads =
      std::clamp<int64_t>(n / std::max<int64_t>(1, min_per_thread), 1, hardware_threads());
  if (threads <= 1) return body(int64_t{0}, n);
  std::vector<std::thread> pool;
  const int64_t step = (n + threads - 1) / threads;
  for (int64_t b = 0; b < n; b += step) pool.emplace_back(body, b, std::min(n, b + step));
  for (auto& t : pool) t.join();
}

/// body(i) for every i in [0, n), split as parallel_ranges does; `work_per_item`
/// (elementary operations) sizes the chunks so that a thread gets about 2e5 of them.
template <class F>
void parallel_for(int64_t n, double work_per_item, const F& body) {
  constexpr double kMinWorkPerThread = 2e5;
  const auto per_thread = int64_t(kMinWorkPerThread / std::max(1.0, work_per_item));
  parallel_ranges(n, std::max<int64_t>(1, per_thread), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) body(i);
  });
}

}  // namespace convguard
