#include "tp/metrics/metrics.h"

#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tp::metrics {
namespace {

using ::testing::Contains;
using ::testing::Not;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    out.push_back(line);
  }
  return out;
}

TEST(RegistryTest, CounterRendersHelpTypeAndValue) {
  Registry registry;
  Counter& c = registry.AddCounter("jobs_total", "Jobs done.");
  c.Inc();
  c.Inc(2.5);
  c.Inc(-4);  // ignored: counters only go up
  EXPECT_EQ(registry.Render(),
            "# HELP jobs_total Jobs done.\n"
            "# TYPE jobs_total counter\n"
            "jobs_total 3.5\n");
}

TEST(RegistryTest, GaugeSetAddSub) {
  Registry registry;
  Gauge& g = registry.AddGauge("queue_depth", "Depth");
  g.Set(10);
  g.Add(5);
  g.Sub(3);
  EXPECT_THAT(Lines(registry.Render()), Contains("queue_depth 12"));
}

TEST(RegistryTest, LabelledChildrenSortedAndEscaped) {
  Registry registry;
  CounterFamily& f =
      registry.AddCounterFamily("req_total", "Requests", {"route", "code"});
  f.WithLabels({"/b", "200"}).Inc();
  f.WithLabels({"/a", "500"}).Inc(2);
  f.WithLabels({"quote\"back\\slash\nnewline", "200"}).Inc();
  const auto lines = Lines(registry.Render());
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "# HELP req_total Requests");
  EXPECT_EQ(lines[1], "# TYPE req_total counter");
  EXPECT_EQ(lines[2], "req_total{route=\"/a\",code=\"500\"} 2");
  EXPECT_EQ(lines[3], "req_total{route=\"/b\",code=\"200\"} 1");
  EXPECT_EQ(lines[4],
            "req_total{route=\"quote\\\"back\\\\slash\\nnewline\",code=\"200\"} 1");
}

TEST(RegistryTest, HelpIsEscaped) {
  Registry registry;
  registry.AddGauge("g", "line one\nback\\slash");
  EXPECT_THAT(Lines(registry.Render()), Contains("# HELP g line one\\nback\\\\slash"));
}

TEST(RegistryTest, HistogramBucketsAreCumulative) {
  Registry registry;
  Histogram& h = registry.AddHistogram("latency_seconds", "Latency", {0.1, 0.5, 1});
  h.Observe(0.05);
  h.Observe(0.1);  // upper bounds are inclusive
  h.Observe(0.3);
  h.Observe(7);
  EXPECT_EQ(registry.Render(),
            "# HELP latency_seconds Latency\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{le=\"0.1\"} 2\n"
            "latency_seconds_bucket{le=\"0.5\"} 3\n"
            "latency_seconds_bucket{le=\"1\"} 3\n"
            "latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "latency_seconds_sum 7.45\n"
            "latency_seconds_count 4\n");
}

TEST(RegistryTest, LabelledHistogramPutsLeLast) {
  Registry registry;
  auto& f = registry.AddHistogramFamily("d_seconds", "D", {"route"}, {1});
  f.WithLabels({"/x"}).ObserveDuration(std::chrono::milliseconds(250));
  const auto lines = Lines(registry.Render());
  EXPECT_THAT(lines, Contains("d_seconds_bucket{route=\"/x\",le=\"1\"} 1"));
  EXPECT_THAT(lines, Contains("d_seconds_bucket{route=\"/x\",le=\"+Inf\"} 1"));
  EXPECT_THAT(lines, Contains("d_seconds_sum{route=\"/x\"} 0.25"));
  EXPECT_THAT(lines, Contains("d_seconds_count{route=\"/x\"} 1"));
}

TEST(RegistryTest, CallbackGaugesEvaluatedAtScrape) {
  Registry registry;
  double value = 1;
  registry.AddCallbackGauge("buffer_utilisation", "Fill ratio", [&] { return value; });
  registry.AddCallbackGaugeFamily("backlog", "Backlog", {"partition"}, [] {
    return std::vector<LabeledValue>{{{"0"}, 5}, {{"1"}, 0}, {{"too", "many"}, 9}};
  });
  EXPECT_THAT(Lines(registry.Render()), Contains("buffer_utilisation 1"));
  value = 0.75;
  const auto lines = Lines(registry.Render());
  EXPECT_THAT(lines, Contains("buffer_utilisation 0.75"));
  EXPECT_THAT(lines, Contains("# TYPE backlog gauge"));
  EXPECT_THAT(lines, Contains("backlog{partition=\"0\"} 5"));
  EXPECT_THAT(lines, Contains("backlog{partition=\"1\"} 0"));
  EXPECT_THAT(lines, Not(Contains("backlog{partition=\"too\"} 9")));
}

TEST(RegistryTest, SpecialValues) {
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatValue(0.0 / 0.0), "NaN");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(1e-9), "1e-09");
}

TEST(RegistryTest, ReRegisteringReturnsSameMetric) {
  Registry registry;
  Counter& a = registry.AddCounter("x_total", "X");
  Counter& b = registry.AddCounter("x_total", "X");
  EXPECT_EQ(&a, &b);
  auto& f1 = registry.AddCounterFamily("y_total", "Y", {"a"});
  auto& f2 = registry.AddCounterFamily("y_total", "Y", {"a"});
  EXPECT_EQ(&f1, &f2);
  EXPECT_EQ(&f1.WithLabels({"v"}), &f2.WithLabels({"v"}));
}

TEST(RegistryTest, MisuseThrows) {
  Registry registry;
  EXPECT_THROW(registry.AddCounter("bad-name", "x"), std::invalid_argument);
  EXPECT_THROW(registry.AddCounter("1abc", "x"), std::invalid_argument);
  EXPECT_THROW(registry.AddCounterFamily("c", "x", {"__reserved"}),
               std::invalid_argument);
  EXPECT_THROW(registry.AddHistogramFamily("h", "x", {"le"}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h2", "x", {1, 0.5}), std::invalid_argument);
  registry.AddCounter("same", "x");
  EXPECT_THROW(registry.AddGauge("same", "x"), std::invalid_argument);
  auto& f = registry.AddGaugeFamily("g", "x", {"a", "b"});
  EXPECT_THROW(f.WithLabels({"only-one"}), std::invalid_argument);
}

TEST(RegistryTest, ConcurrentIncrementsAreNotLost) {
  Registry registry;
  auto& family = registry.AddCounterFamily("hits_total", "Hits", {"t"});
  Histogram& h = registry.AddHistogram("obs", "Obs", {1});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter& mine = family.WithLabels({std::to_string(t % 2)});
      for (int i = 0; i < kPerThread; ++i) {
        mine.Inc();
        h.Observe(0.5);
        if (i % 1000 == 0) {
          (void)registry.Render();
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  const auto lines = Lines(registry.Render());
  EXPECT_THAT(lines, Contains("hits_total{t=\"0\"} 40000"));
  EXPECT_THAT(lines, Contains("hits_total{t=\"1\"} 40000"));
  EXPECT_THAT(lines, Contains("obs_count 80000"));
  EXPECT_THAT(lines, Contains("obs_sum 40000"));
}

}  // namespace
}  // namespace tp::metrics
