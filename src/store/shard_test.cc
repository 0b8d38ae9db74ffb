#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>

#include "convguard/sweep.h"

namespace convguard {
namespace {

ProbeRequest request(int64_t ic, int64_t ih, const std::string& algo = "default") {
  auto p = parse_problem("mb1ic" + std::to_string(ic) + "ih" + std::to_string(ih) + "oc4kh3ph1");
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return {*p, algo};
}

// A fixed cost per probe and the FLOPs at 1 GFLOP/s, as expected_probe_s counts.
double cost(const ProbeRequest& r) { return 0.002 + r.problem.flops() * 1e-9; }

std::string id(const ProbeRequest& r) { return key(r.problem) + " " + r.algo; }

// 200 small problems and a few large ones, so that counts and costs disagree.
std::vector<ProbeRequest> mixed_sweep() {
  std::vector<ProbeRequest> rs;
  for (int64_t ih = 8; ih < 108; ++ih)
    for (const char* algo : {"a", "b"}) rs.push_back(request(4, ih, algo));
  for (int64_t ih : {512, 640, 768}) rs.push_back(request(256, ih));
  return plan_sweep(rs);
}

std::vector<double> loads(const std::vector<ProbeRequest>& rs, int64_t n) {
  std::vector<double> out;
  for (int64_t i = 0; i < n; ++i) {
    double sum = 0;
    for (const auto& r : shard_requests(rs, {i, n}, cost)) sum += cost(r);
    out.push_back(sum);
  }
  return out;
}

TEST(Shards, AreDisjointAndTogetherHoldTheWholeSweep) {
  const auto rs = mixed_sweep();
  for (int64_t n : {1, 2, 3, 7, 16}) {
    std::multiset<std::string> all;
    for (int64_t i = 0; i < n; ++i)
      for (const auto& r : shard_requests(rs, {i, n}, cost)) all.insert(id(r));
    std::multiset<std::string> want;
    for (const auto& r : rs) want.insert(id(r));
    EXPECT_EQ(all, want) << n << " shards";
  }
}

TEST(Shards, AreBalancedByCostNotByCount) {
  const auto rs = mixed_sweep();
  double costliest = 0;
  for (const auto& r : rs) costliest = std::max(costliest, cost(r));
  for (int64_t n : {2, 4, 8}) {
    const auto l = loads(rs, n);
    const auto [lo, hi] = std::minmax_element(l.begin(), l.end());
    EXPECT_LE(*hi - *lo, costliest) << n << " shards";
  }
  // Three large problems over four shards: each goes alone, and the small ones fill the
  // fourth (by count it would hold 3 of 203 requests, by cost it holds 200).
  std::vector<size_t> sizes;
  for (int64_t i = 0; i < 4; ++i) sizes.push_back(shard_requests(rs, {i, 4}, cost).size());
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<size_t>{1, 1, 1, 200}));
}

TEST(Shards, AreTheSameWhateverTheOrderOfTheRequests) {
  const auto rs = mixed_sweep();
  auto shuffled = rs;
  std::mt19937 rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  for (int64_t i = 0; i < 5; ++i) {
    std::set<std::string> a, b;
    for (const auto& r : shard_requests(rs, {i, 5}, cost)) a.insert(id(r));
    for (const auto& r : shard_requests(shuffled, {i, 5}, cost)) b.insert(id(r));
    EXPECT_EQ(a, b) << "shard " << i;
    EXPECT_FALSE(a.empty());
  }
}

TEST(Shards, KeepTheCheapFirstOrderOfThePlan) {
  const auto rs = mixed_sweep();
  const auto s = shard_requests(rs, {3, 4}, cost);
  EXPECT_TRUE(std::is_sorted(s.begin(), s.end(), [](const auto& a, const auto& b) {
    return a.problem.flops() < b.problem.flops();
  }));
}

TEST(Shards, MoreShardsThanRequestsLeaveSomeEmpty) {
  const std::vector<ProbeRequest> rs = {request(4, 8), request(4, 9)};
  size_t total = 0;
  for (int64_t i = 0; i < 5; ++i) total += shard_requests(rs, {i, 5}, cost).size();
  EXPECT_EQ(total, 2u);
  EXPECT_TRUE(shard_requests(rs, {4, 5}, cost).empty());
}

}  // namespace
}  // namespace convguard
