#include "report/report_html.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "report/conclusions.h"
#include "report/heatmap.h"
#include "testing/temp_dir.h"

namespace convguard {
namespace {

namespace fs = std::filesystem;
using report::html_escape;
using report::kMaxSplitMaps;

// A name from a hostile batch file: if any of it ran, the body would carry data-pwned.
const char* kEvilName = "<script>document.body.setAttribute('data-pwned','1')</script>";
const char* kEvilMessage =
    "</script><script>document.body.setAttribute('data-pwned','2')</script>"
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','3')\"> \u2028 end";

ProbeResult fake(const std::string& desc, const std::string& algo, Outcome o) {
  Problem base;
  base.dir = Dir::FWD_D;
  auto p = parse_problem(desc, base);
  EXPECT_TRUE(p.ok()) << desc << ": " << p.status().to_string();
  ProbeResult r;
  r.problem = key(*p);
  r.dir = p->dir;
  r.dt = p->dt;
  r.engine = "sim";
  r.algo = algo;
  r.outcome = o;
  r.phase = o == Outcome::ok ? Phase::verify : Phase::execute;
  r.time_ms = o == Outcome::ok ? 0.22 : 0;
  if (o != Outcome::ok) r.message = "quirk rx5600xt-rocm57: 3x3 forward conv, ih >= 44";
  return r;
}

std::string seed_desc(int64_t ic, int64_t ih) {
  return "mb1ic" + std::to_string(ic) + "ih" + std::to_string(ih) + "oc" + std::to_string(2 * ic) +
         "kh3ph1";
}

// The seed's picture: ic 8/16/32 -> 2*ic, maps 32..64 in steps of 2, hangs from 44; plus a
// small winograd map with one ok, one wrong and one crash. 51 + 3 cells.
std::vector<ProbeResult> seed_results() {
  std::vector<ProbeResult> out;
  for (int64_t ic : {8, 16, 32})
    for (int64_t ih = 32; ih <= 64; ih += 2) {
      out.push_back(fake(seed_desc(ic, ih), "default", ih >= 44 ? Outcome::hang : Outcome::ok));
      if (ic == 16 && ih == 44) {
        out.back().name = kEvilName;
        out.back().message = kEvilMessage;
        out.back().stderr_tail = kEvilMessage;
      }
    }
  out.push_back(fake(seed_desc(16, 32), "winograd", Outcome::ok));
  out.push_back(fake(seed_desc(16, 36), "winograd", Outcome::wrong));
  out.push_back(fake(seed_desc(16, 40), "winograd", Outcome::crash));
  return out;
}

std::vector<StoredProbe> stored(const std::vector<ProbeResult>& results) {
  std::vector<StoredProbe> out;
  for (const auto& r : results) out.push_back(StoredProbe{0, 1, "fp", 0, r});
  return out;
}

void build_seed_store(const std::string& path) {
  auto store = Store::open(path);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  const std::map<std::string, std::string> fp = {
      {"engine", "sim"},
      {"version", "oneDNN 3.0"},
      {"sim.quirks", "rx5600xt-rocm57"},
      {"env.EVIL", "</script><script>document.body.setAttribute('data-pwned','4')</script>"}};
  RunInfo run;
  run.command = "convguard sweep --engine sim --quirks quirks/rx5600xt-rocm57.json";
  run.engine = "sim";
  run.fingerprint_json = fingerprint_json(fp);
  run.fingerprint_hash = fingerprint_hash(fp);
  run.options_json = R"({"base":"onednn","quirks":"quirks/rx5600xt-rocm57.json","label":"seed <b>sim</b>"})";
  auto id = (*store)->begin_run(run);
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  std::vector<ResultRecord> batch;
  for (const auto& r : seed_results()) batch.push_back({-1, r});
  ASSERT_TRUE((*store)->record(*id, run.fingerprint_hash, batch).ok());
  ASSERT_TRUE((*store)->end_run(*id, RunStatus::done).ok());
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::map<std::string, int> cell_classes(const std::string& html) {
  std::map<std::string, int> counts;
  static const std::regex cell(R"re(class="cell outcome-([a-z]+)")re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), cell); it != std::sregex_iterator(); ++it)
    ++counts[(*it)[1]];
  return counts;
}

std::string body_tag(const std::string& dom) {
  const size_t at = dom.find("<body");
  return at == std::string::npos ? "" : dom.substr(at, dom.find('>', at) - at + 1);
}

TEST(HtmlEscape, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(html_escape(R"(<a href="x" title='y'>&</a>)"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
  EXPECT_EQ(html_escape("plain ih=44"), "plain ih=44");
}

TEST(HtmlEscape, ShowsControlBytesAsEscapesSoTheyCannotDriveATerminal) {
  EXPECT_EQ(html_escape("a\x1b]0;t\x07" "b\x7f"), "a\\x1b]0;t\\x07b\\x7f");
  EXPECT_EQ(html_escape("two\nlines\tand a tab"), "two\nlines\tand a tab");
}

TEST(ScriptSafeJson, CannotCloseTheScriptElement) {
  const std::string json = nlohmann::json{{"name", "</script><!-- & \u2028\u2029"}}.dump();
  const std::string safe = script_safe_json(json);
  EXPECT_EQ(safe.find('<'), std::string::npos);
  EXPECT_EQ(safe.find('>'), std::string::npos);
  EXPECT_EQ(safe.find('&'), std::string::npos);
  EXPECT_EQ(safe.find("\u2028"), std::string::npos);
  EXPECT_EQ(safe.find("\u2029"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(safe), nlohmann::json::parse(json));
}

TEST(Heatmaps, OneMapPerAlgorithmWithTheSeedBoundaryInEveryRow) {
  auto maps = report::build_heatmaps(stored(seed_results()), "ih", "ic");
  ASSERT_TRUE(maps.ok()) << maps.status().to_string();
  ASSERT_EQ(maps->size(), 2u);
  const report::HeatMap& m = maps->front();
  EXPECT_EQ(m.title, "sim default FWD_D f32");
  EXPECT_EQ(m.xs.size(), 17u);
  EXPECT_EQ(m.ys, (std::vector<int64_t>{8, 16, 32}));
  EXPECT_FALSE(m.merged);  // oc follows ic, iw follows ih: no field varies inside a cell
  const auto rows = report::row_boundaries(m);
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& b : rows) {
    EXPECT_EQ(b.largest_ok, 42);
    EXPECT_EQ(b.first_failing, 44);
    EXPECT_EQ(b.outcome, Outcome::hang);
  }
}

// The "Boundaries found" part of a page.
std::string boundaries_part(const std::string& html) {
  const size_t at = html.find("<h3>Boundaries found</h3>");
  return at == std::string::npos ? "" : html.substr(at, html.find("</section>", at) - at);
}

TEST(HtmlBoundaries, ShowTheStoredConclusionRatherThanDerivingOne) {
  ReportData d;
  d.probes = stored(seed_results());
  BoundaryResult b;
  b.axis = "ih";
  b.tie = {"iw"};
  b.largest_ok = 42;
  b.first_failing = 44;
  b.outcome = Outcome::hang;
  b.phase = Phase::execute;
  b.probes = 14;
  b.confirmed = true;
  auto base = parse_problem("--dir=FWD_D " + seed_desc(16, 8));
  ASSERT_TRUE(base.ok());
  d.conclusions.push_back(conclusion_of(b, *base, "default", "sim", "fp"));
  d.conclusions.back().run_id = 1;
  auto html = render_html_report(d, HtmlReportOptions{});
  ASSERT_TRUE(html.ok()) << html.status().to_string();
  const std::string part = boundaries_part(*html);
  EXPECT_NE(part.find("<td>ih=iw=42</td><td>ih=iw=44</td>"), std::string::npos) << part;
  EXPECT_NE(part.find("<td>confirmed</td>"), std::string::npos) << part;
  EXPECT_EQ(part.find("derived"), std::string::npos) << part;
}

TEST(HtmlReport, AProbeRowShowsTheErrorOverItsClassBoundAndMarksAnInexactOk) {
  auto results = seed_results();
  results[0].err_class = "fft";
  results[0].err_ratio = 0.004;
  results[0].inexact = true;
  results[1].err_class = "exact";
  ReportData d;
  d.probes = stored(results);
  auto html = render_html_report(d, HtmlReportOptions{});
  ASSERT_TRUE(html.ok()) << html.status().to_string();
  EXPECT_NE(html->find("0.004 (fft, inexact)"), std::string::npos);
  EXPECT_NE(html->find("0 (exact)"), std::string::npos) << "an exact ok names its class alone";
}

TEST(HtmlBoundaries, AreDerivedFromHeatMapRowsOnlyWithoutConclusionsAndSaySo) {
  ReportData d;
  d.probes = stored(seed_results());
  auto html = render_html_report(d, HtmlReportOptions{});
  ASSERT_TRUE(html.ok()) << html.status().to_string();
  const std::string part = boundaries_part(*html);
  EXPECT_NE(part.find("derived from probes"), std::string::npos) << part;
  EXPECT_NE(part.find("not confirmed"), std::string::npos) << part;
  EXPECT_EQ(part.find("<td>confirmed</td>"), std::string::npos) << part;
}

TEST(Heatmaps, SplitsByKernelSizeWhenTwoKernelsShareACell) {
  std::vector<ProbeResult> rs;
  for (int64_t ih : {8, 16}) {
    rs.push_back(fake("mb1ic4ih" + std::to_string(ih) + "oc4kh3ph1", "default", Outcome::ok));
    rs.push_back(fake("mb1ic4ih" + std::to_string(ih) + "oc4kh1", "default",
                      ih == 16 ? Outcome::crash : Outcome::ok));
  }
  auto maps = report::build_heatmaps(stored(rs), "ih", "ic");
  ASSERT_TRUE(maps.ok());
  ASSERT_EQ(maps->size(), 2u);
  EXPECT_EQ((*maps)[0].title, "sim default FWD_D f32 kh=1 kw=1 ph=0 pw=0");
  EXPECT_EQ((*maps)[1].title, "sim default FWD_D f32 kh=3 kw=3 ph=1 pw=1");
  EXPECT_EQ((*maps)[0].cells.at({16, 4}).outcome, Outcome::crash);
}

TEST(Heatmaps, MergesToTheWorstOutcomeBeyondTheMapLimit) {
  std::vector<ProbeResult> rs;
  for (int64_t mb = 1; mb <= kMaxSplitMaps + 1; ++mb)
    rs.push_back(fake("mb" + std::to_string(mb) + "ic4ih8oc4kh3ph1", "default",
                      mb == 5 ? Outcome::hang : Outcome::ok));
  auto maps = report::build_heatmaps(stored(rs), "ih", "ic");
  ASSERT_TRUE(maps.ok());
  ASSERT_EQ(maps->size(), 1u);
  EXPECT_TRUE((*maps)[0].merged);
  const auto& cell = (*maps)[0].cells.at({8, 4});
  EXPECT_EQ(cell.outcome, Outcome::hang);
  EXPECT_EQ(cell.probes, kMaxSplitMaps + 1);
}

TEST(Heatmaps, RejectsAnAxisThatIsNotAShapeField) {
  auto maps = report::build_heatmaps({}, "height", "ic");
  ASSERT_FALSE(maps.ok());
  EXPECT_NE(maps.status().message().find("height"), std::string::npos);
}

class HtmlReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_test_dir("cg_report_test");
    build_seed_store((dir_ / "runs.db").string());
    auto store = Store::open((dir_ / "runs.db").string(), Store::Mode::read_only);
    ASSERT_TRUE(store.ok());
    html_path_ = dir_ / "report.html";
    HtmlReportOptions opt;
    opt.title = "seed <i>report</i>";
    ASSERT_TRUE(write_html_report(**store, opt, html_path_.string()).ok());
    html_ = slurp(html_path_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_, html_path_;
  std::string html_;
};

TEST_F(HtmlReportTest, IsOneFileWithNoExternalAssets) {
  EXPECT_EQ(html_.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html_.find("href=\"http"), std::string::npos);
  EXPECT_EQ(html_.find("<link"), std::string::npos);
  EXPECT_EQ(html_.find("<script src"), std::string::npos);
  EXPECT_NE(html_.find("@media print"), std::string::npos);
}

TEST_F(HtmlReportTest, DrawsEveryProbedCellWithItsOutcomeClass) {
  const auto counts = cell_classes(html_);
  EXPECT_EQ(counts, (std::map<std::string, int>{{"ok", 19}, {"hang", 33}, {"wrong", 1}, {"crash", 1}}));
  EXPECT_NE(html_.find("class=\"boundary\""), std::string::npos);
}

TEST_F(HtmlReportTest, GivesReproLinesForTheFirstFailureOfEachRow) {
  size_t entries = 0;
  for (size_t at = html_.find("<div class=\"repro\">"); at != std::string::npos;
       at = html_.find("<div class=\"repro\">", at + 1))
    ++entries;
  EXPECT_EQ(entries, 4u);  // three rows of the seed map, one of the winograd map
  EXPECT_NE(html_.find("convguard probe --engine sim --base onednn --quirks "
                       "quirks/rx5600xt-rocm57.json"),
            std::string::npos);
  EXPECT_NE(html_.find("MIOpenDriver conv -n 1 -c 16 -H 44"), std::string::npos);
  EXPECT_NE(html_.find("--dir=FWD_D --dt=f32"), std::string::npos);
}

TEST_F(HtmlReportTest, EscapesUserStringsEverywhere) {
  EXPECT_EQ(html_.find(kEvilName), std::string::npos);
  EXPECT_EQ(html_.find("<img"), std::string::npos);
  EXPECT_EQ(html_.find("<b>sim</b>"), std::string::npos);
  EXPECT_EQ(html_.find("<i>report</i>"), std::string::npos);
  EXPECT_NE(html_.find("&lt;script&gt;document.body.setAttribute(&#39;data-pwned&#39;,&#39;1&#39;)"),
            std::string::npos);
  // Exactly two script elements: the data block and the page's own code.
  size_t scripts = 0;
  for (size_t at = html_.find("<script"); at != std::string::npos; at = html_.find("<script", at + 1))
    ++scripts;
  EXPECT_EQ(scripts, 2u);
}

// --- headless Chromium ------------------------------------------------------

std::string find_chromium() {
  if (const char* e = std::getenv("CONVGUARD_CHROMIUM"); e && *e) return e;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    for (const char* name : {"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}) {
      const std::string bin = dir + "/" + name;
      if (!dir.empty() && ::access(bin.c_str(), X_OK) == 0) return bin;
    }
  return "";
}

struct BrowserRun {
  int rc = -1;
  std::string out, err;
  /// Console messages and uncaught exceptions the page produced (the page logs nothing).
  std::vector<std::string> console() const {
    std::vector<std::string> lines;
    std::stringstream ss(err);
    for (std::string line; std::getline(ss, line);)
      if (line.find(":CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos)
        lines.push_back(line);
    return lines;
  }
};

// Runs headless Chromium on `page` with `args` (--dump-dom or --screenshot=...).
BrowserRun run_chromium(const std::string& bin, const fs::path& work, const fs::path& page,
                        const std::string& args) {
  const fs::path out = work / "chromium.out", err = work / "chromium.err";
  const std::string cmd = "timeout 120 '" + bin +
                          "' --headless --disable-gpu --no-sandbox --disable-dev-shm-usage "
                          "--no-first-run --enable-logging=stderr --v=0 --user-data-dir='" +
                          (work / "profile").string() + "' --virtual-time-budget=2000 " + args +
                          " 'file://" + page.string() + "' >'" + out.string() + "' 2>'" +
                          err.string() + "'";
  BrowserRun r;
  r.rc = std::system(cmd.c_str());
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

#define REQUIRE_CHROMIUM(bin)                                                               \
  const std::string bin = find_chromium();                                                \
  if (bin.empty())                                                                        \
  GTEST_SKIP() << "no chromium binary found: install Debian's chromium (scripts/install_deps.sh " \
                  "chromium) or set CONVGUARD_CHROMIUM"

TEST(ChromiumHarness, SeesAnUncaughtErrorInAPage) {
  REQUIRE_CHROMIUM(bin);
  const fs::path dir = fs::temp_directory_path() / ("cg_chromium_harness_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "bad.html") << "<!DOCTYPE html><html><body><p>x</p><script>"
                                     "document.body.setAttribute('data-ran','1');"
                                     "no_such_function();</script></body></html>";
  const BrowserRun r = run_chromium(bin, dir, dir / "bad.html", "--dump-dom");
  fs::remove_all(dir);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(body_tag(r.out).find("data-ran=\"1\""), std::string::npos) << r.out;
  ASSERT_EQ(r.console().size(), 1u) << r.err;
  EXPECT_NE(r.console()[0].find("no_such_function"), std::string::npos);
}

TEST_F(HtmlReportTest, LoadsInChromiumWithNoConsoleErrorAndNoInjectedScript) {
  REQUIRE_CHROMIUM(bin);
  const BrowserRun r = run_chromium(bin, dir_, html_path_, "--dump-dom");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(r.console().empty()) << r.err;
  // The DOM after the page's script ran.
  const std::string body = body_tag(r.out);
  EXPECT_NE(body.find("data-embedded-probes=\"54\""), std::string::npos) << body;
  EXPECT_EQ(body.find("data-pwned"), std::string::npos) << body;
  EXPECT_EQ(r.out.find("<img"), std::string::npos);
  EXPECT_NE(r.out.find("&lt;script&gt;document.body.setAttribute('data-pwned','1')&lt;/script&gt;"),
            std::string::npos);
  EXPECT_EQ(cell_classes(r.out),
            (std::map<std::string, int>{{"ok", 19}, {"hang", 33}, {"wrong", 1}, {"crash", 1}}));
  EXPECT_NE(r.out.find("showing 54 of 54"), std::string::npos);
}

TEST_F(HtmlReportTest, SortsFiltersAndCopiesInChromium) {
  REQUIRE_CHROMIUM(bin);
  // Drives the page as a user would and writes what it saw into body attributes.
  const std::string driver = R"(<script>
(function () {
  var b = document.body, shown = document.getElementById('shown');
  document.getElementById('failing-only').click();
  b.setAttribute('data-t-failing', shown.textContent);
  document.getElementById('failing-only').click();
  var ih = document.querySelectorAll('#probes thead button.sort')[1];
  ih.click(); ih.click();
  b.setAttribute('data-t-first-ih', document.querySelector('#probes tbody tr').cells[1].textContent);
  var f = document.getElementById('filter');
  f.value = 'winograd';
  f.dispatchEvent(new Event('input'));
  b.setAttribute('data-t-filtered', shown.textContent);
  var copy = document.querySelector('button.copy');
  copy.click();
  setTimeout(function () { b.setAttribute('data-t-copy', copy.textContent); }, 100);
})();
</script>)";
  const size_t end = html_.rfind("</body>");
  ASSERT_NE(end, std::string::npos);
  std::ofstream(dir_ / "driven.html") << html_.substr(0, end) << driver << html_.substr(end);
  const BrowserRun r = run_chromium(bin, dir_, dir_ / "driven.html", "--dump-dom");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(r.console().empty()) << r.err;
  const std::string body = body_tag(r.out);
  EXPECT_NE(body.find("data-t-failing=\"showing 35 of 54\""), std::string::npos) << body;
  EXPECT_NE(body.find("data-t-first-ih=\"64\""), std::string::npos) << body;
  EXPECT_NE(body.find("data-t-filtered=\"showing 3 of 54\""), std::string::npos) << body;
  // Headless Chromium may grant or refuse the clipboard; either way the button answers.
  EXPECT_TRUE(body.find("data-t-copy=\"copied\"") != std::string::npos ||
              body.find("data-t-copy=\"press Ctrl+C\"") != std::string::npos)
      << body;
}

TEST_F(HtmlReportTest, WritesAScreenshotForPeople) {
  REQUIRE_CHROMIUM(bin);
  const fs::path shot = fs::path(dir_) / "report_screenshot.png";
  const BrowserRun r = run_chromium(bin, dir_, html_path_,
                                    "--hide-scrollbars --window-size=1280,900 --screenshot='" +
                                        shot.string() + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_TRUE(fs::exists(shot)) << r.err;
  EXPECT_GT(fs::file_size(shot), 20000u);
  EXPECT_EQ(slurp(shot).substr(1, 3), "PNG");
}

}  // namespace
}  // namespace convguard
