//===- MetricsTest.cpp ----------------------------------------------------===//
#include "runtime/train/Metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unistd.h>

using namespace gpt::train;
namespace fs = std::filesystem;

TEST(Metrics, JsonLine) {
  StepMetrics m;
  m.step = 3;
  m.loss = 2.5;
  m.lr = 1e-3;
  m.gradNorm = 0.75;
  m.tokensPerSecond = 1234.56;
  auto j = nlohmann::json::parse(m.toJsonLine());
  EXPECT_EQ(j["step"], 3);
  EXPECT_EQ(j["loss"], 2.5);
  EXPECT_EQ(j["lr"], 1e-3);
  EXPECT_EQ(j["grad_norm"], 0.75);
  EXPECT_NEAR(j["tokens_per_s"].get<double>(), 1234.6, 1e-9);
  EXPECT_FALSE(j.contains("val_loss"));
  m.valLoss = 2.75;
  m.loss = NAN;
  j = nlohmann::json::parse(m.toJsonLine());
  EXPECT_EQ(j["val_loss"], 2.75);
  EXPECT_TRUE(j["loss"].is_null()) << "NaN is written as null";
  StepMetrics back = StepMetrics::fromJsonLine(m.toJsonLine(), "x");
  EXPECT_EQ(back.step, 3);
  EXPECT_TRUE(std::isnan(back.loss));
  EXPECT_EQ(*back.valLoss, 2.75);
  EXPECT_THROW(StepMetrics::fromJsonLine("{bad", "x"), std::runtime_error);
}

TEST(Metrics, LogTruncatesOnResume) {
  fs::path p = fs::temp_directory_path() /
               ("gpt_metrics_" + std::to_string(::getpid()) + ".jsonl");
  {
    MetricsLog log(p, std::nullopt);
    for (int i = 1; i <= 5; ++i) {
      StepMetrics m;
      m.step = i;
      m.loss = 10 - i;
      log.append(m);
    }
  }
  EXPECT_EQ(readMetrics(p).size(), 5u);
  MetricsLog resumed(p, std::int64_t{3});
  EXPECT_EQ(resumed.all().size(), 3u);
  EXPECT_EQ(readMetrics(p).size(), 3u);
  fs::remove(p);
}

TEST(Metrics, NiceTicks) {
  auto t = niceTicks(0, 100, 5);
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(t.front(), 0);
  EXPECT_EQ(t.back(), 100);
  EXPECT_EQ(t[1] - t[0], 20);
  auto u = niceTicks(2.13, 4.87, 6);
  EXPECT_DOUBLE_EQ(u.front(), 2.0);
  EXPECT_DOUBLE_EQ(u.back(), 5.0);
  EXPECT_NEAR(u[1] - u[0], 0.5, 1e-12);
}

TEST(Metrics, SvgHasCurvesAxesAndTicks) {
  std::vector<CurvePoint> train = {{1, 5.0}, {2, 4.0}, {3, 3.5}, {4, 3.2}};
  std::vector<CurvePoint> val = {{2, 4.5}, {4, 3.6}};
  std::string svg = lossCurveSvg(train, val, "run <x>");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("class=\"train\""), std::string::npos);
  EXPECT_NE(svg.find("class=\"val\""), std::string::npos);
  EXPECT_NE(svg.find("run &lt;x&gt;"), std::string::npos) << "escaped title";
  EXPECT_NE(svg.find(">step<"), std::string::npos);
  EXPECT_NE(svg.find(">3.5<"), std::string::npos) << "a y tick label";
  // Empty and NaN inputs still give a valid document.
  std::string empty = lossCurveSvg({}, {}, "empty");
  EXPECT_NE(empty.find("</svg>"), std::string::npos);
  std::string nan = lossCurveSvg({{1, NAN}, {2, 1.0}}, {}, "nan");
  EXPECT_EQ(nan.find("nan,"), std::string::npos);
}
