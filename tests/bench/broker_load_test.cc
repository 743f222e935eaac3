// bench/broker/broker_load end to end with tiny bounds: every phase runs against a real
// `broker standalone` child and the report carries every figure the benchmark promises.
#include <fstream>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tp/testing/testing.h"

namespace tp {
namespace {

TEST(BrokerLoadTest, ReportsEveryFigureOfAShortRun) {
  TempDir dir = testing::MakeTempDir("broker-load-test-");
  const std::string json_path = (dir.path() / "report.json").string();
  const auto run = testing::RunProcess({(testing::BinDir() / "broker_load").string(),
                                        "--seconds",
                                        "1",
                                        "--count",
                                        "400",
                                        "--warmup-seconds",
                                        "0.2",
                                        "--publishers",
                                        "2",
                                        "--batch",
                                        "50",
                                        "--connections",
                                        "4",
                                        "--consumers",
                                        "1",
                                        "--lease-batch",
                                        "50",
                                        "--json",
                                        json_path});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;

  // The human report: the table, the breakdown and one verdict per goal.
  for (const char* text : {"msgs/s",
                           "p50 ms",
                           "p99 ms",
                           "wal ceiling: 2 threads x batch 50",
                           "(a) publish: 2 publishers x batch 50",
                           "rocksdb: 1 thread x 1 synced Put per msg",
                           "(b) publish: 4 keep-alive conns x 1 msg/request",
                           "(c) lease+ack: 1 consumers x lease 50",
                           "where the time goes",
                           "load average at start",
                           "after 0.2 s of warm-up",
                           "(goal >= 0.70)",
                           "(goal >= 3.00)",
                           "(goal >= 0.90)"}) {
    EXPECT_NE(run.out.find(text), std::string::npos) << "missing '" << text << "' in\n"
                                                     << run.out;
  }

  std::ifstream in(json_path);
  const auto doc = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << "bad JSON report";
  EXPECT_DOUBLE_EQ(doc.at("warmup_seconds").get<double>(), 0.2);
  std::set<std::string> ids;
  for (const auto& phase : doc.at("phases")) {
    const std::string id = phase.at("id").get<std::string>();
    ids.insert(id);
    EXPECT_GT(phase.at("messages").get<double>(), 0) << id;
    EXPECT_GT(phase.at("msgs_per_s").get<double>(), 0) << id;
    EXPECT_EQ(phase.at("errors").get<double>(), 0) << id;
    const auto& latency = phase.at("latency");
    EXPECT_GT(latency.at("p50_ms").get<double>(), 0) << id;
    EXPECT_GE(latency.at("p99_ms").get<double>(), latency.at("p50_ms").get<double>())
        << id;
  }
  EXPECT_EQ(ids,
            (std::set<std::string>{"wal_ceiling",
                                   "wal_split",
                                   "publish_batch",
                                   "rocksdb_put",
                                   "wal_single",
                                   "publish_single",
                                   "publish_with_consumers",
                                   "lease_ack"}));
  for (const auto& phase : doc.at("phases")) {
    if (phase.at("id") == "publish_single") {
      // One keep-alive connection per publisher (plus the benchmark's /metrics scrape).
      EXPECT_GE(phase.at("broker").at("open_connections").get<double>(), 4);
      EXPECT_NEAR(phase.at("broker").at("appends_per_request").get<double>(), 1, 0.2);
    }
  }
  ASSERT_EQ(doc.at("goals").size(), 3u);
  for (const auto& goal : doc.at("goals")) {
    EXPECT_GT(goal.at("ratio").get<double>(), 0) << goal.at("id");
  }
}

}  // namespace
}  // namespace tp
