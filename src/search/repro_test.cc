#include "search/repro.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "convguard/fill.h"

namespace convguard {
namespace {

namespace fs = std::filesystem;

// Names and algorithm strings that break naive quoting.
const std::vector<std::string> kNasty = {"plain",
                                         "two words",
                                         "it's",
                                         "\"double\"",
                                         "$HOME and ${PATH}",
                                         "`id`",
                                         "$(id)",
                                         "back\\slash",
                                         "new\nline",
                                         "tab\there",
                                         "semi;colon && rm -rf x | y > z",
                                         "*?[glob]",
                                         "~tilde",
                                         "#hash",
                                         "!bang",
                                         "",
                                         "'",
                                         "''",
                                         "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x94\xa5",
                                         "\x01\x7f control",
                                         "\x1b]0;title\x07\x1b[2Jcleared\r"};

struct Ran {
  int status = -1;
  std::string out;
};

// Runs `line` with /bin/sh -c in `dir` with `dir` first on PATH; returns stdout.
Ran run_sh(const std::string& line, const std::string& dir) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    if (chdir(dir.c_str()) != 0) _exit(126);
    // The caller's PATH stays behind `dir`, so python3 is the user's (with their PyTorch).
    const char* path = std::getenv("PATH");
    setenv("PATH", (dir + ":" + (path ? path : "/usr/bin:/bin")).c_str(), 1);
    execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  Ran r;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) r.out.append(buf, n);
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::vector<std::string> split_nul(const std::string& s) {
  std::vector<std::string> v;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\0') {
      v.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return v;
}

// A scratch folder with stand-ins for the tools: each prints its argv, NUL-separated
// (MIOpenDriver prints the solver variables first).
class ReproShell : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cg_repro_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    tool("benchdnn", "printf '%s\\0' \"$@\"");
    tool("convguard", "printf '%s\\0' \"$@\"");
    tool("MIOpenDriver",
         "printf '%s\\0' \"$MIOPEN_FIND_MODE\" \"$MIOPEN_DEBUG_FIND_ONLY_SOLVER\" \"$@\"");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void tool(const std::string& name, const std::string& body) {
    const auto path = dir_ / name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(path, fs::perms::owner_all);
  }
  std::vector<std::string> run(const std::string& line) {
    Ran r = run_sh(line, dir_.string());
    EXPECT_EQ(r.status, 0) << line;
    return split_nul(r.out);
  }
  fs::path dir_;
};

Problem seed_problem(const std::string& name = "") {
  auto p = parse_problem("--dir=FWD_D mb1ic16ih44oc32kh3ph1");
  EXPECT_TRUE(p.ok());
  p->name = name;
  return *p;
}

ProbeResult result_for(const Problem& p, const std::string& engine, const std::string& algo,
                       Outcome o = Outcome::hang, Phase ph = Phase::execute) {
  ProbeResult r;
  r.problem = key(p);
  r.name = p.name;
  r.dir = p.dir;
  r.dt = p.dt;
  r.engine = engine;
  r.algo = algo;
  r.outcome = o;
  r.phase = ph;
  return r;
}

TEST(ShellQuote, LeavesSafeWordsBareAndQuotesTheRest) {
  EXPECT_EQ(shell_quote("--dir=FWD_D"), "--dir=FWD_D");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote("$x"), "'$x'");
}

TEST(ShellQuote, NoQuotedWordHoldsAByteThatDrivesATerminal) {
  for (const auto& s : kNasty)
    for (unsigned char c : shell_quote(s))
      EXPECT_FALSE((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
          << "byte " << int(c) << " in " << shell_quote(s);
}

TEST_F(ReproShell, EveryNastyStringSurvivesARealShellRoundTrip) {
  for (const auto& s : kNasty) {
    auto got = run("printf '%s\\0' " + shell_quote(s));
    ASSERT_EQ(got.size(), 1u) << s;
    EXPECT_EQ(got[0], s);
  }
}

TEST_F(ReproShell, BenchdnnLineReachesTheProgramWordForWord) {
  for (const auto& name : kNasty) {
    const Problem p = seed_problem(name);
    const ProbeResult r = result_for(p, "cudnn", name);
    auto argv = benchdnn_argv(p, r);
    const auto line = benchdnn_line(p, r);
    argv.erase(argv.begin());
    EXPECT_EQ(run(line), argv) << line;
  }
}

TEST_F(ReproShell, ConvguardLineReachesTheProgramAndItsDescriptorParsesBack) {
  ReproContext ctx{"onednn", "quirks/my file's $x.json", 7};
  for (const auto& name : kNasty) {
    const Problem p = seed_problem(name);
    const ProbeResult r = result_for(p, "sim", "algo " + name);
    auto argv = convguard_argv(p, r, ctx);
    const auto line = convguard_line(p, r, ctx);
    argv.erase(argv.begin());
    auto got = run(line);
    EXPECT_EQ(got, argv) << line;
    ASSERT_FALSE(got.empty());
    Problem base;
    base.dir = Dir::FWD_D;
    auto back = parse_problem(got.back(), base);
    ASSERT_TRUE(back.ok()) << back.status().to_string() << " for " << got.back();
    EXPECT_EQ(key(*back), key(p));
  }
}

TEST_F(ReproShell, MiopenLinePinsTheSolverThroughTheEnvironment) {
  for (const auto& solver : kNasty) {
    if (solver.empty()) continue;
    const Problem p = seed_problem();
    const ProbeResult r = result_for(p, "miopen", solver);
    const auto line = miopen_line(p, r);
    auto got = run(line);
    const EnvCommand c = miopen_command(p, r);
    ASSERT_GE(got.size(), 2u) << line;
    EXPECT_EQ(got[0], "normal");
    EXPECT_EQ(got[1], solver);
    EXPECT_EQ(std::vector<std::string>(got.begin() + 2, got.end()),
              std::vector<std::string>(c.argv.begin() + 1, c.argv.end()));
  }
}

TEST(Benchdnn, SeedHangIsARunModeLine) {
  const Problem p = seed_problem();
  EXPECT_EQ(benchdnn_line(p, result_for(p, "onednn", "default")),
            "./benchdnn --conv --mode=R --dir=FWD_D --dt=f32 "
            "g1mb1ic16ih44iw44oc32oh44ow44kh3kw3sh1sw1ph1pw1dh0dw0");
}

TEST(Benchdnn, ModeEngineLayoutAlgorithmAndNameFollowTheProbe) {
  Problem p = seed_problem("layer 3");
  p.layout = Layout::nhwc;
  p.dt = DataType::f16;
  auto wrong = benchdnn_line(p, result_for(p, "cudnn", "WINOGRAD", Outcome::wrong, Phase::verify));
  EXPECT_EQ(wrong,
            "./benchdnn --conv --engine=gpu --mode=C --dir=FWD_D --dt=f16 --stag=axb --dtag=axb "
            "--alg=wino 'g1mb1ic16ih44iw44oc32oh44ow44kh3kw3sh1sw1ph1pw1dh0dw0n\"layer 3\"'");
  auto prep = benchdnn_argv(p, result_for(p, "miopen", "default", Outcome::hang, Phase::prepare));
  EXPECT_NE(std::find(prep.begin(), prep.end(), "--mode=I"), prep.end());
  auto ok = benchdnn_argv(p, result_for(p, "sim", "direct", Outcome::ok), ReproContext{"cudnn", "", 0});
  EXPECT_NE(std::find(ok.begin(), ok.end(), "--engine=gpu"), ok.end());
  EXPECT_NE(std::find(ok.begin(), ok.end(), "--alg=direct"), ok.end());
  for (const auto& a : ok) EXPECT_NE(a.rfind("--mode", 0), 0u) << a;
}

TEST(Miopen, DesignExampleRoundTripsThroughTheDriverParser) {
  auto ps = parse_driver_cmd("conv -n 1024 -c 256 -H 32 -W 32 -k 1 -y 5 -x 5 -p 2 -q 2 -F 2");
  ASSERT_TRUE(ps.ok()) << ps.status().to_string();
  ASSERT_EQ(ps->size(), 1u);
  const Problem& p = ps->front();
  const ProbeResult r = result_for(p, "miopen", "GemmBwdRest", Outcome::crash);
  const EnvCommand c = miopen_command(p, r);
  std::vector<std::string> words(c.argv.begin() + 1, c.argv.end());
  EXPECT_EQ(words[0], "conv");
  std::string cmd;
  for (const auto& w : words) cmd += w + " ";
  auto back = parse_driver_cmd(cmd);
  ASSERT_TRUE(back.ok()) << back.status().to_string() << " for " << cmd;
  EXPECT_EQ(key(back->front()), key(p));
  const auto line = miopen_line(p, r);
  // The miopen engine's solver by its id (97), in Find's filter and as MIOpenDriver's -S.
  EXPECT_EQ(line.rfind("MIOPEN_FIND_MODE=normal MIOPEN_DEBUG_FIND_ONLY_SOLVER=97 ", 0), 0u)
      << line;
  EXPECT_NE(line.find(" -F 2 -S 97"), std::string::npos) << line;
  // GEMM is not filtered by FIND_ONLY_SOLVER: the other families are switched off instead.
  EXPECT_NE(line.find("MIOPEN_DEBUG_CONV_DIRECT=0"), std::string::npos);
  EXPECT_EQ(line.find("MIOPEN_DEBUG_CONV_GEMM=0"), std::string::npos);
}

TEST(Miopen, MiopenEngineProbesCarryTheDriversSolutionFlagAndTheLoggingMaintainersAskFor) {
  const Problem p = *parse_problem("--dir=FWD_D mb1ic16ih44oc32kh3ph1");
  auto words = [](const EnvCommand& c) {
    std::string s;
    for (const auto& [k, v] : c.env) s += k + "=" + v + " ";
    for (const auto& w : c.argv) s += w + " ";
    return s;
  };
  const std::string solver = words(miopen_command(p, result_for(p, "miopen", "ConvOclBwdWrW2_4")));
  EXPECT_NE(solver.find("MIOPEN_DEBUG_FIND_ONLY_SOLVER=20 "), std::string::npos) << solver;
  EXPECT_NE(solver.find(" -S 20 "), std::string::npos) << solver;
  EXPECT_NE(solver.find("MIOPEN_ENABLE_LOGGING_CMD=1 MIOPEN_LOG_LEVEL=6 "), std::string::npos)
      << solver;
  const std::string unknown = words(miopen_command(p, result_for(p, "miopen", "solver9001")));
  EXPECT_NE(unknown.find(" -S 9001 "), std::string::npos) << unknown;
  const std::string dflt = words(miopen_command(p, result_for(p, "miopen", "default")));
  EXPECT_NE(dflt.find(" -S 0 "), std::string::npos) << dflt;
  const std::string find = words(miopen_command(p, result_for(p, "miopen", "find.fast")));
  EXPECT_EQ(find.rfind("MIOPEN_FIND_MODE=fast MIOPEN_ENABLE_LOGGING_CMD=1 ", 0), 0u) << find;
  EXPECT_EQ(find.find(" -S "), std::string::npos) << find;
  EXPECT_EQ(find.find("FIND_ONLY_SOLVER"), std::string::npos) << find;
  // Through sim, the wrapped engine decides.
  const std::string sim =
      words(miopen_command(p, result_for(p, "sim", "GemmFwdRest"), ReproContext{"miopen", "", 0}));
  EXPECT_NE(sim.find(" -S 91 "), std::string::npos) << sim;
}

TEST(Miopen, TypesDirectionsDilationBiasAndLayoutsFollowMiopenConventions) {
  auto p = *parse_problem("--dir=BWD_WB --dt=bf16 --stag=axb --dtag=axb g2mb1ic8ih9oc4kh3dh1");
  const EnvCommand c = miopen_command(p, result_for(p, "cudnn", "ALGO_1"));
  EXPECT_TRUE(c.env.empty()) << "a cuDNN algorithm pins nothing in MIOpen";
  std::string cmd;
  for (const auto& w : c.argv) cmd += w + " ";
  EXPECT_NE(cmd.find("MIOpenDriver convbfp16 "), std::string::npos) << cmd;
  EXPECT_NE(cmd.find("-l 2 -j 2 "), std::string::npos) << cmd;
  EXPECT_NE(cmd.find("-g 2 -F 4 -b 1 "), std::string::npos) << cmd;
  EXPECT_NE(cmd.find("--in_layout NHWC"), std::string::npos) << cmd;
  auto h = *parse_problem("--dir=BWD_D --dt=f16 mb1ic8ih9oc4kh3");
  auto hc = miopen_command(h, result_for(h, "miopen", "ConvBinWinograd3x3U"));
  EXPECT_EQ(hc.argv[1], "convfp16");
  EXPECT_NE(std::find(hc.argv.begin(), hc.argv.end(), "2"), hc.argv.end());
  bool gemm_off = false;
  for (const auto& [k, v] : hc.env) gemm_off |= k == "MIOPEN_DEBUG_CONV_GEMM" && v == "0";
  EXPECT_TRUE(gemm_off);
}

bool have_python() { return run_sh("python3 -c pass", "/").status == 0; }

TEST(PythonLiteral, EscapesEverythingIntoAsciiThatPythonReadsBack) {
  if (!have_python()) GTEST_SKIP() << "python3 not found";
  const auto tmp = fs::temp_directory_path() / ("cg_pylit_" + std::to_string(getpid()));
  for (const auto& s : kNasty) {
    const std::string lit = python_literal(s);
    for (unsigned char c : lit) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << lit;
    std::ofstream(tmp) << lit;
    auto r = run_sh("python3 -c 'import ast,sys; sys.stdout.buffer.write(ast.literal_eval("
                    "open(sys.argv[1]).read()).encode())' " + tmp.string(), "/");
    EXPECT_EQ(r.status, 0) << lit;
    EXPECT_EQ(r.out, s) << lit;
  }
  EXPECT_EQ(python_literal("\xff" "a"), "'\\ufffda'");
  fs::remove(tmp);
}

TEST(Torch, SnippetIsValidPythonForEveryDirectionAndKeepsTheName) {
  if (!have_python()) GTEST_SKIP() << "python3 not found";
  const auto tmp = fs::temp_directory_path() / ("cg_torch_" + std::to_string(getpid()) + ".py");
  for (Dir d : {Dir::FWD_D, Dir::FWD_B, Dir::BWD_D, Dir::BWD_W, Dir::BWD_WB}) {
    Problem p = seed_problem("weird 'name'\n$(id) `x`");
    p.dir = d;
    p.layout = Layout::nhwc;
    const std::string s = torch_snippet(p, result_for(p, "cudnn", "default"));
    EXPECT_NE(s.find("torch.channels_last"), std::string::npos);
    EXPECT_NE(s.find("DEVICE = torch.device('cuda')"), std::string::npos);
    std::ofstream(tmp) << s;
    const auto check =
        "python3 -c 'import ast,sys; t=ast.parse(open(sys.argv[1]).read()); "
        "n=[x.value.value for x in t.body if isinstance(x, ast.Assign) and getattr(x.targets[0], \"id\", None)==\"NAME\"];"
        " sys.stdout.write(n[0])' " + tmp.string();
    auto r = run_sh(check, "/");
    EXPECT_EQ(r.status, 0) << s;
    EXPECT_EQ(r.out, p.name);
  }
  fs::remove(tmp);
}

bool have_torch() { return run_sh("python3 -c 'import torch'", "/").status == 0; }

// Runs a torch snippet; prefix: environment assignments for the shell line.
Ran run_snippet(const std::string& snippet, const std::string& prefix = "") {
  const auto tmp = fs::temp_directory_path() / ("cg_torch_run_" + std::to_string(getpid()) + ".py");
  std::ofstream(tmp) << snippet;
  Ran r = run_sh(prefix + "python3 " + tmp.string(), "/");
  fs::remove(tmp);
  return r;
}

TEST(Torch, SnippetOfAnOkProbeRunsAndReproducesOk) {
  if (!have_torch()) GTEST_SKIP() << "no PyTorch here";
  for (Dir d : {Dir::FWD_B, Dir::BWD_D, Dir::BWD_WB}) {
    auto p = *parse_problem("g2mb2ic4ih7iw6oc6kh3kw2sh2ph1dh1");
    p.dir = d;
    Ran r = run_snippet(torch_snippet(p, result_for(p, "onednn", "default", Outcome::ok, Phase::verify)));
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("verdict ok: max err/bound 0 (exact bound)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("reproduced"), std::string::npos) << r.out;
  }
}

TEST(Torch, SnippetFillsTheValuesConvguardFilled) {
  if (!have_torch()) GTEST_SKIP() << "no PyTorch here";
  // f16 BWD_W of a 64x64 map sums 4096 terms, past f16's 2048 exact integers: a sparse fill.
  for (const char* text : {"--dir=FWD_B g2mb2ic4ih7iw6oc6kh3kw2sh2ph1dh1",
                           "--dir=BWD_D --dt=bf16 mb1ic8ih9oc16kh3ph1",
                           "--dir=BWD_W --dt=f16 mb1ic3ih64oc4kh1"}) {
    const auto p = *parse_problem(text);
    Ran r = run_snippet(torch_snippet(p, result_for(p, "torch", "default")),
                        "CONVGUARD_REPRO_CHECKSUMS=1 ");
    ASSERT_EQ(r.status, 0) << r.out;
    const std::vector<std::pair<Arg, int64_t>> args = {
        {Arg::src, p.mb * p.ic * p.ih * p.iw}, {Arg::wei, p.oc * (p.ic / p.g) * p.kh * p.kw},
        {Arg::bia, p.oc}, {Arg::dst, p.mb * p.oc * p.oh * p.ow}};
    const char* names[] = {"x", "w", "b", "dy"};
    const auto inputs = inputs_of(p.dir);
    for (size_t i = 0; i < args.size(); ++i) {
      const auto [a, n] = args[i];
      if (std::find(inputs.begin(), inputs.end(), a) == inputs.end()) continue;
      std::vector<float> v(static_cast<size_t>(n));
      fill_range(p, a, 0, 0, n, v.data());
      double sum = 0;
      for (size_t k = 0; k < v.size(); ++k) sum += double(k + 1) * v[k];
      EXPECT_NE(r.out.find(fmt::format("{} {:.1f}", names[i], sum)), std::string::npos)
          << text << " " << names[i] << " " << sum << "\n" << r.out;
    }
  }
}

TEST(Torch, SnippetJudgesTheResultRatherThanRepeatingTheFinding) {
  if (!have_torch()) GTEST_SKIP() << "no PyTorch here";
  auto p = *parse_problem("--dir=FWD_D mb1ic4ih8oc4kh3ph1");
  ProbeResult seen = result_for(p, "onednn", "default", Outcome::wrong, Phase::verify);
  seen.err_class = "exact";
  Ran r = run_snippet(torch_snippet(p, seen));
  EXPECT_EQ(r.status, 1) << "PyTorch's CPU kernel is exact here, so the finding does not reproduce\n" << r.out;
  EXPECT_NE(r.out.find("verdict ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NOT reproduced"), std::string::npos) << r.out;
}

TEST(Torch, TheTorchEnginesKnobsBecomeTheSnippetsSettings) {
  auto p = *parse_problem("--dir=BWD_W mb1ic4ih8oc4kh3ph1");
  EXPECT_NE(torch_snippet(p, result_for(p, "torch", "mkldnn.off")).find("torch.backends.mkldnn.enabled = False"),
            std::string::npos);
  EXPECT_NE(torch_snippet(p, result_for(p, "torch", "cudnn.off")).find("torch.backends.cudnn.enabled = False"),
            std::string::npos);
  EXPECT_NE(torch_snippet(p, result_for(p, "torch", "cudnn.benchmark")).find("torch.backends.cudnn.benchmark = True"),
            std::string::npos);
  EXPECT_NE(torch_snippet(p, result_for(p, "torch", "channels_last")).find("LAYOUT = torch.channels_last"),
            std::string::npos);
  EXPECT_NE(torch_snippet(p, result_for(p, "torch", "default")).find("torch.cuda.is_available()"),
            std::string::npos);
}

TEST(Torch, SnippetsOfTheTorchEngineRunWithTheirKnobs) {
  if (!have_torch()) GTEST_SKIP() << "no PyTorch here";
  for (const char* algo : {"default", "mkldnn.off", "channels_last"})
    for (Dir d : {Dir::FWD_D, Dir::BWD_W}) {
      auto p = *parse_problem("mb2ic4ih7oc6kh3ph1");
      p.dir = d;
      Ran r = run_snippet(torch_snippet(p, result_for(p, "torch", algo, Outcome::ok, Phase::verify)));
      EXPECT_EQ(r.status, 0) << algo << ": " << r.out;
      EXPECT_NE(r.out.find("verdict ok"), std::string::npos) << algo << ": " << r.out;
    }
}

TEST(Repro, ContextComesFromRunOptionsOrTheCommandLine) {
  auto a = repro_context_from_run(R"({"engine": {"name": "sim", "base": "onednn", "quirks": "q.json", "seed": 3}})", "");
  EXPECT_EQ(a.base, "onednn");
  EXPECT_EQ(a.quirks_path, "q.json");
  EXPECT_EQ(a.seed, 3u);
  auto b = repro_context_from_run("not json", "convguard sweep --engine sim --base cudnn --quirks=x.json --seed 9");
  EXPECT_EQ(b.base, "cudnn");
  EXPECT_EQ(b.quirks_path, "x.json");
  EXPECT_EQ(b.seed, 9u);
  EXPECT_TRUE(repro_context_from_run("{}", "").base.empty());
}

TEST(Repro, FormsParseAndDispatch) {
  EXPECT_EQ(*parse_repro_form("pytorch"), ReproForm::torch);
  EXPECT_EQ(*parse_repro_form("MIOpen"), ReproForm::miopen);
  EXPECT_FALSE(parse_repro_form("bash").ok());
  const Problem p = seed_problem();
  const ProbeResult r = result_for(p, "onednn", "default");
  EXPECT_EQ(repro(ReproForm::convguard, p, r), convguard_line(p, r));
  EXPECT_EQ(repro(ReproForm::benchdnn, p, r), benchdnn_line(p, r));
  auto back = problem_of(r);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(key(*back), r.problem);
}

}  // namespace
}  // namespace convguard
