// The whole pipeline as processes: `streamer --loops 1` over the shipped DCGM CSV ->
// `broker standalone` -> `collector` -> a throwaway PostgreSQL. Afterwards the telemetry
// table holds exactly one row per CSV row, with the row's GPU, metric and value.
#include <map>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <sys/wait.h>

#include "streamer/dcgm_csv.h"
#include "tp/migrate/migrate.h"
#include "tp/testing/child_process.h"
#include "tp/testing/postgres_server.h"
#include "tp/testing/testing.h"

namespace tp {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string CsvPath() {
  return std::string(TP_SOURCE_DIR) + "/data/dcgm_metrics_20250718_134233.csv";
}

// (gpu uuid, metric, value text) -> count. Values as text at full precision, "null" for
// DCGM blanks.
using RowKey = std::tuple<std::string, std::string, std::string>;

std::string ValueText(const std::optional<double>& v) {
  if (!v)
    return "null";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", *v);
  return buf;
}

std::map<RowKey, int> CsvRows() {
  std::map<RowKey, int> rows;
  auto reader = streamer::DcgmCsvReader::Open(CsvPath());
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  if (!reader.ok())
    return rows;
  streamer::DcgmRow row;
  streamer::RowError error;
  for (int i = 0; i < 100000; ++i) {
    auto next = (*reader)->Next(&row, &error);
    EXPECT_TRUE(next.ok()) << next.status().ToString();
    if (!next.ok() || *next == streamer::DcgmCsvReader::ReadStatus::kEnd)
      break;
    if (*next == streamer::DcgmCsvReader::ReadStatus::kRow) {
      ++rows[{row.record.uuid, row.record.metric_name, ValueText(row.record.value)}];
    }
  }
  return rows;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = testing::PostgresServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status().ToString();
    pg_ = std::move(pg).value();
    pqxx::connection conn(pg_->ConnectionString());
    migrate::Migrator migrator(conn, migrate::EmbeddedMigrations());
    auto up = migrator.Up();
    ASSERT_TRUE(up.ok()) << up.status().ToString();
  }

  int64_t Count(const std::string& sql) {
    pqxx::connection conn(pg_->ConnectionString());
    pqxx::work tx(conn);
    return tx.exec1(sql)[0].as<int64_t>();
  }

  TempDir dir_ = testing::MakeTempDir("pipeline-e2e-");
  std::unique_ptr<testing::PostgresServer> pg_;
};

TEST_F(PipelineTest, StreamerLoopsOnceAndEveryCsvRowIsStoredExactlyOnce) {
  const auto bin = testing::BinDir();
  const std::string broker_url =
      "http://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
  testing::ChildProcess broker({(bin / "broker").string(),
                                "standalone",
                                "--listen",
                                broker_url.substr(7),
                                "--data-dir",
                                (dir_.path() / "log").string(),
                                "--log-format",
                                "text"},
                               dir_.path() / "broker.log");
  testing::ChildProcess collector({(bin / "collector").string(),
                                   "--reader",
                                   broker_url,
                                   "--database-url",
                                   pg_->ConnectionString(),
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--inflight",
                                   "3",
                                   "--db-connections",
                                   "2",
                                   "--log-format",
                                   "text"},
                                  dir_.path() / "collector.log");

  auto streamer = testing::RunProcess({(bin / "streamer").string(),
                                       "--broker",
                                       broker_url,
                                       "--csv",
                                       CsvPath(),
                                       "--loops",
                                       "1",
                                       "--listen",
                                       "127.0.0.1:0",
                                       "--log-format",
                                       "text"});
  ASSERT_EQ(streamer.exit_code, 0) << streamer.err << "\nbroker:\n" << broker.Stderr();

  const std::map<RowKey, int> expected = CsvRows();
  int expected_total = 0;
  for (const auto& [k, n] : expected)
    expected_total += n;
  ASSERT_EQ(expected_total, 2470);

  // Bounded wait for the collector to store everything.
  const auto deadline = std::chrono::steady_clock::now() + seconds(90);
  int64_t stored = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    stored = Count("SELECT count(*) FROM telemetry");
    if (stored >= expected_total)
      break;
    std::this_thread::sleep_for(milliseconds(250));
  }
  // A little longer: anything beyond 2470 would be a duplicate.
  std::this_thread::sleep_for(seconds(2));
  stored = Count("SELECT count(*) FROM telemetry");
  ASSERT_EQ(stored, expected_total) << "collector:\n" << collector.Stderr();
  EXPECT_EQ(Count("SELECT count(DISTINCT msg_uuid) FROM telemetry"), expected_total);

  std::map<RowKey, int> actual;
  {
    pqxx::connection conn(pg_->ConnectionString());
    pqxx::work tx(conn);
    for (const auto& row :
         tx.exec("SELECT gpu_uuid, metric_name, value FROM telemetry")) {
      std::optional<double> v;
      if (!row[2].is_null())
        v = row[2].as<double>();
      ++actual[{row[0].as<std::string>(), row[1].as<std::string>(), ValueText(v)}];
    }
  }
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(Count("SELECT count(*) FROM gpus"),
            Count("SELECT count(DISTINCT gpu_uuid) FROM telemetry"));
  // Three leases in flight shared the two write connections of --db-connections.
  const int64_t write_connections =
      Count("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'collector'");
  EXPECT_GE(write_connections, 1);
  EXPECT_LE(write_connections, 2);

  // Both services stop cleanly on SIGTERM.
  const int collector_status = collector.TerminateAndWait(seconds(20));
  EXPECT_TRUE(WIFEXITED(collector_status) && WEXITSTATUS(collector_status) == 0)
      << collector.Stderr();
  const int broker_status = broker.TerminateAndWait(seconds(40));
  EXPECT_TRUE(WIFEXITED(broker_status) && WEXITSTATUS(broker_status) == 0)
      << broker.Stderr();
}

}  // namespace
}  // namespace tp
