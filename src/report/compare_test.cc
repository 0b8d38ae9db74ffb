#include "report/compare.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "testing/temp_dir.h"

namespace convguard {
namespace {

namespace fs = std::filesystem;
using Fingerprint = std::map<std::string, std::string>;
using Rule = std::function<Outcome(int64_t ih)>;

// The seed's two "ROCm versions": the same bundled MIOpen and rocBLAS under both labels.
const Fingerprint kRocm52 = {{"engine", "miopen"},
                             {"miopen", "2.20.0"},
                             {"rocblas", "3.1.0"},
                             {"device", "AMD Radeon RX 5600 XT"},
                             {"arch", "gfx1010"},
                             {"env.HSA_OVERRIDE_GFX_VERSION", "10.3.0"}};
Fingerprint rocm57() {
  Fingerprint f = kRocm52;
  f.erase("env.HSA_OVERRIDE_GFX_VERSION");
  f["env.MIOPEN_FIND_MODE"] = "1";
  return f;
}

// Like quirks/rx5600xt-rocm57.json and quirks/nonmonotonic.json.
Outcome seed_rule(int64_t ih) { return ih >= 44 ? Outcome::hang : Outcome::ok; }
Outcome islands_rule(int64_t ih) {
  return (ih >= 44 && ih <= 48) || (ih >= 56 && ih <= 60) ? Outcome::hang : Outcome::ok;
}

ProbeResult fake(int64_t ih, Outcome o, const std::string& name = "") {
  Problem base;
  base.dir = Dir::FWD_D;
  auto p = parse_problem("mb1ic16ih" + std::to_string(ih) + "oc32kh3ph1", base);
  EXPECT_TRUE(p.ok());
  ProbeResult r;
  r.problem = key(*p);
  r.name = name;
  r.dir = Dir::FWD_D;
  r.engine = "miopen";
  r.algo = "default";
  r.outcome = o;
  if (o != Outcome::ok) r.message = "phase execute ran past its deadline";
  return r;
}

class CompareTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::fresh_test_dir("cg_compare_test"); }
  void TearDown() override { fs::remove_all(dir_); }

  // Adds a run over ih = 32..64 step 2 (plus `extra_ih`) to the store file `file`.
  std::string add_run(const std::string& file, const std::string& label, const Fingerprint& fp,
                      const Rule& rule, int64_t extra_ih) {
    const std::string path = (dir_ / file).string();
    auto store = Store::open(path);
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    RunInfo run;
    run.command = "convguard sweep";
    run.engine = "miopen";
    run.fingerprint_json = fingerprint_json(fp);
    run.fingerprint_hash = fingerprint_hash(fp);
    run.options_json = nlohmann::json{{"label", label}}.dump();
    auto id = (*store)->begin_run(run);
    EXPECT_TRUE(id.ok());
    std::vector<ResultRecord> batch;
    for (int64_t ih = 32; ih <= 64; ih += 2) batch.push_back({-1, fake(ih, rule(ih))});
    batch.push_back({-1, fake(extra_ih, rule(extra_ih), "odd | one")});
    EXPECT_TRUE((*store)->record(*id, run.fingerprint_hash, batch).ok());
    return path + ":" + std::to_string(*id);
  }

  RunComparison seed_comparison() {
    const std::string a = add_run("rocm52.db", "ROCm 5.2", kRocm52, seed_rule, 33);
    const std::string b = add_run("rocm57.db", "ROCm 5.7", rocm57(), islands_rule, 35);
    auto c = compare_run_refs(a, b, "");
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return c.ok() ? *c : RunComparison{};
  }

  fs::path dir_;
};

TEST_F(CompareTest, SaysPlainlyThatDifferentLabelsUsedTheSameLibraries) {
  const RunComparison c = seed_comparison();
  EXPECT_TRUE(c.same_libraries);
  const std::string md = to_markdown(c);
  const std::string first = md.substr(0, md.find('\n'));
  EXPECT_EQ(first,
            "These runs used the same libraries: miopen 2.20.0, rocblas 3.1.0 (although they are "
            "labelled \"ROCm 5.2\" and \"ROCm 5.7\").");
  EXPECT_EQ(to_json(c)["same_libraries"], true);
  EXPECT_EQ(to_json(c)["libraries_line"], first);
}

TEST_F(CompareTest, ListsFingerprintDifferencesKeyByKey) {
  const RunComparison c = seed_comparison();
  ASSERT_EQ(c.differences.size(), 2u);
  EXPECT_EQ(c.differences[0].key, "env.HSA_OVERRIDE_GFX_VERSION");
  EXPECT_EQ(c.differences[0].category, "environment");
  EXPECT_EQ(c.differences[0].a, "10.3.0");
  EXPECT_EQ(c.differences[0].b, std::nullopt);
  EXPECT_EQ(c.differences[1].key, "env.MIOPEN_FIND_MODE");
  EXPECT_EQ(c.differences[1].a, std::nullopt);
  const std::string md = to_markdown(c);
  EXPECT_NE(md.find("| env.HSA_OVERRIDE_GFX_VERSION | environment | 10.3.0 | (unset) |"),
            std::string::npos)
      << md;
}

TEST_F(CompareTest, ListsProblemsThatChangedOutcomeAndThoseOnlyOneRunProbed) {
  const RunComparison c = seed_comparison();
  // Hangs from 44 against hangs at 44..48 and 56..60: 50..54 and 62..64 recovered.
  std::vector<std::string> changed;
  for (const auto& ch : c.changed) {
    EXPECT_EQ(ch.a, Outcome::hang);
    EXPECT_EQ(ch.b, Outcome::ok);
    changed.push_back(ch.problem.substr(ch.problem.find("ih") + 2, 2));
  }
  EXPECT_EQ(changed, (std::vector<std::string>{"50", "52", "54", "62", "64"}));
  EXPECT_EQ(c.unchanged, 17 - 5);
  ASSERT_EQ(c.only_a.size(), 1u);
  ASSERT_EQ(c.only_b.size(), 1u);
  EXPECT_NE(c.only_a[0].problem.find("ih33"), std::string::npos);
  EXPECT_EQ(c.only_a[0].b, std::nullopt);
  EXPECT_EQ(c.counts_a.at(Outcome::hang), 11);
  EXPECT_EQ(c.counts_b.at(Outcome::hang), 6);
  const std::string md = to_markdown(c);
  EXPECT_NE(md.find("## Outcome changes (5)"), std::string::npos);
  EXPECT_NE(md.find("odd \\| one"), std::string::npos) << "a '|' in a name must not split a cell";
  const nlohmann::json j = to_json(c);
  EXPECT_EQ(j["changed"].size(), 5u);
  EXPECT_EQ(j["only_b"][0]["a"], nullptr);
  EXPECT_EQ(j["a"]["label"], "ROCm 5.2");
}

TEST_F(CompareTest, NamesTheLibrariesThatChanged) {
  Fingerprint newer = kRocm52;
  newer["miopen"] = "3.0.0";
  const std::string a = add_run("one.db", "old", kRocm52, seed_rule, 33);
  const std::string b = add_run("one.db", "new", newer, seed_rule, 33);
  auto c = compare_run_refs("1", "2", (dir_ / "one.db").string());
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_FALSE(c->same_libraries);
  EXPECT_EQ(libraries_line(*c), "These runs used different libraries: miopen 2.20.0 -> 3.0.0.");
  EXPECT_TRUE(c->changed.empty());
  EXPECT_EQ(c->unchanged, 18);
}

TEST_F(CompareTest, SameLabelsNeedNoRemark) {
  const std::string a = add_run("one.db", "same", kRocm52, seed_rule, 33);
  const std::string b = add_run("one.db", "same", kRocm52, seed_rule, 33);
  auto c = compare_run_refs(a, "latest", (dir_ / "one.db").string());
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->b.run.id, 2);
  EXPECT_EQ(libraries_line(*c), "These runs used the same libraries: miopen 2.20.0, rocblas 3.1.0.");
  EXPECT_NE(to_markdown(*c).find("The fingerprints are identical."), std::string::npos);
}

TEST_F(CompareTest, RefusesAnUnknownRun) {
  add_run("one.db", "a", kRocm52, seed_rule, 33);
  auto c = compare_run_refs("1", "9", (dir_ / "one.db").string());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalid);
  EXPECT_NE(c.status().message().find("9"), std::string::npos);
  EXPECT_FALSE(compare_run_refs("1", (dir_ / "missing.db").string(), "").ok());
}

TEST_F(CompareTest, WritesMarkdownOrJsonForTheReportCommand) {
  const std::string a = add_run("rocm52.db", "ROCm 5.2", kRocm52, seed_rule, 33);
  const std::string b = add_run("rocm57.db", "ROCm 5.7", rocm57(), islands_rule, 35);
  const std::string md = (dir_ / "cmp.md").string(), js = (dir_ / "cmp.json").string();
  ASSERT_TRUE(write_comparison(a, b, "", false, md).ok());
  ASSERT_TRUE(write_comparison(a, b, "", true, js).ok());
  std::ifstream md_in(md), js_in(js);
  std::string first;
  std::getline(md_in, first);
  EXPECT_EQ(first.rfind("These runs used the same libraries:", 0), 0u) << first;
  const auto j = nlohmann::json::parse(js_in, nullptr, false);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["changed"].size(), 5u);
  // A store that is not there is the user's input, like any missing file: exit 2.
  EXPECT_EQ(write_comparison(a, "nope", "", false, md).code(), Code::kInvalid);
}

TEST(RunRef, ParsesIdsFilesAndFilesWithIds) {
  auto r = parse_run_ref("7", "runs.db");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->store_path, "runs.db");
  EXPECT_EQ(r->run_id, 7);
  r = parse_run_ref("latest", "runs.db");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->run_id, std::nullopt);
  r = parse_run_ref("other.db:3", "runs.db");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->store_path, "other.db");
  EXPECT_EQ(r->run_id, 3);
  r = parse_run_ref("dir:x/other.db", "runs.db");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->store_path, "dir:x/other.db");
  EXPECT_EQ(r->run_id, std::nullopt);
  EXPECT_FALSE(parse_run_ref("", "runs.db").ok());
  EXPECT_FALSE(parse_run_ref("7", "").ok());
}

TEST(FingerprintCategory, SortsKeysIntoLibraryDeviceEnvironment) {
  EXPECT_STREQ(fingerprint_category("cudnn"), "library");
  EXPECT_STREQ(fingerprint_category("cuda_runtime"), "library");
  EXPECT_STREQ(fingerprint_category("version"), "library");
  EXPECT_STREQ(fingerprint_category("driver"), "library");
  EXPECT_STREQ(fingerprint_category("device"), "device");
  EXPECT_STREQ(fingerprint_category("compute_capability"), "device");
  EXPECT_STREQ(fingerprint_category("cpu_isa"), "device");
  EXPECT_STREQ(fingerprint_category("env.MIOPEN_FIND_ENFORCE"), "environment");
  EXPECT_STREQ(fingerprint_category("engine"), "other");
}

TEST(RunLabel, PrefersTheOptionsLabelThenTheFingerprintsThenTheId) {
  RunInfo r;
  r.id = 4;
  EXPECT_EQ(run_label(r), "run 4");
  r.fingerprint_json = R"({"label":"fp label"})";
  EXPECT_EQ(run_label(r), "fp label");
  r.options_json = R"({"label":"ROCm 5.2"})";
  EXPECT_EQ(run_label(r), "ROCm 5.2");
}

}  // namespace
}  // namespace convguard
