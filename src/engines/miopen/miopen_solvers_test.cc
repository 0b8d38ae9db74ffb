#include "engines/miopen/miopen_solvers.h"

#include <gtest/gtest.h>

namespace convguard::miopen {
namespace {

TEST(MiopenSolvers, NamesIdsAsMiopenRegistersThem) {
  EXPECT_EQ(solver_name(1), "ConvAsm3x3U");
  EXPECT_EQ(solver_name(34), "fft");
  EXPECT_EQ(solver_name(53), "ConvBinWinogradRxSf2x3");
  EXPECT_EQ(solver_name(20), "ConvOclBwdWrW2_4");
  EXPECT_EQ(solver_name(85), "ConvDirectNaiveConvFwd");
  EXPECT_EQ(solver_name(91), "GemmFwdRest");
  EXPECT_EQ(solver_name(156), "ConvHipImplicitGemmGroupWrwXdlops");
}

TEST(MiopenSolvers, NamesUnknownAndRemovedIdsByNumber) {
  EXPECT_EQ(solver_name(10), "solver10");  // removed ConvOclDirectFwd3x3
  EXPECT_EQ(solver_name(9001), "solver9001");
  EXPECT_EQ(solver_id("solver9001"), 9001u);
}

TEST(MiopenSolvers, EveryNameReadsBackAsItsId) {
  for (uint64_t id = 1; id <= last_named_solver() + 3; ++id) {
    SCOPED_TRACE(id);
    EXPECT_EQ(solver_id(solver_name(id)), id);
  }
}

TEST(MiopenSolvers, RefusesNamesThatAreNoSolver) {
  for (const char* bad : {"", "solver", "solver0", "solver12x", "solver-1", "GemmFwd", "default"})
    EXPECT_FALSE(solver_id(bad).has_value()) << bad;
}

TEST(MiopenSolvers, JudgesWinogradByItsTileAndFftAsFft) {
  EXPECT_EQ(solver_class(2, "fft"), AlgoClass::fft);
  EXPECT_EQ(solver_class(3, "ConvBinWinogradRxSf2x3g1"), AlgoClass::winograd_4x4);
  EXPECT_EQ(solver_class(3, "ConvMPBidirectWinograd_4_3"), AlgoClass::winograd_6x6);
  EXPECT_EQ(solver_class(3, "ConvBinWinograd3x3U"), AlgoClass::winograd);
  EXPECT_EQ(solver_class(0, "GemmFwdRest"), AlgoClass::exact);
  EXPECT_EQ(solver_class(5, "ConvHipImplicitGemmFwdXdlops"), AlgoClass::exact);
}

}  // namespace
}  // namespace convguard::miopen
