#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <sys/stat.h>
#include <unistd.h>

#include "convguard/problem.h"
#include "model/limits.h"
#include "testing/hostile_inputs.h"

namespace convguard {
namespace {

namespace fs = std::filesystem;

Result<std::vector<Problem>> batch(std::string_view text, const Knobs& knobs = {}) {
  return parse_batch_text(text, knobs, "", "test.txt");
}

std::vector<Problem> ok_batch(std::string_view text, const Knobs& knobs = {}) {
  Result<std::vector<Problem>> r = batch(text, knobs);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : std::vector<Problem>{};
}

// A scratch folder removed when the test ends.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("convguard_batch_test_" + std::to_string(::testing::UnitTest::GetInstance()
                                                          ->random_seed()) +
             "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& rel, const std::string& text) const {
    const fs::path p = path_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }

 private:
  fs::path path_;
};

TEST(Batch, ReadsDescriptorLinesAndSkipsCommentsAndBlankLines) {
  auto ps = ok_batch("# a comment\n\nmb1ic3ih5oc4kh3  # trailing\n  mb2ic3ih6oc4kh3ph1\n");
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0].oh, 3);
  EXPECT_EQ(ps[0].dir, Dir::FWD_B);
  EXPECT_EQ(ps[1].mb, 2);
  EXPECT_EQ(ps[1].oh, 6);
}

TEST(Batch, KnobLinesApplyToTheLinesAfterThem) {
  auto ps = ok_batch("mb1ic3ih5oc4kh3\n--dir=BWD_D\n--dt=f16\nmb1ic3ih5oc4kh3\n");
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0].dir, Dir::FWD_B);
  EXPECT_EQ(ps[0].dt, DataType::f32);
  EXPECT_EQ(ps[1].dir, Dir::BWD_D);
  EXPECT_EQ(ps[1].dt, DataType::f16);
}

TEST(Batch, KnobsAndADescriptorMayShareALine) {
  auto ps = ok_batch("--dir=BWD_D mb1ic3ih5oc4kh3\nmb1ic3ih7oc4kh3\n");
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0].dir, Dir::BWD_D);
  EXPECT_EQ(ps[1].dir, Dir::BWD_D);
}

TEST(Batch, ListsExpandToTheCartesianProductInBenchdnnOrder) {
  auto ps = ok_batch("--dir=FWD_D,BWD_W --dt=f32,bf16 --stag=abx,axb mb1ic3ih5oc4kh3\n");
  ASSERT_EQ(ps.size(), 8u);
  EXPECT_EQ(ps[0].dir, Dir::FWD_D);
  EXPECT_EQ(ps[0].dt, DataType::f32);
  EXPECT_EQ(ps[0].layout, Layout::nchw);
  EXPECT_EQ(ps[1].layout, Layout::nhwc);
  EXPECT_EQ(ps[2].dt, DataType::bf16);
  EXPECT_EQ(ps[4].dir, Dir::BWD_W);
  EXPECT_EQ(ps[7].dir, Dir::BWD_W);
  EXPECT_EQ(ps[7].dt, DataType::bf16);
  EXPECT_EQ(ps[7].layout, Layout::nhwc);
}

TEST(Batch, MbKnobOverridesTheDescriptorAndZeroKeepsIt) {
  auto ps = ok_batch("--mb=8 mb1ic3ih5oc4kh3\n--mb=0 mb3ic3ih5oc4kh3\n");
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0].mb, 8);
  EXPECT_EQ(ps[1].mb, 3);
}

TEST(Batch, ResetRestoresTheCallersKnobs) {
  Knobs k;
  k.dirs = {Dir::BWD_W};
  auto ps = ok_batch("--dir=FWD_D --dt=f16 --mb=4\nmb1ic3ih5oc4kh3\n--reset\nmb1ic3ih5oc4kh3\n", k);
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0].dir, Dir::FWD_D);
  EXPECT_EQ(ps[1].dir, Dir::BWD_W);
  EXPECT_EQ(ps[1].dt, DataType::f32);
  EXPECT_EQ(ps[1].mb, 1);
}

TEST(Batch, KeepsQuotedNamesWithSpacesAndHashes) {
  auto ps = ok_batch("mb1ic3ih5oc4kh3n\"layer #1 a\" # comment\n");
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].name, "layer #1 a");
}

TEST(Batch, AcceptsBenchdnnNoOpKnobs) {
  EXPECT_EQ(ok_batch("--conv --wtag=any --cfg=bf16bf16bf16 mb1ic3ih5oc4kh3\n")[0].dt,
            DataType::bf16);
}

TEST(Batch, ErrorsCarryFileAndLine) {
  Result<std::vector<Problem>> r = batch("mb1ic3ih5oc4kh3\n\nmb1ic3ih5oc4oh4kh3\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("test.txt:3: invalid oh=4", 0), 0u) << r.status().message();
  r = batch("--dir=SIDEWAYS\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("test.txt:1: invalid dir=SIDEWAYS", 0), 0u);
  r = batch("mb1ic3ih5oc4kh3n\"open\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("test.txt:1: unterminated quote", 0), 0u);
}

TEST(Batch, RejectsUnknownKnobsAndTransposedConvolutionByName) {
  Result<std::vector<Problem>> r = batch("--attr-post-ops=relu\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown knob --attr-post-ops=relu"), std::string::npos);
  r = batch("--prim=deconv mb1ic3ih5oc4kh3\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not supported: transposed convolution (--prim=deconv)"),
            std::string::npos);
  r = batch("--mb=-1\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("invalid mb=-1"), std::string::npos);
}

TEST(Batch, NestedBatchFilesResolveAgainstTheIncludingFilesFolder) {
  TempDir dir;
  dir.write("sub/inner.txt", "mb1ic3ih5oc4kh3n\"inner\"\n--dir=BWD_W\n");
  dir.write("sub/deeper/leaf.txt", "mb1ic3ih9oc4kh3n\"leaf\"\n");
  const std::string outer =
      dir.write("outer.txt", "--dir=FWD_D --batch=sub/inner.txt\nmb1ic3ih7oc4kh3n\"after\"\n"
                             "--batch=sub/deeper/leaf.txt\n");
  Result<std::vector<Problem>> r = parse_batch_file(outer, Knobs{});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].name, "inner");
  EXPECT_EQ((*r)[0].dir, Dir::FWD_D);
  // As in benchdnn, a knob set inside a nested file stays in effect after it.
  EXPECT_EQ((*r)[1].name, "after");
  EXPECT_EQ((*r)[1].dir, Dir::BWD_W);
  EXPECT_EQ((*r)[2].name, "leaf");
}

TEST(Batch, NestedErrorsNameTheNestedFileAndLine) {
  TempDir dir;
  const std::string inner = dir.write("inner.txt", "mb1ic3ih5oc4kh3\nic0ih5oc4kh3\n");
  const std::string outer = dir.write("outer.txt", "--batch=inner.txt\n");
  Result<std::vector<Problem>> r = parse_batch_file(outer, Knobs{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind(inner + ":2: invalid ic=0", 0), 0u)
      << r.status().message();
}

TEST(Batch, MissingNestedFileNamesTheIncludingLine) {
  TempDir dir;
  const std::string outer = dir.write("outer.txt", "\n--batch=nope.txt\n");
  Result<std::vector<Problem>> r = parse_batch_file(outer, Knobs{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind(outer + ":2: cannot read batch file", 0), 0u)
      << r.status().message();
  EXPECT_FALSE(parse_batch_file(outer + ".absent", Knobs{}).ok());
}

TEST(Batch, KnobListsThatWouldExpandPastTheCapAreInvalidBeforeExpanding) {
  const std::string line = testing::huge_knob_line();
  Result<std::vector<Problem>> r = batch(line);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("8000000000 problems"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find(std::to_string(kMaxProblems)), std::string::npos);
  // Just under the cap is fine: 2 x 50,000 descriptors of one combination.
  std::string many = "--dir=FWD_D,BWD_D\n";
  for (int i = 0; i < 50000; ++i) many += "mb1ic4ih8oc4kh3\n";
  EXPECT_EQ(ok_batch(many).size(), 100000u);
  EXPECT_FALSE(batch(many + "mb1ic4ih8oc4kh3\n").ok());
}

TEST(Batch, APathThatIsNoReadableFileIsInvalidNamingIt) {
  TempDir dir;
  const std::string locked = dir.write("locked.txt", "mb1ic4ih8oc4kh3\n");
  ::chmod(locked.c_str(), 0);
  const fs::path base = fs::path(locked).parent_path();
  fs::create_directories(base / "sub");
  ASSERT_EQ(::mkfifo((base / "fifo").c_str(), 0644), 0);
  std::vector<std::string> paths = {base / "sub", base / "fifo", base / "missing.txt"};
  if (::geteuid() != 0) paths.push_back(locked);  // root reads any file
  for (const std::string& path : paths) {
    Result<std::vector<Problem>> r = parse_batch_file(path, Knobs{});
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.status().code(), Code::kInvalid) << r.status().to_string();
    EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
  }
}

TEST(Batch, RecursiveIncludesStopAtTheDepthLimit) {
  TempDir dir;
  const std::string self = dir.write("self.txt", "mb1ic3ih5oc4kh3\n--batch=self.txt\n");
  Result<std::vector<Problem>> r = parse_batch_file(self, Knobs{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nest deeper than"), std::string::npos)
      << r.status().message();
}

TEST(Batch, EveryShippedShapeListParsesAsABatch) {
  for (const auto& [file, count] : std::vector<std::pair<std::string, size_t>>{
           {"resnet50.txt", 23}, {"mobilenet_v1.txt", 20}, {"small.txt", 12}, {"seed.txt", 12}}) {
    Result<std::vector<Problem>> r =
        parse_batch_file(CONVGUARD_SOURCE_DIR "/shapes/" + file, Knobs{});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->size(), count) << file;
  }
  Result<std::vector<Problem>> seed =
      parse_batch_file(CONVGUARD_SOURCE_DIR "/shapes/seed.txt", Knobs{});
  ASSERT_TRUE(seed.ok());
  for (const Problem& p : *seed) {
    EXPECT_EQ(p.dir, Dir::FWD_D);
    EXPECT_EQ(p.mb, 1);
    EXPECT_EQ(p.kh, 3);
  }
  EXPECT_EQ(key((*seed)[4]),
            "--dir=FWD_D --dt=f32 g1mb1ic16ih44iw44oc32oh44ow44kh3kw3sh1sw1ph1pw1dh0dw0");
}

TEST(Batch, SmallListStaysSmall) {
  Result<std::vector<Problem>> r =
      parse_batch_file(CONVGUARD_SOURCE_DIR "/shapes/small.txt", Knobs{});
  ASSERT_TRUE(r.ok());
  for (const Problem& p : *r) EXPECT_LT(p.flops(), 1e7) << to_string(p);
}

TEST(SplitWords, KeepsQuotedSpansTogetherAndHonoursComments) {
  Result<std::vector<std::string>> w = split_words("a n\"b c\"d  # e", true);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, (std::vector<std::string>{"a", "n\"b c\"d"}));
  w = split_words("-# 2 x", false);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->size(), 3u);
  EXPECT_FALSE(split_words("a \"b", true).ok());
}

}  // namespace
}  // namespace convguard
