// Helpers shared by the collector tests: records, a migrated database, row counts.
#pragma once

#include <string>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "collector/telemetry_store.h"
#include "tp/migrate/migrate.h"
#include "tp/pg/connection.h"
#include "tp/telemetry/time.h"

namespace tp::collector::testing {

inline telemetry::TelemetryRecord MakeRecord(const std::string& gpu,
                                             const std::string& metric,
                                             const std::string& ts,
                                             double value = 1.0) {
  telemetry::TelemetryRecord r;
  r.timestamp = telemetry::ParseRfc3339(ts).value();
  r.metric_name = metric;
  r.gpu_id = 0;
  r.device = "nvidia0";
  r.uuid = gpu;
  r.model_name = "NVIDIA H100 80GB HBM3";
  r.hostname = "host-1";
  r.value = value;
  r.labels_raw = R"(DCGM_FI_DRIVER_VERSION="535.129.03",gpu="0")";
  return r;
}

inline Status MigrateUp(const std::string& conninfo) {
  TP_ASSIGN_OR_RETURN(auto conn, pg::Connect(conninfo));
  migrate::Migrator m(*conn, migrate::EmbeddedMigrations());
  TP_ASSIGN_OR_RETURN(int n, m.Up());
  (void)n;
  return Status::Ok();
}

// The single value `sql` returns, as T.
template <typename T>
T QueryValue(const std::string& conninfo, const std::string& sql) {
  auto conn = pg::Connect(conninfo);
  EXPECT_TRUE(conn.ok()) << conn.status().ToString();
  if (!conn.ok()) {
    return T{};
  }
  pqxx::nontransaction tx(**conn);
  return tx.exec1(sql)[0].as<T>();
}

inline long long Count(const std::string& conninfo, const std::string& sql) {
  return QueryValue<long long>(conninfo, sql);
}

}  // namespace tp::collector::testing
