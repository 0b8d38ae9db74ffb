#include "convguard/outcome.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace convguard {
namespace {

TEST(Outcome, NamesRoundTripForEveryOutcome) {
  for (int i = 0; i <= static_cast<int>(Outcome::invalid); ++i) {
    auto o = static_cast<Outcome>(i);
    auto back = parse_outcome(to_string(o));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, o);
  }
}

TEST(Outcome, UnknownNameIsRejectedNamingTheValue) {
  auto r = parse_outcome("exploded");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("outcome=exploded"), std::string::npos);
}

TEST(ProbeResultJson, CarriesTheFieldsDesignRequiresAndRoundTrips) {
  ProbeResult r;
  r.problem = "--dir=FWD_D --dt=f32 g1mb1ic16ih44iw44oc32oh44ow44kh3kw3sh1sw1ph1pw1dh0dw0";
  r.engine = "sim";
  r.algo = "default";
  r.outcome = Outcome::hang;
  r.phase = Phase::execute;
  r.time_ms = 0;
  r.message = "execute deadline 1000 ms passed";
  r.worker = 1;
  r.signal = 9;
  auto j = to_json(r);
  for (const char* f : {"problem", "dir", "dt", "engine", "algo", "outcome", "phase", "time_ms",
                        "max_rel_err", "message"})
    EXPECT_TRUE(j.contains(f)) << f;
  auto back = probe_result_from_json(j);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->outcome, Outcome::hang);
  EXPECT_EQ(back->phase, Phase::execute);
  EXPECT_EQ(back->worker, 1);
  EXPECT_EQ(back->signal, 9);
}

TEST(ProbeResultJson, AnInexactOkCarriesItsClassAndErrorOverTheBound) {
  ProbeResult r;
  r.problem = "p", r.engine = "cudnn", r.algo = "fwd.FFT.fma", r.phase = Phase::verify;
  auto plain = to_json(r);
  EXPECT_FALSE(plain.contains("err_class")) << "unjudged results carry no class";
  EXPECT_FALSE(plain.contains("inexact"));
  r.err_class = "fft", r.err_ratio = 0.004, r.inexact = true;
  auto back = probe_result_from_json(to_json(r));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->err_class, "fft");
  EXPECT_EQ(back->err_ratio, 0.004);
  EXPECT_TRUE(back->inexact);
}

TEST(ProbeResultJson, MissingFieldIsNamed) {
  auto r = probe_result_from_json(nlohmann::json{{"problem", "x"}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("dir"), std::string::npos);
}

TEST(ProbeResultJson, NonFiniteNumbersTravelAsNamesNeverAsNull) {
  ProbeResult r;
  r.problem = "mb1ic4ih8oc4kh3";
  r.engine = "sim";
  r.algo = "default";
  r.time_ms = std::numeric_limits<double>::infinity();
  r.max_rel_err = std::numeric_limits<double>::quiet_NaN();
  r.wall_ms = std::numeric_limits<double>::infinity();
  const std::string text = to_json(r).dump();
  EXPECT_EQ(text.find("null"), std::string::npos) << text;
  auto back = probe_result_from_json(nlohmann::json::parse(text));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_TRUE(std::isinf(back->time_ms));
  EXPECT_TRUE(std::isnan(back->max_rel_err));
  EXPECT_TRUE(std::isinf(back->wall_ms));
}

TEST(ProbeResultJson, AFieldOfTheWrongTypeIsInvalidNotAnException) {
  auto j = to_json(ProbeResult{});
  for (const char* f : {"time_ms", "worker", "message", "attempt"}) {
    auto bad = j;
    bad[f] = nlohmann::json::array();
    auto r = probe_result_from_json(bad);
    ASSERT_FALSE(r.ok()) << f;
    EXPECT_EQ(r.status().code(), Code::kInvalid) << f;
  }
}

TEST(ExitCode, FollowsDesignTable) {
  EXPECT_EQ(exit_code_for({Outcome::ok, Outcome::unsupported}), 0);
  EXPECT_EQ(exit_code_for({Outcome::ok, Outcome::hang}), 1);
  EXPECT_EQ(exit_code_for({Outcome::hang, Outcome::wedged}), 3);
  EXPECT_EQ(exit_code_for({Outcome::unsupported}, false), 1);
}

}  // namespace
}  // namespace convguard
