#include "report/report_md.h"

#include <sstream>

#include <gtest/gtest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace convguard {
namespace {

ProbeResult seed_probe(int64_t ic, int64_t oc, int64_t size, Outcome o, double ms) {
  Problem p;
  p.dir = Dir::FWD_D;
  p.mb = 1;
  p.ic = ic;
  p.oc = oc;
  p.ih = p.iw = size;
  p.kh = p.kw = 3;
  p.ph = p.pw = 1;
  p.oh = p.ow = size;
  ProbeResult r;
  r.problem = key(p);
  r.dir = p.dir;
  r.engine = "sim";
  r.algo = "default";
  r.outcome = o;
  r.phase = Phase::execute;
  r.wall_ms = ms;
  return r;
}

ReportInput seed_report() {
  ReportInput in;
  in.title = "Conv2d on the simulated RX 5600 XT";
  in.facts = {{"device", "sim (rx5600xt-rocm57)"}};
  in.repro = {"onednn", "quirks/rx5600xt-rocm57.json", 0};
  for (int64_t s : {32, 36, 40, 42}) in.probes.push_back(seed_probe(16, 32, s, Outcome::ok, 216));
  for (int64_t s : {44, 48}) in.probes.push_back(seed_probe(16, 32, s, Outcome::hang, 20000));
  in.probes.push_back(seed_probe(15, 31, 48, Outcome::hang, 20000));
  in.probes.push_back(seed_probe(17, 33, 48, Outcome::hang, 20000));
  in.probes.push_back(seed_probe(17, 33, 64, Outcome::hang, 20000));
  in.probes.push_back(seed_probe(31, 63, 64, Outcome::hang, 20000));
  BoundaryResult b;
  b.axis = "ih";
  b.tie = {"iw"};
  b.largest_ok = 42;
  b.first_failing = 44;
  b.ok_problem = *parse_problem(seed_probe(16, 32, 42, Outcome::ok, 0).problem);
  b.failing_problem = *parse_problem(seed_probe(16, 32, 44, Outcome::ok, 0).problem);
  b.outcome = Outcome::hang;
  b.phase = Phase::execute;
  b.probes = 12;
  b.confirmed = true;
  in.boundaries.push_back(b);
  return in;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

bool has_line(const std::string& md, const std::string& line) {
  for (const auto& l : lines_of(md))
    if (l == line) return true;
  return false;
}

TEST(ReportMarkdown, ReproducesTheSeedTablesAndBoundary) {
  const std::string md = report_markdown(seed_report());
  EXPECT_TRUE(has_line(md, "# Conv2d on the simulated RX 5600 XT")) << md;
  EXPECT_TRUE(has_line(md, "## ✅ WORKING configurations")) << md;
  EXPECT_TRUE(has_line(md, "| Channels | Size | Time | Result |")) << md;
  for (const char* s : {"32x32", "36x36", "40x40", "42x42"})
    EXPECT_TRUE(has_line(md, fmt::format("| 16→32 | {} | 0.216s | ✅ ok |", s))) << s << "\n" << md;
  EXPECT_TRUE(has_line(md, "## ⏱️ HANGING / FAILING configurations")) << md;
  EXPECT_TRUE(has_line(md, "| Channels | Size | Time | Result | Repro |")) << md;
  EXPECT_TRUE(has_line(md,
                       "| 15→31 | 48x48 | 20s | ⏱️ HANG (execute) | `convguard probe --engine sim "
                       "--base onednn --quirks quirks/rx5600xt-rocm57.json --dir FWD_D --dt f32 "
                       "--algo default g1mb1ic15ih48iw48oc31oh48ow48kh3kw3sh1sw1ph1pw1dh0dw0` |"))
      << md;
  for (const char* row : {"| 16→32 | 44x44 | 20s |", "| 16→32 | 48x48 | 20s |",
                          "| 17→33 | 48x48 | 20s |", "| 17→33 | 64x64 | 20s |",
                          "| 31→63 | 64x64 | 20s |"})
    EXPECT_NE(md.find(row), std::string::npos) << row;
  EXPECT_TRUE(has_line(md, "- 16→32: largest ok: 42x42, first failing: 44x44 (hang, execute) — "
                           "12 probes, confirmed"))
      << md;
  EXPECT_TRUE(has_line(md, "| Probes | 10 (6 hang, 4 ok) |")) << md;
  EXPECT_EQ(md.find("Other"), std::string::npos) << "nothing else varies";
}

TEST(ReportMarkdown, RowsAreSortedByChannelsThenSize) {
  const std::string md = report_markdown(seed_report());
  const auto a = md.find("| 15→31 | 48x48"), b = md.find("| 16→32 | 44x44"),
             c = md.find("| 16→32 | 48x48"), d = md.find("| 31→63 | 64x64");
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_LT(c, d);
}

TEST(ReportMarkdown, AnOtherColumnNamesWhatElseVaries) {
  ReportInput in = seed_report();
  in.probes[0].algo = "winograd";
  in.probes[1].algo = "gemm";
  const std::string md = report_markdown(in);
  EXPECT_TRUE(has_line(md, "| Channels | Size | Other | Time | Result |")) << md;
  EXPECT_TRUE(has_line(md, "| 16→32 | 32x32 | algo=winograd | 0.216s | ✅ ok |")) << md;
}

TEST(ReportMarkdown, UnsupportedIsListedApartAndNotAsAFailure) {
  ReportInput in = seed_report();
  in.probes.push_back(seed_probe(64, 64, 8, Outcome::unsupported, 0));
  const std::string md = report_markdown(in);
  const auto unsup = md.find("## ➖ Unsupported by the engine (not failures)");
  ASSERT_NE(unsup, std::string::npos) << md;
  const auto row = md.find("| 64→64 | 8x8 |");
  EXPECT_GT(row, unsup);
}

TEST(ReportMarkdown, TheLatestResultPerProbeWins) {
  ReportInput in = seed_report();
  in.probes.push_back(seed_probe(16, 32, 44, Outcome::ok, 300));  // re-run: now ok
  const std::string md = report_markdown(in);
  EXPECT_TRUE(has_line(md, "| 16→32 | 44x44 | 0.3s | ✅ ok |")) << md;
  EXPECT_EQ(md.find("| 16→32 | 44x44 | 20s"), std::string::npos) << md;
}

TEST(ReportMarkdown, NamesCannotOpenHtmlLinksOrDriveATerminal) {
  ReportInput in = seed_report();
  in.probes[4].name = "<img src=x onerror=alert(1)>[link](javascript:x)\x1b[2J&amp;";
  in.probes[4].message = "<script>\x07";
  const std::string md = report_markdown(in);
  // Found where no backslash escapes its first character.
  auto raw = [&](const std::string& s) {
    for (size_t at = md.find(s); at != std::string::npos; at = md.find(s, at + 1))
      if (at == 0 || md[at - 1] != '\\') return true;
    return false;
  };
  EXPECT_FALSE(raw("<img")) << md;
  EXPECT_FALSE(raw("[link")) << md;
  EXPECT_FALSE(raw("&amp;")) << md;
  EXPECT_NE(md.find("\\<img src=x onerror=alert(1)\\>"), std::string::npos) << md;
  for (unsigned char c : md) EXPECT_FALSE(c == 0x1b || c == 0x07) << md;
}

TEST(ReportMarkdown, CellsEscapePipesNewlinesAndBackticks) {
  ReportInput in = seed_report();
  in.probes[4].name = "a|b\n`c`";
  in.probes[4].algo = "x``y|z";
  const std::string md = report_markdown(in);
  EXPECT_NE(md.find("name=a\\|b \\`c\\`"), std::string::npos) << md;
  EXPECT_NE(md.find("```convguard probe"), std::string::npos) << md;
  EXPECT_NE(md.find("'x``y\\|z'"), std::string::npos) << md;
  for (const auto& l : lines_of(md))
    if (l.rfind("| 16→32 | 44x44", 0) == 0) {
      // Every row keeps the column count of its header: pipes inside are escaped.
      size_t bars = 0;
      for (size_t i = 0; i < l.size(); ++i)
        if (l[i] == '|' && (i == 0 || l[i - 1] != '\\')) ++bars;
      EXPECT_EQ(bars, 7u) << l;
    }
}

TEST(ReportMarkdown, FlakyBoundaryIsReportedWithoutAPair) {
  ReportInput in = seed_report();
  in.boundaries[0].flaky = true;
  in.boundaries[0].confirmed = false;
  in.boundaries[0].notes = {"flaky: ih=44 was ok 1 and failed 1 of 2 times"};
  const std::string md = report_markdown(in);
  EXPECT_NE(md.find("no boundary — 12 probes, not confirmed; flaky: ih=44"), std::string::npos) << md;
}

TEST(ReportBoundaries, AreReadOffStoredSizeLines) {
  auto bs = boundaries_from_probes(seed_report().probes);
  ASSERT_EQ(bs.size(), 2u);  // 16->32 and 17->33; single sizes make no line
  EXPECT_EQ(bs[0].largest_ok, 42);
  EXPECT_EQ(bs[0].first_failing, 44);
  EXPECT_EQ(bs[0].outcome, Outcome::hang);
  EXPECT_EQ(bs[0].probes, 6);
  EXPECT_FALSE(bs[0].confirmed);
  EXPECT_FALSE(bs[1].largest_ok);
  EXPECT_EQ(bs[1].first_failing, 48);
  ReportInput in = seed_report();
  in.boundaries = bs;
  in.boundary_source = BoundarySource::derived;
  const std::string md = report_markdown(in);
  EXPECT_TRUE(has_line(md, "- 16→32: largest ok: 42x42, first failing: 44x44 (hang, execute) — 6 "
                           "probes, derived from probes, not confirmed"))
      << md;
}

TEST(ReportBoundaries, AStoredConfirmedConclusionPrintsConfirmed) {
  // What `convguard boundary` stored, read back as the report reads it.
  ReportInput in = seed_report();
  auto stored = boundary_from_json(nlohmann::json::parse(to_json(in.boundaries[0]).dump()));
  ASSERT_TRUE(stored.ok()) << stored.status().to_string();
  in.boundaries = {*stored};
  in.boundary_source = BoundarySource::stored;
  const std::string md = report_markdown(in);
  EXPECT_TRUE(has_line(md, "- 16→32: largest ok: 42x42, first failing: 44x44 (hang, execute) — "
                           "12 probes, confirmed"))
      << md;
  EXPECT_EQ(md.find("not confirmed"), std::string::npos) << md;
}

TEST(ReportBoundaries, AStoredUnconfirmedConclusionSaysSoWithItsNotes) {
  ReportInput in = seed_report();
  in.boundaries[0].confirmed = false;
  in.boundaries[0].notes = {"probe budget spent"};
  const std::string md = report_markdown(in);
  EXPECT_NE(md.find("— 12 probes, not confirmed; probe budget spent"), std::string::npos) << md;
  EXPECT_EQ(md.find("derived"), std::string::npos) << md;
}

TEST(ReportBoundaries, DefaultAndTheAlgorithmItResolvedToShareALine) {
  auto probes = seed_report().probes;
  for (auto& p : probes)
    if (p.outcome == Outcome::ok) p.algo = "direct:x64:gemm:jit";  // hangs stay "default"
  auto bs = boundaries_from_probes(probes);
  ASSERT_FALSE(bs.empty());
  EXPECT_EQ(bs[0].largest_ok, 42);
  EXPECT_EQ(bs[0].first_failing, 44);
  ReportInput in = seed_report();
  in.probes = probes;
  EXPECT_EQ(report_markdown(in).find("Other"), std::string::npos);
}

TEST(ReportBoundaries, AnOkAboveAFailureIsNonMonotonic) {
  auto probes = seed_report().probes;
  probes.push_back(seed_probe(16, 32, 64, Outcome::ok, 200));
  auto bs = boundaries_from_probes(probes);
  ASSERT_FALSE(bs.empty());
  EXPECT_TRUE(bs[0].non_monotonic);
  EXPECT_FALSE(bs[0].first_failing);
}

TEST(ReportMarkdown, AnInexactOkAndAWrongNameTheirClassAndErrorOverTheBound) {
  ReportInput in = seed_report();
  ProbeResult& ok = in.probes[0];
  ok.err_class = "fft";
  ok.max_rel_err = 3e-6;
  ok.err_ratio = 0.004;
  ok.inexact = true;
  ProbeResult wrong = seed_probe(16, 32, 50, Outcome::wrong, 1);
  wrong.phase = Phase::verify;
  wrong.err_class = "winograd";
  wrong.max_rel_err = 0.0885;
  wrong.err_ratio = 51.7;
  in.probes.push_back(wrong);
  const std::string md = report_markdown(in);
  EXPECT_TRUE(has_line(md, "| 16→32 | 32x32 | 0.216s | ✅ ok, inexact (fft: max rel err 3e-06, 0.004 of its bound) |"))
      << md;
  EXPECT_TRUE(has_line(md, "| 16→32 | 36x36 | 0.216s | ✅ ok |")) << "an exact ok stays plain\n" << md;
  EXPECT_NE(md.find("❌ WRONG (max rel err 0.0885, 51.7x the winograd bound)"), std::string::npos) << md;
  auto back = probe_result_from_json(nlohmann::json::parse(report_json_lines({ok})));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->err_class, "fft");
  EXPECT_TRUE(back->inexact);
  EXPECT_DOUBLE_EQ(back->err_ratio, 0.004);
}

TEST(ReportJson, PrintsOneParsableLinePerProbe) {
  auto in = seed_report();
  const auto latest = latest_per_probe(in.probes);
  const std::string s = report_json_lines(latest);
  const auto ls = lines_of(s);
  ASSERT_EQ(ls.size(), latest.size());
  for (size_t i = 0; i < ls.size(); ++i) {
    auto back = probe_result_from_json(nlohmann::json::parse(ls[i]));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->problem, latest[i].problem);
    EXPECT_EQ(back->outcome, latest[i].outcome);
  }
}

TEST(ReportJson, LatestPerProbeKeepsFirstAppearanceOrderAndLastValue) {
  auto a = seed_probe(16, 32, 32, Outcome::ok, 1);
  auto b = seed_probe(16, 32, 44, Outcome::hang, 1);
  auto a2 = a;
  a2.outcome = Outcome::wrong;
  auto c = a;
  c.algo = "other";
  auto out = latest_per_probe({a, b, a2, c});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].outcome, Outcome::wrong);
  EXPECT_EQ(out[1].problem, b.problem);
  EXPECT_EQ(out[2].algo, "other");
}

}  // namespace
}  // namespace convguard
