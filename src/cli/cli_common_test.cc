#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/cli_isolation.h"

namespace convguard::cli {
namespace {

TEST(ProblemArgs, EveryKnobReachesGridProblems) {
  ProblemArgs a;
  a.grids = {"ic=4,8 ih=8 oc=4 kh=3 ph=1"};
  a.dirs = {"BWD_D"};
  a.dts = {"f16"};
  a.layouts = {"nhwc"};
  a.mb = 3;
  auto ps = a.problems();
  ASSERT_TRUE(ps.ok()) << ps.status().to_string();
  ASSERT_EQ(ps->size(), 2u);
  for (const Problem& p : *ps) {
    EXPECT_EQ(p.dir, Dir::BWD_D);
    EXPECT_EQ(p.dt, DataType::f16);
    EXPECT_EQ(p.layout, Layout::nhwc);
    EXPECT_EQ(p.mb, 3);
  }
  EXPECT_EQ((*ps)[0].ic, 4);
  EXPECT_EQ((*ps)[1].ic, 8);
}

TEST(ProblemArgs, GridsExpandForEveryDirectionDataTypeAndLayout) {
  ProblemArgs a;
  a.grids = {"ic=4 ih=8 oc=4 kh=3"};
  a.dirs = {"FWD_D", "BWD_W"};
  a.dts = {"f32", "bf16"};
  a.layouts = {"nchw", "nhwc"};
  auto ps = a.problems();
  ASSERT_TRUE(ps.ok()) << ps.status().to_string();
  EXPECT_EQ(ps->size(), 8u);
}

TEST(ProblemArgs, ANegativeMinibatchIsRejectedWithAGridAndNamesTheOption) {
  ProblemArgs a;
  a.grids = {"ic=4 ih=8 oc=4 kh=3"};
  a.mb = -1;
  auto ps = a.problems();
  ASSERT_FALSE(ps.ok());
  EXPECT_EQ(ps.status().code(), Code::kInvalid);
  EXPECT_NE(ps.status().message().find("--mb=-1"), std::string::npos) << ps.status().message();
}

TEST(ProblemArgs, ABadGridNamesItsToken) {
  ProblemArgs a;
  a.grids = {"icc=4"};
  auto ps = a.problems();
  ASSERT_FALSE(ps.ok());
  EXPECT_NE(ps.status().message().find("icc"), std::string::npos) << ps.status().message();
}

}  // namespace
}  // namespace convguard::cli

namespace convguard::cli {
namespace {

TEST(IsolationArgs, MiopenStateReachesTheWorkersAndSurvivesResume) {
  EngineArgs engine;
  engine.spec.name = "miopen";
  IsolationArgs iso;
  auto o = supervisor_options(engine, iso);
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->worker_env.count("CONVGUARD_MIOPEN_STATE"), 0u) << "private is the engine's default";
  iso.miopen_state = "user";
  o = supervisor_options(engine, iso);
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->worker_env.at("CONVGUARD_MIOPEN_STATE"), "user");
  auto back = IsolationArgs::from_json(iso.to_json());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->miopen_state, "user");
  iso.miopen_state = "";
  EXPECT_EQ(supervisor_options(engine, iso).status().code(), Code::kInvalid);
}

TEST(IsolationArgs, ExecFloorBecomesTheLeastExecuteDeadlineAndSurvivesResume) {
  EngineArgs engine;
  engine.spec.name = "ref";
  IsolationArgs iso;
  auto o = supervisor_options(engine, iso);
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->timeouts.execute_floor_min_s, PhaseTimeouts{}.execute_floor_min_s);
  iso.exec_floor = 0.05;
  o = supervisor_options(engine, iso);
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->timeouts.execute_floor_min_s, 0.05);
  auto back = IsolationArgs::from_json(iso.to_json());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->exec_floor, 0.05);
}

}  // namespace
}  // namespace convguard::cli
