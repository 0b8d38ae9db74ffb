#include <gtest/gtest.h>

#include "convguard/problem.h"

namespace convguard {
namespace {

std::vector<Problem> ok_cmd(std::string_view cmd) {
  Result<std::vector<Problem>> r = parse_driver_cmd(cmd);
  EXPECT_TRUE(r.ok()) << cmd << ": " << r.status().to_string();
  return r.ok() ? *r : std::vector<Problem>{};
}

std::string rejection(std::string_view cmd) {
  Result<std::vector<Problem>> r = parse_driver_cmd(cmd);
  EXPECT_FALSE(r.ok()) << cmd;
  return r.ok() ? "" : r.status().message();
}

std::vector<Dir> dirs(const std::vector<Problem>& ps) {
  std::vector<Dir> out;
  for (const Problem& p : ps) out.push_back(p.dir);
  return out;
}

TEST(DriverCmd, ReadsTheSeedsForwardCase) {
  auto ps = ok_cmd("conv -n 1 -c 16 -H 44 -W 44 -k 32 -y 3 -x 3 -p 1 -q 1 -F 1");
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(key(ps[0]),
            "--dir=FWD_D --dt=f32 g1mb1ic16ih44iw44oc32oh44ow44kh3kw3sh1sw1ph1pw1dh0dw0");
}

TEST(DriverCmd, ReadsTheGemmBwdRestReportFromTheDesignNotes) {
  auto ps = ok_cmd("MIOpenDriver conv -n 1024 -c 256 -H 32 -W 32 -k 1 -y 5 -x 5 -p 2 -q 2 -F 2");
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(key(ps[0]),
            "--dir=BWD_D --dt=f32 g1mb1024ic256ih32iw32oc1oh32ow32kh5kw5sh1sw1ph2pw2dh0dw0");
}

TEST(DriverCmd, AppliesMIOpensDefaults) {
  auto ps = ok_cmd("conv -F 1");
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(key(ps[0]),
            "--dir=FWD_D --dt=f32 g1mb100ic3ih32iw32oc32oh30ow30kh3kw3sh1sw1ph0pw0dh0dw0");
}

TEST(DriverCmd, ForwIsABitSetExpandingInFwdBwdDataBwdWeightsOrder) {
  const std::string base = "conv -n 1 -c 4 -H 8 -W 8 -k 4 -y 3 -x 3 -F ";
  using V = std::vector<Dir>;
  EXPECT_EQ(dirs(ok_cmd(base + "0")), (V{Dir::FWD_D, Dir::BWD_D, Dir::BWD_W}));
  EXPECT_EQ(dirs(ok_cmd(base + "1")), (V{Dir::FWD_D}));
  EXPECT_EQ(dirs(ok_cmd(base + "2")), (V{Dir::BWD_D}));
  EXPECT_EQ(dirs(ok_cmd(base + "3")), (V{Dir::FWD_D, Dir::BWD_D}));
  EXPECT_EQ(dirs(ok_cmd(base + "4")), (V{Dir::BWD_W}));
  EXPECT_EQ(dirs(ok_cmd(base + "5")), (V{Dir::FWD_D, Dir::BWD_W}));
  EXPECT_EQ(dirs(ok_cmd(base + "6")), (V{Dir::BWD_D, Dir::BWD_W}));
  EXPECT_EQ(dirs(ok_cmd(base + "7")), (V{Dir::FWD_D, Dir::BWD_D, Dir::BWD_W}));
  EXPECT_EQ(dirs(ok_cmd("conv")), (V{Dir::FWD_D, Dir::BWD_D, Dir::BWD_W}));
  EXPECT_NE(rejection(base + "8").find("invalid -F 8 (forw)"), std::string::npos);
}

TEST(DriverCmd, BiasMakesForwardFwdBAndWeightsBwdWB) {
  using V = std::vector<Dir>;
  EXPECT_EQ(dirs(ok_cmd("conv -b 1")), (V{Dir::FWD_B, Dir::BWD_D, Dir::BWD_WB}));
  EXPECT_EQ(dirs(ok_cmd("conv -b 1 -F 1")), (V{Dir::FWD_B}));
  EXPECT_EQ(dirs(ok_cmd("conv -b 0 -F 1")), (V{Dir::FWD_D}));
}

TEST(DriverCmd, DilationOneIsDenseAndConvertsToBenchdnnsConvention) {
  auto ps = ok_cmd("conv -n 1 -c 8 -H 32 -W 32 -k 8 -y 3 -x 3 -p 6 -q 2 -l 6 -j 2 -F 1");
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].dh, 5);
  EXPECT_EQ(ps[0].dw, 1);
  EXPECT_EQ(ps[0].oh, 32);
  EXPECT_EQ(ps[0].ow, 32);
  EXPECT_EQ(ok_cmd("conv -l 1 -j 1 -F 1")[0].dh, 0);
  EXPECT_NE(rejection("conv -l 0").find("invalid -l 0 (dilation_h)"), std::string::npos);
}

TEST(DriverCmd, DataTypeComesFromTheCommand) {
  EXPECT_EQ(ok_cmd("convfp16 -F 1")[0].dt, DataType::f16);
  EXPECT_EQ(ok_cmd("convbfp16 -F 1")[0].dt, DataType::bf16);
  EXPECT_NE(rejection("convint8 -F 1").find("not supported: data type"), std::string::npos);
  EXPECT_NE(rejection("pool -F 1").find("unknown MIOpenDriver command 'pool'"),
            std::string::npos);
  EXPECT_NE(rejection("").find("missing MIOpenDriver command"), std::string::npos);
}

TEST(DriverCmd, LongFlagsMeanTheSameAsShortOnes) {
  auto shortf = ok_cmd("conv -n 2 -c 6 -H 9 -W 11 -k 4 -y 3 -x 5 -p 1 -q 2 -u 2 -v 1 -l 2 "
                       "-j 1 -g 2 -F 4 -_ 2 -m conv");
  auto longf = ok_cmd(
      "conv --batchsize 2 --in_channels 6 --in_h 9 --in_w=11 --out_channels 4 --fil_h 3 "
      "--fil_w 5 --pad_h 1 --pad_w 2 --conv_stride_h 2 --conv_stride_w 1 --dilation_h 2 "
      "--dilation_w 1 --group_count 2 --forw 4 --spatial_dim 2 --mode conv");
  EXPECT_EQ(shortf, longf);
  ASSERT_EQ(shortf.size(), 1u);
  EXPECT_EQ(key(shortf[0]),
            "--dir=BWD_W --dt=f32 g2mb2ic6ih9iw11oc4oh4ow11kh3kw5sh2sw1ph1pw2dh1dw0");
}

TEST(DriverCmd, AcceptsALeadingPathAndIgnoresFlagsThatDoNotChangeTheProblem) {
  auto ps = ok_cmd(
      "./bin/MIOpenDriver conv -n 1 -c 16 -H 44 -W 44 -k 32 -y 3 -x 3 -p 1 -q 1 -F 1 -t 1 "
      "-V 0 -i 5 -s 1 -w 1 -P 0 -S 4 -a b.bin -I NCHW -z default -o 0 -e w.bin -r 0 -f NCHW "
      "-U -1 -C /tmp/cache -G 0");
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].ih, 44);
  EXPECT_EQ(ps[0].layout, Layout::nchw);
}

TEST(DriverCmd, LayoutFlagsSelectNhwc) {
  EXPECT_EQ(ok_cmd("conv -F 1 -I NHWC")[0].layout, Layout::nhwc);
  EXPECT_EQ(ok_cmd("conv -F 1 -I NHWC -O NHWC")[0].layout, Layout::nhwc);
  EXPECT_NE(rejection("conv -F 1 -I NHWC -O NCHW").find("not supported"), std::string::npos);
}

TEST(DriverCmd, PadModeSameAndValidReplaceThePads) {
  EXPECT_EQ(ok_cmd("conv -F 1 -H 56 -W 56 -y 3 -x 3 -u 2 -v 2 -z same")[0].ph, 0);
  auto same = ok_cmd("conv -F 1 -H 32 -W 32 -y 5 -x 5 -z same")[0];
  EXPECT_EQ(same.ph, 2);
  EXPECT_EQ(same.oh, 32);
  EXPECT_EQ(ok_cmd("conv -F 1 -p 2 -q 2 -z valid")[0].ph, 0);
}

TEST(DriverCmd, RejectsTransposedAnd3DByName) {
  EXPECT_EQ(rejection("conv -m trans -F 1"), "not supported: transposed convolution (-m trans)");
  EXPECT_EQ(rejection("conv -_ 3 -F 1"), "not supported: 3-D convolution (-_ 3)");
  EXPECT_EQ(rejection("conv --spatial_dim 3"), "not supported: 3-D convolution (-_ 3)");
}

TEST(DriverCmd, RejectsUnknownFlagsAndBadValuesNamingThem) {
  EXPECT_EQ(rejection("conv -K 3"), "unknown MIOpenDriver flag -K");
  EXPECT_EQ(rejection("conv --frobnicate 3"), "unknown MIOpenDriver flag --frobnicate");
  EXPECT_NE(rejection("conv -n abc").find("invalid -n abc (batchsize)"), std::string::npos);
  EXPECT_NE(rejection("conv -n 0").find("invalid -n 0 (batchsize)"), std::string::npos);
  EXPECT_NE(rejection("conv -p -1").find("invalid -p -1 (pad_h)"), std::string::npos);
  EXPECT_EQ(rejection("conv -n"), "missing value for -n");
  EXPECT_NE(rejection("conv 7").find("unexpected word '7'"), std::string::npos);
  EXPECT_NE(rejection("conv -U fp8").find("not supported: cast types"), std::string::npos);
}

TEST(DriverCmd, ValidatesTheResultingProblem) {
  EXPECT_NE(rejection("conv -c 6 -k 4 -g 4").find("invalid ic=6: not divisible by g=4"),
            std::string::npos);
  EXPECT_NE(rejection("conv -H 2 -W 2 -y 3 -x 3").find("invalid kh=3"), std::string::npos);
}

TEST(DriverCmd, ProblemsRoundTripThroughTheirKey) {
  for (const Problem& p : ok_cmd("convbfp16 -n 3 -c 8 -H 17 -W 9 -k 16 -y 1 -x 7 -q 3 -g 2 "
                                 "-I NHWC -b 1")) {
    Result<Problem> back = parse_problem(to_string(p));
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(*back, p);
  }
}

}  // namespace
}  // namespace convguard
