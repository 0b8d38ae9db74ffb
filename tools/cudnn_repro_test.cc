// cudnn_repro writes out convguard's fill rule again (it links no convguard code): these
// tests hold the copy to the original, without a GPU (--inputs-only stops before CUDA).
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "convguard/fill.h"
#include "convguard/problem.h"

namespace convguard {
namespace {

double checksum(const Problem& p, Arg a, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  fill_range(p, a, 0, 0, n, v.data());
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += double(i + 1) * v[i];
  return s;
}

std::string run(const std::string& args) {
  std::string out;
  FILE* f = popen((std::string(CUDNN_REPRO) + " " + args + " 2>&1").c_str(), "r");
  if (!f) return out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, f)) out += buf;
  pclose(f);
  return out;
}

void expect_same_inputs(const std::string& dir, const std::string& dt, const std::string& desc) {
  auto p = parse_descriptor(desc);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  p->dir = *parse_dir(dir);
  p->dt = *parse_dt(dt);
  const int64_t src = p->mb * p->ic * p->ih * p->iw, wei = p->oc * (p->ic / p->g) * p->kh * p->kw,
                dst = p->mb * p->oc * p->oh * p->ow;
  char want[256];
  std::snprintf(want, sizeof want, "src=%.17g wei=%.17g dst=%.17g\n", checksum(*p, Arg::src, src),
                checksum(*p, Arg::wei, wei), checksum(*p, Arg::dst, dst));
  EXPECT_EQ(run(dir + " " + dt + " engine0 " + desc + " --inputs-only 1"), want) << desc;
}

TEST(CudnnRepro, FillsTheInputsConvguardFillsInEveryDirectionAndType) {
  for (const char* dir : {"FWD_D", "BWD_D", "BWD_W"})
    for (const char* dt : {"f32", "f16", "bf16"})
      expect_same_inputs(dir, dt, "g1mb1ic1ih5iw5oc1oh1ow1kh5kw5sh1sw1ph0pw0dh0dw0");
  expect_same_inputs("BWD_D", "f16", "g96mb1ic96ih28iw28oc96oh28ow28kh5kw5sh1sw1ph2pw2dh0dw0");
}

TEST(CudnnRepro, FillsSparselyWhereConvguardDoesPastTheExactLimit) {
  // BWD_W of a 4200x4200 map sums more than 2^24 terms, past f32's exact integers: a sparse fill.
  expect_same_inputs("BWD_W", "f32", "g1mb1ic1ih4200iw4200oc1oh4200ow4200kh1kw1sh1sw1ph0pw0dh0dw0");
}

}  // namespace
}  // namespace convguard
