#include "report/conclusions.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "testing/fake_probers.h"
#include "testing/temp_dir.h"

namespace convguard {
namespace {

namespace fs = std::filesystem;

Problem seed_base() {
  auto p = parse_problem("--dir=FWD_D mb1ic16ih8oc32kh3ph1");
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return *p;
}

BoundaryOptions seed_axis() {
  BoundaryOptions o;
  o.axis = {"ih", 8, 512, 2};
  o.tie = {"iw"};
  return o;
}

// A store as `convguard boundary` leaves it: the search's probes in a run, and (when
// `keep`) its conclusion.
class ConclusionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_test_dir("cg_conclusions_test");
    auto s = Store::open((dir_ / "runs.db").string());
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(*s);
    RunInfo run;
    run.command = "convguard boundary --axis ih=8:512:2 --tie iw";
    run.engine = "fake";
    run_ = *store_->begin_run(run);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  // Searches the seed's boundary (42 ok, 44 hangs), records its probes, and keeps its
  // conclusion when asked; returns the probes as a report reads them.
  std::vector<ProbeResult> search(bool keep) {
    testing::FakeProber prober(testing::seed_rule);
    auto r = find_boundary(prober, seed_base(), seed_axis());
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    std::vector<ResultRecord> batch;
    std::vector<ProbeResult> probes;
    for (const auto& e : r->evidence) {
      batch.push_back({-1, e.result});
      probes.push_back(e.result);
    }
    EXPECT_TRUE(store_->record(run_, "fp", batch).ok());
    if (keep) {
      auto ids = store_->record_conclusions(
          run_, {conclusion_of(*r, seed_base(), "default", "fake", "fp")});
      EXPECT_TRUE(ids.ok()) << ids.status().to_string();
    }
    return probes;
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
  int64_t run_ = 0;
};

TEST_F(ConclusionsTest, TheReportPrintsTheStoredConfirmedBoundary) {
  const auto probes = search(true);
  auto bs = load_report_boundaries(*store_, {}, probes);
  ASSERT_TRUE(bs.ok()) << bs.status().to_string();
  EXPECT_EQ(bs->source, BoundarySource::stored);
  ASSERT_EQ(bs->boundaries.size(), 1u);
  EXPECT_TRUE(bs->boundaries[0].result.confirmed);
  ReportInput in;
  in.probes = probes;
  in.boundary_source = bs->source;
  for (const auto& b : bs->boundaries) in.boundaries.push_back(b.result);
  const std::string md = report_markdown(in);
  EXPECT_NE(md.find("- 16→32: largest ok: 42x42, first failing: 44x44 (hang, execute) — "),
            std::string::npos)
      << md;
  EXPECT_NE(md.find(" probes, confirmed\n"), std::string::npos) << md;
  EXPECT_EQ(md.find("not confirmed"), std::string::npos) << md;
}

TEST_F(ConclusionsTest, AStoreWithoutConclusionsDerivesTheBoundaryAndSaysSo) {
  const auto probes = search(false);
  auto bs = load_report_boundaries(*store_, {}, probes);
  ASSERT_TRUE(bs.ok()) << bs.status().to_string();
  EXPECT_EQ(bs->source, BoundarySource::derived);
  ASSERT_EQ(bs->boundaries.size(), 1u);
  EXPECT_FALSE(bs->boundaries[0].stored);
  ReportInput in;
  in.probes = probes;
  in.boundary_source = bs->source;
  in.boundaries = {bs->boundaries[0].result};
  const std::string md = report_markdown(in);
  EXPECT_NE(md.find("first failing: 44x44 (hang, execute) — "), std::string::npos) << md;
  EXPECT_NE(md.find(" probes, derived from probes, not confirmed\n"), std::string::npos) << md;
  const auto j = nlohmann::json::parse(boundary_json_lines(*bs));
  EXPECT_EQ(j["source"], "derived");
  EXPECT_FALSE(j.contains("id"));
}

TEST_F(ConclusionsTest, JsonLinesNameTheStoredConclusionAndItsRun) {
  const auto probes = search(true);
  auto bs = load_report_boundaries(*store_, {}, probes);
  ASSERT_TRUE(bs.ok()) << bs.status().to_string();
  const auto j = nlohmann::json::parse(boundary_json_lines(*bs));
  EXPECT_EQ(j["source"], "stored");
  EXPECT_EQ(j["run"], run_);
  EXPECT_GT(j["id"].get<int64_t>(), 0);
  EXPECT_EQ(j["confirmed"], true);
  EXPECT_EQ(j["largest_ok"], 42);
  EXPECT_EQ(j["first_failing"], 44);
}

TEST_F(ConclusionsTest, TheNewestConclusionOfALineWins) {
  const auto probes = search(true);
  testing::FakeProber prober(testing::seed_rule);
  auto again = find_boundary(prober, seed_base(), seed_axis());
  ASSERT_TRUE(again.ok());
  again->confirmed = false;
  again->notes = {"re-run"};
  ASSERT_TRUE(store_->record_conclusions(
                        run_, {conclusion_of(*again, seed_base(), "default", "fake", "fp")})
                  .ok());
  auto bs = load_report_boundaries(*store_, {}, probes);
  ASSERT_TRUE(bs.ok());
  ASSERT_EQ(bs->boundaries.size(), 1u);
  EXPECT_FALSE(bs->boundaries[0].result.confirmed);
  EXPECT_EQ(bs->boundaries[0].result.notes, std::vector<std::string>{"re-run"});
}

TEST_F(ConclusionsTest, AFrontierLineIsKeyedByItsOwnBaseProblem) {
  BoundaryResult r;
  r.axis = "ih";
  r.tie = {"iw"};
  r.over = {{"ic", 32}};
  const StoredConclusion c = conclusion_of(r, seed_base(), "default", "fake", "fp");
  EXPECT_EQ(c.kind, "boundary");
  auto line = parse_problem(c.problem);
  ASSERT_TRUE(line.ok()) << c.problem;
  EXPECT_EQ(line->ic, 32);
  EXPECT_EQ(c.over, "ic=32");
  EXPECT_EQ(c.tie, "iw");
  EXPECT_EQ(c.axis, "ih");
}

TEST_F(ConclusionsTest, ADamagedSummaryIsCorruptAndNamesTheConclusion) {
  StoredConclusion c;
  c.problem = "P";
  c.axis = "ih";
  c.summary_json = "{not json";
  auto ids = store_->record_conclusions(run_, {c});
  ASSERT_TRUE(ids.ok());
  auto bs = load_report_boundaries(*store_, {}, {});
  ASSERT_FALSE(bs.ok());
  EXPECT_EQ(bs.status().code(), Code::kCorrupt);
  EXPECT_NE(bs.status().message().find(std::to_string(ids->at(0))), std::string::npos)
      << bs.status().message();
}

}  // namespace
}  // namespace convguard
