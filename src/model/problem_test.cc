#include "convguard/problem.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace convguard {
namespace {

Problem parsed(std::string_view text, const Problem& base = {}) {
  Result<Problem> p = parse_descriptor(text, base);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status().to_string();
  return p.ok() ? *p : Problem{};
}

// The message of a rejected descriptor ("" if it was accepted).
std::string rejection(std::string_view text) {
  Result<Problem> p = parse_descriptor(text);
  EXPECT_FALSE(p.ok()) << text << " was accepted as " << (p.ok() ? to_string(*p) : "");
  if (p.ok()) return "";
  EXPECT_EQ(p.status().code(), Code::kInvalid);
  return p.status().message();
}

constexpr std::string_view kSeed44 = "g1mb1ic16ih44iw44oc32oh44ow44kh3kw3sh1sw1ph1pw1dh0dw0";

TEST(Descriptor, AppliesBenchdnnDefaultsAndDeducesTheOutput) {
  Problem p = parsed("ic16ih44oc32kh3ph1");
  EXPECT_EQ(p.g, 1);
  EXPECT_EQ(p.mb, 2);
  EXPECT_EQ(p.sh, 1);
  EXPECT_EQ(p.dh, 0);
  EXPECT_EQ(p.oh, 44);
  EXPECT_EQ(p.dir, Dir::FWD_B);
}

TEST(Descriptor, DeducesPaddingFromAGivenOutputSize) {
  EXPECT_EQ(parsed("mb1ic16ih44oc32oh44kh3").ph, 1);
  EXPECT_EQ(parsed("mb1ic16ih44oc32oh42kh3").ph, 0);
  EXPECT_EQ(parsed("mb1ic8ih10oc8oh14kh3").ph, 3);
}

TEST(Descriptor, DeducesSymmetricPaddingForStridedLayers) {
  // benchdnn would take ph=0 and pad one row at the bottom; the symmetric ph=1 gives 28 too.
  Problem p = parsed("mb1ic128ih56oc128oh28kh3sh2");
  EXPECT_EQ(p.ph, 1);
  EXPECT_EQ(p.oh, 28);
}

TEST(Descriptor, DeducesOutputSizeFromPaddingOrZeroPadding) {
  EXPECT_EQ(parsed("mb1ic16ih44oc32kh3ph1").oh, 44);
  EXPECT_EQ(parsed("mb1ic16ih44oc32kh3").oh, 42);
  EXPECT_EQ(parsed("mb1ic16ih44oc32kh3").ph, 0);
  EXPECT_EQ(parsed("mb1ic3ih224oc64kh7sh2ph3").oh, 112);
  EXPECT_EQ(parsed("mb1ic8ih33oc8kh3ph2dh1").oh, 33);
}

TEST(Descriptor, PromotesHeightFieldsToWidthWhenWidthIsAbsent) {
  Problem p = parsed("mb1ic8ih20oc8kh5sh3ph2dh1");
  EXPECT_EQ(p.iw, 20);
  EXPECT_EQ(p.kw, 5);
  EXPECT_EQ(p.sw, 3);
  EXPECT_EQ(p.pw, 2);
  EXPECT_EQ(p.dw, 1);
  EXPECT_EQ(p.ow, p.oh);
}

TEST(Descriptor, KeepsWidthFieldsWhenTheyAreGiven) {
  Problem p = parsed("mb1ic128ih17iw19oc128kh1kw7pw3");
  EXPECT_EQ(p.kh, 1);
  EXPECT_EQ(p.kw, 7);
  EXPECT_EQ(p.ph, 0);
  EXPECT_EQ(p.pw, 3);
  EXPECT_EQ(p.oh, 17);
  EXPECT_EQ(p.ow, 19);
}

TEST(Descriptor, IgnoresUnderscoreDelimiters) {
  EXPECT_EQ(parsed("g1mb1_ic16ih44iw44_oc32oh44ow44_kh3kw3_sh1sw1_ph1pw1_dh0dw0"),
            parsed(kSeed44));
  EXPECT_EQ(descriptor(parsed("_mb1__ic16ih44_oc32_kh3ph1_")), kSeed44);
}

TEST(Descriptor, KeepsTheNameAsALabelWhereverItStands) {
  EXPECT_EQ(parsed("mb1ic16ih44oc32kh3ph1n\"conv 1\"").name, "conv 1");
  EXPECT_EQ(parsed("n\"first\"mb1ic16ih44oc32kh3ph1").name, "first");
  EXPECT_EQ(parsed("mb1ic16ih44n\"mid\"_oc32kh3ph1").name, "mid");
  // benchdnn's unquoted form: the rest of the descriptor is the name.
  EXPECT_EQ(parsed("mb1ic16ih44oc32kh3ph1nresnet:conv1").name, "resnet:conv1");
  EXPECT_EQ(parsed("mb1ic16ih44oc32kh3ph1n\"x\"").oh, 44);
}

TEST(Descriptor, TakesDirDataTypeLayoutAndMinibatchFromTheBase) {
  Problem base;
  base.dir = Dir::BWD_W;
  base.dt = DataType::bf16;
  base.layout = Layout::nhwc;
  base.mb = 7;
  Problem p = parsed("ic16ih44oc32kh3ph1", base);
  EXPECT_EQ(p.dir, Dir::BWD_W);
  EXPECT_EQ(p.dt, DataType::bf16);
  EXPECT_EQ(p.layout, Layout::nhwc);
  EXPECT_EQ(p.mb, 7);
  EXPECT_EQ(parsed("mb3ic16ih44oc32kh3ph1", base).mb, 3);
}

TEST(Descriptor, PrintsEveryFieldInCanonicalOrderWithTheNameLast) {
  Problem p = parsed("mb1ic16ih44oc32kh3ph1n\"seed\"");
  EXPECT_EQ(descriptor(p), std::string(kSeed44) + "n\"seed\"");
  EXPECT_EQ(descriptor(p, false), kSeed44);
}

TEST(Key, SpellsTheKnobsAndLeavesTheNameOut) {
  Problem p = parsed("mb1ic16ih44oc32kh3ph1n\"seed\"");
  p.dir = Dir::FWD_D;
  EXPECT_EQ(key(p), "--dir=FWD_D --dt=f32 " + std::string(kSeed44));
  EXPECT_EQ(to_string(p), key(p) + "n\"seed\"");
  p.layout = Layout::nhwc;
  p.dt = DataType::f16;
  EXPECT_EQ(key(p), "--dir=FWD_D --dt=f16 --stag=axb --dtag=axb " + std::string(kSeed44));
}

TEST(ParseProblem, RoundTripsKeyAndToString) {
  Problem p = parsed("g4mb3ic8ih9iw11oc12kh3kw5sh2sw1ph1pw2dh1dw0n\"a b\"");
  for (Dir d : {Dir::FWD_D, Dir::FWD_B, Dir::BWD_D, Dir::BWD_W, Dir::BWD_WB})
    for (DataType t : {DataType::f32, DataType::f16, DataType::bf16})
      for (Layout l : {Layout::nchw, Layout::nhwc}) {
        p.dir = d;
        p.dt = t;
        p.layout = l;
        Result<Problem> back = parse_problem(to_string(p));
        ASSERT_TRUE(back.ok()) << back.status().to_string();
        EXPECT_EQ(*back, p) << to_string(p);
        Result<Problem> keyed = parse_problem(key(p));
        ASSERT_TRUE(keyed.ok());
        EXPECT_EQ(keyed->name, "");
        EXPECT_EQ(key(*keyed), key(p));
      }
}

TEST(ParseProblem, AcceptsABareDescriptorAndBenchdnnCommandLines) {
  Result<Problem> bare = parse_problem("mb1ic16ih44oc32kh3ph1");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->dir, Dir::FWD_B);
  Result<Problem> cmd =
      parse_problem("./benchdnn --conv --dir=BWD_D --mb=4 --dt=f16 ic16ih44oc32kh3ph1");
  ASSERT_TRUE(cmd.ok()) << cmd.status().to_string();
  EXPECT_EQ(cmd->dir, Dir::BWD_D);
  EXPECT_EQ(cmd->dt, DataType::f16);
  EXPECT_EQ(cmd->mb, 4);
}

TEST(ParseProblem, RejectsListsTwoDescriptorsAndUnknownKnobs) {
  EXPECT_FALSE(parse_problem("--dir=FWD_D,BWD_D ic16ih44oc32kh3").ok());
  EXPECT_FALSE(parse_problem("ic16ih44oc32kh3 ic16ih44oc32kh3").ok());
  EXPECT_FALSE(parse_problem("--dir=FWD_D").ok());
  Result<Problem> r = parse_problem("--alg=wino ic16ih44oc32kh3");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--alg=wino"), std::string::npos);
}

TEST(ParseProblem, RejectsTransposedConvolutionByName) {
  for (std::string_view text : {"--prim=deconv ic16ih44oc32kh3", "--deconv ic16ih44oc32kh3",
                                "deconv ic16ih44oc32kh3"}) {
    Result<Problem> r = parse_problem(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find("not supported: transposed"), std::string::npos)
        << r.status().message();
  }
}

TEST(Rejection, ThreeDimensionalProblemsNameTheDepthField) {
  for (std::string_view f : {"id8", "od8", "kd3", "sd2", "pd1", "dd1"}) {
    const std::string msg = rejection("mb1ic16ih8oc16kh3" + std::string(f));
    EXPECT_NE(msg.find("not supported: 3-D convolution (" + std::string(f.substr(0, 2)) + "="),
              std::string::npos)
        << msg;
  }
}

TEST(Rejection, OneDimensionalProblemsAreNotSupported) {
  EXPECT_NE(rejection("mb1ic16iw8oc16kw3").find("not supported: 1-D convolution (iw=8"),
            std::string::npos);
  EXPECT_NE(rejection("mb1ic16oc16").find("missing ih"), std::string::npos);
}

TEST(Rejection, MissingMandatoryFieldsAreNamed) {
  EXPECT_NE(rejection("mb1ih8oc16kh3").find("missing ic"), std::string::npos);
  EXPECT_NE(rejection("mb1ic16ih8kh3").find("missing oc"), std::string::npos);
  EXPECT_NE(rejection("mb1ic16ih8oc16").find("missing kh"), std::string::npos);
  EXPECT_NE(rejection("mb1ic16ih8iw8oc16kh3").find("missing kw"), std::string::npos);
}

TEST(Rejection, NonPositiveSizesNameFieldAndValue) {
  EXPECT_NE(rejection("mb0ic16ih8oc16kh3").find("invalid mb=0"), std::string::npos);
  EXPECT_NE(rejection("mb1ic0ih8oc16kh3").find("invalid ic=0"), std::string::npos);
  EXPECT_NE(rejection("mb1ic16ih-4oc16kh3").find("invalid ih=-4"), std::string::npos);
  EXPECT_NE(rejection("mb1ic16ih8oc16kh3sh0").find("invalid sh=0"), std::string::npos);
  EXPECT_NE(rejection("g0mb1ic16ih8oc16kh3").find("invalid g=0"), std::string::npos);
  EXPECT_NE(rejection("mb1ic16ih8iw8oc16kh3kw0").find("invalid kw=0"), std::string::npos);
}

TEST(Rejection, NegativePaddingAndDilationNameTheField) {
  EXPECT_NE(rejection("mb1ic16ih8oc16kh3ph-1").find("invalid ph=-1"), std::string::npos);
  EXPECT_NE(rejection("mb1ic16ih8oc16kh3dh-1").find("invalid dh=-1"), std::string::npos);
}

TEST(Rejection, ChannelsNotDivisibleByGroupsNameTheChannels) {
  EXPECT_NE(rejection("g2mb1ic5ih8oc16kh3").find("invalid ic=5: not divisible by g=2"),
            std::string::npos);
  EXPECT_NE(rejection("g4mb1ic8ih8oc6kh3").find("invalid oc=6: not divisible by g=4"),
            std::string::npos);
}

TEST(Rejection, OutputSizeThatDoesNotMatchShowsTheExpectedValue) {
  EXPECT_EQ(rejection("mb1ic16ih44oc32oh43kh3ph1"),
            "invalid oh=43: expected 44 for ih=44 kh=3 sh=1 ph=1 dh=0");
  EXPECT_NE(rejection("mb1ic16ih44iw44oc32ow40kh3kw3pw1").find("invalid ow=40: expected 44"),
            std::string::npos);
  // Too large for any padding >= 0 with stride 1 and an odd total.
  EXPECT_NE(rejection("mb1ic16ih10oc16oh11kh3").find("invalid oh=11"), std::string::npos);
  EXPECT_NE(rejection("mb1ic16ih10oc16oh5kh3").find("invalid oh=5"), std::string::npos);
}

TEST(Rejection, PaddingOrDilationThatEmptiesTheOutputIsNamed) {
  EXPECT_NE(rejection("mb1ic16ih3oc16kh5").find("invalid kh=5"), std::string::npos);
  EXPECT_NE(rejection("mb1ic16ih8oc16kh3dh4").find("invalid kh=3: with dh=4 it spans 11"),
            std::string::npos);
  // Stride must not hide an empty output behind integer division.
  EXPECT_NE(rejection("mb1ic16ih4oc16kh5sh2").find("invalid kh=5"), std::string::npos);
}

TEST(Rejection, ElementCountsOverTheLimitOrOverflowingNameTheTensor) {
  EXPECT_NE(rejection("mb1000000ic1000ih1000oc1kh1").find("invalid src="), std::string::npos);
  EXPECT_NE(rejection("mb1ic65536ih512oc65536kh512").find("invalid wei="), std::string::npos);
  EXPECT_NE(rejection("mb1ic1ih99999999999oc1kh1").find("invalid ih=99999999999"),
            std::string::npos);
  Problem huge = parsed("mb1ic1ih1oc1kh1");
  huge.mb = huge.ic = huge.oc = huge.ih = huge.iw = huge.oh = huge.ow = 2147483647;
  Status st = validate(huge);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("overflows int64"), std::string::npos) << st.message();
}

TEST(Rejection, NamesWithADoubleQuoteAreRefused) {
  EXPECT_NE(rejection("mb1ic16ih8oc16kh3nbad\"name").find("invalid name=bad\"name"),
            std::string::npos);
  Problem p = parsed("mb1ic16ih8oc16kh3");
  p.name = "a\"b";
  EXPECT_FALSE(validate(p).ok());
}

TEST(Rejection, MalformedTextSaysWhere) {
  EXPECT_NE(rejection("mb1ic16ih8oc16kh3xx4").find("unknown field at 'xx4'"), std::string::npos);
  EXPECT_NE(rejection("mb1icih8oc16kh3").find("expected a number after 'ic'"),
            std::string::npos);
  EXPECT_NE(rejection("mb1ic16ih8oc16kh3n\"open").find("unterminated name"), std::string::npos);
  EXPECT_NE(rejection("mb1ic16ih8ih9oc16kh3").find("ih is given twice"), std::string::npos);
  EXPECT_NE(rejection("").find("empty"), std::string::npos);
}

TEST(Rejection, ContradictingWidthFieldsUnderSquarePromotionAreRefused) {
  EXPECT_NE(rejection("mb1ic16ih8oc16kh3sh2sw1").find("invalid sw=1"), std::string::npos);
  EXPECT_NE(rejection("mb1ic16ih8oc16kh3ph1pw0").find("invalid pw=0"), std::string::npos);
  EXPECT_EQ(parsed("mb1ic16ih8oc16kh3sh2sw2").sw, 2);
}

TEST(Flops, CountsOnlyTapsInsideTheInputAsBenchdnnDoes) {
  EXPECT_DOUBLE_EQ(parsed("mb1ic1ih3oc1kh3").flops(), 2.0 * 9);
  // 3x3 with padding 1 over 3x3: per axis the taps inside are 2 + 3 + 2 = 7.
  EXPECT_DOUBLE_EQ(parsed("mb1ic1ih3oc1kh3ph1").flops(), 2.0 * 49);
  EXPECT_DOUBLE_EQ(parsed("g2mb2ic4ih1oc6kh1").flops(), 2.0 * 2 * 6 * 2);
}

TEST(ConvOutSize, FollowsBenchdnnsFormula) {
  EXPECT_EQ(conv_out_size(44, 3, 1, 1, 0), 44);
  EXPECT_EQ(conv_out_size(224, 7, 2, 3, 0), 112);
  EXPECT_EQ(conv_out_size(32, 3, 1, 6, 5), 32);
  EXPECT_LE(conv_out_size(4, 5, 2, 0, 0), 0);
}

TEST(Validate, RejectsAnOutputLargerThanAnyFieldMayBeSoEveryValidProblemPrintsAndParsesBack) {
  // iw and pw are each in range, but the output they give is not (found by fuzz_descriptor).
  auto p = parse_problem("g2ic8ih9iw1000070002oc8kh3kw3sh3sw1ph1pw2000000000dh3dw6");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "invalid ow=5000069988: exceeds 2147483647");
}

TEST(ConvOutSize, IsZeroRatherThanOverflowingWhenAFieldIsOutOfRange) {
  EXPECT_EQ(conv_out_size(12, int64_t{3626666066666}, 1, 0, int64_t{1} << 40), 0);
  EXPECT_EQ(conv_out_size(12, 3, 0, 0, 0), 0);
  EXPECT_EQ(conv_out_size(12, -3, 1, 0, 0), 0);
  EXPECT_EQ(conv_out_size(int64_t{2147483647}, 1, 1, int64_t{2147483647}, 0), 3 * int64_t{2147483647});
}

// ---- every line of every shape list ----------------------------------------------------

std::vector<std::filesystem::path> shape_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(CONVGUARD_SOURCE_DIR "/shapes"))
    if (e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ShapeLists, TheRequiredListsExist) {
  std::set<std::string> names;
  for (const auto& f : shape_files()) names.insert(f.filename().string());
  for (const char* want : {"resnet50.txt", "mobilenet_v1.txt", "dilated.txt", "awkward.txt",
                           "small.txt", "seed.txt"})
    EXPECT_TRUE(names.count(want)) << want;
}

TEST(ShapeLists, EveryDescriptorLineRoundTripsAndCarriesAUniqueName) {
  int descriptors = 0;
  for (const auto& file : shape_files()) {
    std::ifstream in(file);
    std::set<std::string> names;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      Result<std::vector<std::string>> words = split_words(line, true);
      ASSERT_TRUE(words.ok()) << file << ":" << n;
      for (const std::string& w : *words) {
        if (w.starts_with("-")) continue;
        SCOPED_TRACE(file.filename().string() + ":" + std::to_string(n) + ": " + w);
        Problem p = parsed(w);
        EXPECT_FALSE(p.name.empty());
        EXPECT_TRUE(names.insert(p.name).second) << "duplicate name " << p.name;
        Result<Problem> again = parse_descriptor(descriptor(p));
        ASSERT_TRUE(again.ok()) << again.status().to_string();
        EXPECT_EQ(*again, p);
        EXPECT_EQ(descriptor(*again), descriptor(p));
        Result<Problem> whole = parse_problem(to_string(p));
        ASSERT_TRUE(whole.ok());
        EXPECT_EQ(*whole, p);
        ++descriptors;
      }
    }
  }
  EXPECT_GE(descriptors, 100);
}

TEST(ShapeLists, ResNet50HasEveryDistinctShapeOnce) {
  std::ifstream in(CONVGUARD_SOURCE_DIR "/shapes/resnet50.txt");
  std::set<std::string> shapes;
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    shapes.insert(descriptor(parsed(line), false));
    ++lines;
  }
  EXPECT_EQ(lines, 23);
  EXPECT_EQ(shapes.size(), 23u);
}

}  // namespace
}  // namespace convguard
