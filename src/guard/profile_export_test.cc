#include "guard/profile_export.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

namespace convguard {
namespace {

ProfileProbe probe(int64_t id, const std::string& desc, const std::string& algo, Outcome o,
                   const std::string& impl = "") {
  auto p = parse_problem(desc);
  EXPECT_TRUE(p.ok()) << desc;
  ProbeResult r;
  r.problem = key(*p);
  r.dir = p->dir, r.dt = p->dt;
  r.engine = "cudnn";
  r.algo = algo;
  r.impl = impl;
  r.outcome = o;
  return {id, r, false};
}

// A card where engine 12 hangs forward at 50x50, a legacy Winograd is wrong backward, and
// "default" (engine 3) crashes grouped; engine 1 is fine.
Profile card() {
  std::vector<ProfileProbe> ps = {
      probe(1, "mb2ic4ih50oc8kh3ph1", "engine12", Outcome::hang),
      probe(2, "mb2ic4ih48oc8kh3ph1", "engine12", Outcome::ok),
      probe(3, "--dir=BWD_D mb1ic16ih20oc16kh3ph1", "bwd_data.WINOGRAD.tf32", Outcome::wrong),
      probe(4, "g2mb1ic8ih9oc8kh3ph1", "default", Outcome::crash, "engine3"),
      probe(5, "mb2ic4ih50oc8kh3ph1", "engine1", Outcome::ok),
      probe(6, "--dir=BWD_W mb1ic4ih12oc4kh5ph2", "bwd_filter.FFT.default", Outcome::crash)};
  auto prof = Profile::build({{"engine", "cudnn"},
                              {"cudnn", "9.10.2"},
                              {"compute_capability", "9.0"},
                              {"device", "NVIDIA H200"}},
                             ps);
  EXPECT_TRUE(prof.ok()) << prof.status().to_string();
  return *prof;
}

TEST(ProfileExport, FormatNamesAreCheckedAndTheBadOneNamed) {
  EXPECT_TRUE(parse_export_format("cudnn-errata").ok());
  auto bad = parse_export_format("onnx");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--as=onnx"), std::string::npos);
}

TEST(ProfileExport, CudnnErrataForAnyVersionHasNoVersionBracketAndSaysWhichItWasMeasuredOn) {
  const auto j = nlohmann::json::parse(
      export_profile(card(), ExportFormat::cudnn_errata, ExportOptions{.any_cudnn_version = true}));
  ASSERT_FALSE(j.at("rules").empty());
  for (const auto& r : j.at("rules")) {
    EXPECT_FALSE(r.contains("cudnn_version_start"));
    EXPECT_FALSE(r.contains("cudnn_version_end"));
  }
  EXPECT_NE(j.at("not_expressed").dump().find("evidence is of cuDNN 9.10.2"), std::string::npos)
      << j.at("not_expressed").dump();
}

// What cudnn_frontend's load_from_config and check_rule read: version, rules with
// operation (string), engine (integer), optional knob array, cuDNN versions as integers,
// shape_format when shapes are given.
TEST(ProfileExport, CudnnErrataIsWhatTheFrontendReads) {
  const auto j = nlohmann::json::parse(export_profile(card(), ExportFormat::cudnn_errata));
  EXPECT_EQ(j.at("version"), 1);
  ASSERT_TRUE(j.at("rules").is_array());
  std::set<std::string> tags;
  for (const auto& r : j.at("rules")) {
    ASSERT_TRUE(r.at("operation").is_string());
    ASSERT_TRUE(r.at("engine").is_number_integer());
    EXPECT_EQ(r.at("cudnn_version_start"), 91002);
    EXPECT_EQ(r.at("cudnn_version_end"), 91003);
    EXPECT_FALSE(r.contains("knob"));
    ASSERT_TRUE(r.at("shape_format") == "NCHW" || r.at("shape_format") == "NHWC");
    ASSERT_EQ(r.at("input_shape").size(), 4u);
    ASSERT_EQ(r.at("filter_shape").size(), 4u);
    EXPECT_TRUE(r.at("rule_id").is_string());
    // The frontend blocks a plan whose tag starts with "<operation>_eng<engine>_".
    tags.insert(r.at("operation").get<std::string>() + "_eng" +
                std::to_string(r.at("engine").get<int>()));
  }
  EXPECT_EQ(tags, (std::set<std::string>{"ConvFwd_eng12", "ConvFwd_eng3"}));
  nlohmann::json fwd;
  for (const auto& r : j.at("rules"))
    if (r.at("engine") == 12) fwd = r;
  EXPECT_EQ(fwd.at("input_shape"), nlohmann::json({2, 4, 50, 50}));
  EXPECT_EQ(fwd.at("filter_shape"), nlohmann::json({8, 4, 3, 3}));
  // Legacy algorithms are not engines: said, not dropped silently.
  const std::string notes = j.at("not_expressed").dump();
  EXPECT_NE(notes.find("bwd_data.WINOGRAD.tf32"), std::string::npos) << notes;
  EXPECT_NE(notes.find("bwd_filter.FFT.default"), std::string::npos) << notes;
}

// The text-proto grammar of an AlgorithmDenylist: comments, `name: scalar` and
// `name { ... }` with balanced braces, field names of the schema only, quoted strings with
// escapes.
void check_text_proto(const std::string& text) {
  static const std::set<std::string> kFields = {
      "entries", "hlo",           "backend_config", "cc",    "major", "minor",
      "patch",   "cudnn_version", "blas_version",   "algos", "id",    "tensor_ops"};
  const std::regex token(
      R"re(\s*(#[^\n]*|[A-Za-z_]+\s*:\s*("(\\.|[^"\\])*"|-?[0-9]+|true|false)|[A-Za-z_]+\s*\{|\}))re");
  int depth = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    std::smatch m;
    const std::string rest = text.substr(pos);
    if (rest.find_first_not_of(" \n\t") == std::string::npos) break;
    ASSERT_TRUE(std::regex_search(rest, m, token, std::regex_constants::match_continuous))
        << "bad text proto at: " << rest.substr(0, 80);
    const std::string t = m[1];
    if (t == "}")
      --depth;
    else if (t[0] != '#') {
      const std::string name = t.substr(0, t.find_first_of(" :{"));
      EXPECT_TRUE(kFields.count(name)) << name;
      if (t.back() == '{') ++depth;
    }
    ASSERT_GE(depth, 0);
    pos += static_cast<size_t>(m.length(0));
  }
  EXPECT_EQ(depth, 0);
}

TEST(ProfileExport, XlaDenylistIsATextProtoOfTheSchema) {
  const std::string text = export_profile(card(), ExportFormat::xla_denylist);
  check_text_proto(text);
  EXPECT_NE(text.find("cc { major: 9 minor: 0 }"), std::string::npos) << text;
  EXPECT_NE(text.find("cudnn_version { major: 9 minor: 10 patch: 2 }"), std::string::npos);
  // The legacy Winograd with TF32 math: cudnnConvolutionBwdDataAlgo_t 4, tensor ops.
  EXPECT_NE(text.find("algos { id: 4 tensor_ops: true }"), std::string::npos) << text;
  EXPECT_NE(text.find("custom_call_target=\\\"__cudnn$convBackwardInput\\\""), std::string::npos);
  EXPECT_NE(text.find("(f32[2,8,50,50]{3,2,1,0}, u8[0]{0}) custom-call(f32[2,4,50,50]{3,2,1,0}, "
                      "f32[8,4,3,3]{3,2,1,0}), window={size=3x3 pad=1_1x1_1}, "
                      "dim_labels=bf01_oi01->bf01"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("feature_group_count=2"), std::string::npos);
}

// A gfx1010 card where MIOpen's Winograd and implicit GEMM solvers fail; a direct one is fine.
Profile miopen_card() {
  std::vector<ProfileProbe> ps = {
      probe(1, "mb2ic4ih50oc8kh3ph1", "ConvBinWinogradRxSf3x2", Outcome::hang),
      probe(2, "mb2ic4ih50oc8kh3ph1", "ConvHipImplicitGemmV4R1Fwd", Outcome::wrong),
      probe(3, "mb2ic4ih50oc8kh3ph1", "ConvOclDirectFwd", Outcome::ok),
      probe(4, "mb2ic4ih50oc8kh3ph1", "default", Outcome::crash, "solver9001")};
  auto prof = Profile::build({{"engine", "miopen"}, {"device", "gfx1010"}}, ps);
  EXPECT_TRUE(prof.ok()) << prof.status().to_string();
  return *prof;
}

// The variables a text exports; every other line is a comment or empty.
std::set<std::string> exported(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::set<std::string> vars;
  const std::regex assign(R"(export (MIOPEN_DEBUG_CONV_[A-Z_]+)=0)");
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::smatch m;
    EXPECT_TRUE(std::regex_match(line, m, assign)) << line;
    if (!m.empty()) vars.insert(m[1]);
  }
  return vars;
}

TEST(ProfileExport, MiopenVariablesAreValidShellAndNameTheFailingSolversFamilies) {
  const std::string text = export_profile(miopen_card(), ExportFormat::miopen_env);
  EXPECT_EQ(exported(text), (std::set<std::string>{"MIOPEN_DEBUG_CONV_WINOGRAD",
                                                   "MIOPEN_DEBUG_CONV_IMPLICIT_GEMM"}));
  // An unknown solver names no family: said in a comment.
  EXPECT_NE(text.find("Not expressed"), std::string::npos);
  EXPECT_NE(text.find("solver9001"), std::string::npos);
  const auto file = std::filesystem::temp_directory_path() / "cg_miopen_env_test.sh";
  std::ofstream(file) << text;
  EXPECT_EQ(std::system(("bash -n '" + file.string() + "'").c_str()), 0);
  std::filesystem::remove(file);
}

TEST(ProfileExport, AnotherEnginesProfileSwitchesNoMiopenFamilyOff) {
  const std::string text = export_profile(card(), ExportFormat::miopen_env);
  EXPECT_TRUE(exported(text).empty()) << text;
  EXPECT_NE(text.find("engine cudnn"), std::string::npos) << text;
  EXPECT_NE(text.find("bwd_data.WINOGRAD.tf32"), std::string::npos) << "listed as not expressed";
}

}  // namespace
}  // namespace convguard
