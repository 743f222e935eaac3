// The telemetry page query uses the (gpu, time) indexes: on a table with enough rows
// for a sequential scan to be tempting (200k rows, ANALYZEd), every prepared variant
// reads through telemetry_gpu_ts_idx (or telemetry_gpu_metric_ts_idx for one metric) and
// never scans the table, with the custom plan and with the generic plan PostgreSQL
// switches to after five executions. When the window holds a few hundred rows the
// planner may pick a bitmap scan of that index plus a small sort; when it holds far more
// rows than the page (every metric, whole range), it must be an ordered index scan with
// no Sort at all.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "apigw/gateway.h"
#include "seed.h"
#include "tp/pg/connection.h"
#include "tp/testing/postgres_server.h"
#include "tp/testing/testing.h"

namespace tp::apigw {
namespace {

// Node types of a JSON plan, depth first, as "Node Type[:Index Name]".
void Collect(const nlohmann::json& node, std::vector<std::string>* out) {
  std::string entry = node.value("Node Type", "");
  if (node.contains("Index Name")) {
    entry += ":" + node["Index Name"].get<std::string>();
  }
  if (node.contains("Relation Name")) {
    entry += "@" + node["Relation Name"].get<std::string>();
  }
  out->push_back(entry);
  for (const auto& child : node.value("Plans", nlohmann::json::array())) {
    Collect(child, out);
  }
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) {
    s += (s.empty() ? "" : " > ") + x;
  }
  return s;
}

TEST(QueryPlanTest, TelemetryQueriesAreIndexScansAt200kRows) {
  ASSERT_OK_AND_ASSIGN(auto server, tp::testing::SharedPostgresServer());
  ASSERT_OK_AND_ASSIGN(auto conninfo, server->CreateDatabase("apigw_plan"));
  ASSERT_OK(testing::ApplySchema(conninfo));
  ASSERT_OK(testing::SeedSynthetic(conninfo, 200000, 50, std::chrono::seconds(10)));
  ASSERT_OK_AND_ASSIGN(auto conn, pg::Connect(conninfo));
  pqxx::nontransaction tx(*conn);
  ASSERT_EQ(tx.exec1("SELECT count(*) FROM telemetry")[0].as<long>(), 200000);

  const std::string gpu = testing::SyntheticGpu(7);
  int n = 0;
  for (const char* mode : {"custom", "generic"}) {
    tx.exec0(std::string("SET plan_cache_mode = force_") + mode + "_plan");
    for (bool desc : {false, true}) {
      for (std::size_t metrics : {0u, 1u, 2u}) {
        for (bool cursor : {false, true}) {
          for (bool wide : {false, true}) {
            const std::string name = "plan_" + std::to_string(n++);
            tx.exec0("PREPARE " + name + " AS " +
                     TelemetryQuerySql(desc, metrics, cursor));
            std::string args = "'" + gpu + "', " +
                               (wide ? "'-infinity', 'infinity'"
                                     : "'2025-07-18T20:30:00Z', '2025-07-18T20:35:00Z'");
            if (metrics == 1) {
              args += ", 'DCGM_FI_DEV_GPU_UTIL'";
            } else if (metrics == 2) {
              args += ", '{DCGM_FI_DEV_GPU_UTIL,DCGM_FI_DEV_GPU_TEMP}'";
            }
            if (cursor) {
              args += ", '2025-07-18T20:32:00Z', '00000000-0000-0000-0000-000000000000'";
            }
            args += ", 101";
            const std::string text =
                tx.exec1("EXPLAIN (FORMAT JSON) EXECUTE " + name + "(" + args + ")")[0]
                    .as<std::string>();
            std::vector<std::string> nodes;
            Collect(nlohmann::json::parse(text)[0]["Plan"], &nodes);
            const std::string plan = Join(nodes);
            SCOPED_TRACE(std::string(mode) + (desc ? " desc" : " asc") + " metrics=" +
                         std::to_string(metrics) + (cursor ? " cursor" : "") +
                         (wide ? " wide" : " 5min") + ": " + plan);
            EXPECT_EQ(plan.find("Seq Scan"), std::string::npos);
            EXPECT_TRUE(plan.find("telemetry_gpu_ts_idx") != std::string::npos ||
                        plan.find("telemetry_gpu_metric_ts_idx") != std::string::npos);
            if (metrics == 1) {
              EXPECT_NE(plan.find("telemetry_gpu_metric_ts_idx"), std::string::npos);
            }
            // 4000 rows of the GPU in the window, 101 wanted: only an ordered scan of
            // the index is cheap.
            const std::string index = "telemetry_gpu_ts_idx";
            if (wide && metrics == 0 && mode == std::string("custom")) {
              EXPECT_EQ(plan.find("Sort"), std::string::npos);
              EXPECT_EQ(plan.find("Bitmap"), std::string::npos);
              EXPECT_NE(plan.find("Index Scan:" + index + "@telemetry"),
                        std::string::npos);
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace tp::apigw
