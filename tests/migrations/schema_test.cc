// The schema as the collector and apigw rely on it, checked through the catalog and by
// running the statements docs/SCHEMA.md recommends.
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include "tp/migrate/migrate.h"
#include "tp/pg/connection.h"
#include "tp/pg/error.h"
#include "tp/testing/postgres_server.h"
#include "tp/testing/testing.h"

namespace tp::migrate {
namespace {

class SchemaTest : public ::tp::testing::PostgresTest {
 protected:
  void SetUp() override {
    PostgresTest::SetUp();
    auto conn = pg::Connect(conninfo());
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::move(conn).value();
    Migrator m(*conn_, EmbeddedMigrations());
    ASSERT_OK(m.Up().status());
  }

  std::vector<std::string> Column(const std::string& sql) {
    pqxx::nontransaction tx(*conn_);
    std::vector<std::string> out;
    for (const auto& row : tx.exec(sql))
      out.push_back(row[0].is_null() ? "NULL" : row[0].c_str());
    return out;
  }
  Status Exec(const std::string& sql) {
    return pg::Call("exec", [&] {
      pqxx::work tx(*conn_);
      tx.exec(sql);
      tx.commit();
    });
  }
  std::vector<std::string> Columns(const std::string& table) {
    return Column(
        "SELECT column_name || ' ' || data_type || ' ' || is_nullable "
        "FROM information_schema.columns WHERE table_name = '" +
        table + "' ORDER BY ordinal_position");
  }

  // The collector's insert (one datapoint), as documented in docs/SCHEMA.md.
  Status InsertDatapoint(const std::string& msg_uuid,
                         const std::string& ts,
                         const std::string& container,
                         const std::string& value) {
    return Exec(
        "INSERT INTO telemetry (msg_uuid, ts, gpu_uuid, gpu_index, device, model_name, "
        "hostname, container, pod, namespace, metric_name, value, labels, labels_raw) "
        "VALUES ('" +
        msg_uuid + "', '" + ts + "', 'GPU-1', 0, 'nvidia0', 'H100', 'host-1', " +
        container + ", NULL, NULL, 'DCGM_FI_DEV_GPU_UTIL', " + value +
        ", '{\"job\":\"dcgm\"}', 'job=\"dcgm\"') ON CONFLICT (msg_uuid) DO NOTHING");
  }

  std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(SchemaTest, TelemetryColumns) {
  EXPECT_EQ(Columns("telemetry"),
            (std::vector<std::string>{"msg_uuid uuid NO",
                                      "ts timestamp with time zone NO",
                                      "gpu_uuid text NO",
                                      "gpu_index integer NO",
                                      "device text NO",
                                      "model_name text NO",
                                      "hostname text NO",
                                      "container text YES",
                                      "pod text YES",
                                      "namespace text YES",
                                      "metric_name text NO",
                                      "value double precision YES",
                                      "labels jsonb NO",
                                      "labels_raw text NO",
                                      "inserted_at timestamp with time zone NO"}));
}

TEST_F(SchemaTest, GpusColumns) {
  EXPECT_EQ(Columns("gpus"),
            (std::vector<std::string>{"gpu_uuid text NO",
                                      "hostname text NO",
                                      "gpu_index integer NO",
                                      "device text NO",
                                      "model_name text NO",
                                      "first_seen timestamp with time zone NO",
                                      "last_seen timestamp with time zone NO",
                                      "metric_names ARRAY NO"}));
}

TEST_F(SchemaTest, Indexes) {
  EXPECT_EQ(
      Column("SELECT indexname || ': ' || regexp_replace(indexdef, '.* USING ', '') "
             "FROM pg_indexes WHERE tablename IN ('telemetry', 'gpus') ORDER BY 1"),
      (std::vector<std::string>{
          "gpus_hostname_idx: btree (hostname, gpu_index)",
          "gpus_pkey: btree (gpu_uuid)",
          "telemetry_gpu_metric_ts_idx: btree (gpu_uuid, metric_name, ts, msg_uuid)",
          "telemetry_gpu_ts_idx: btree (gpu_uuid, ts, msg_uuid)",
          "telemetry_msg_uuid_key: btree (msg_uuid)",
          "telemetry_ts_brin_idx: brin (ts) WITH (pages_per_range='32')"}));
  EXPECT_EQ(Column("SELECT indisunique::text FROM pg_index "
                   "WHERE indexrelid = 'telemetry_msg_uuid_key'::regclass"),
            (std::vector<std::string>{"true"}));
}

TEST_F(SchemaTest, DuplicateMessageIsStoredOnce) {
  const std::string id = "0190f6a0-0000-7000-8000-000000000001";
  ASSERT_OK(InsertDatapoint(id, "2025-07-18T20:42:34.123456Z", "NULL", "42.5"));
  ASSERT_OK(InsertDatapoint(id, "2025-07-18T20:42:34.123456Z", "NULL", "42.5"));
  EXPECT_EQ(Column("SELECT count(*) FROM telemetry"), (std::vector<std::string>{"1"}));
  // Microseconds survive.
  EXPECT_EQ(
      Column("SELECT to_char(ts AT TIME ZONE 'UTC', 'HH24:MI:SS.US') FROM telemetry"),
      (std::vector<std::string>{"20:42:34.123456"}));
}

TEST_F(SchemaTest, EmptyStringsMustBeNullAndValueMayBeNull) {
  Status empty = InsertDatapoint(
      "0190f6a0-0000-7000-8000-000000000002", "2025-07-18T20:42:34Z", "''", "1");
  EXPECT_EQ(empty.code(), StatusCode::kFailedPrecondition) << empty.ToString();
  EXPECT_NE(empty.message().find("23514"), std::string::npos);
  EXPECT_OK(InsertDatapoint("0190f6a0-0000-7000-8000-000000000003",
                            "2025-07-18T20:42:34Z",
                            "'trainer'",
                            "NULL"));
  EXPECT_EQ(Column("SELECT value FROM telemetry"), (std::vector<std::string>{"NULL"}));
}

// The upsert from docs/SCHEMA.md: keeps first_seen/last_seen/metric_names right whatever
// order batches arrive in, and skips the write when nothing would change.
constexpr const char* kGpuUpsert = R"sql(
INSERT INTO gpus AS g (gpu_uuid, hostname, gpu_index, device, model_name,
                       first_seen, last_seen, metric_names)
VALUES ('GPU-1', 'host-1', 0, 'nvidia0', 'H100', $1::timestamptz, $2::timestamptz, $3::text[])
ON CONFLICT (gpu_uuid) DO UPDATE SET
    hostname     = CASE WHEN EXCLUDED.last_seen >= g.last_seen THEN EXCLUDED.hostname ELSE g.hostname END,
    gpu_index    = CASE WHEN EXCLUDED.last_seen >= g.last_seen THEN EXCLUDED.gpu_index ELSE g.gpu_index END,
    device       = CASE WHEN EXCLUDED.last_seen >= g.last_seen THEN EXCLUDED.device ELSE g.device END,
    model_name   = CASE WHEN EXCLUDED.last_seen >= g.last_seen THEN EXCLUDED.model_name ELSE g.model_name END,
    first_seen   = LEAST(g.first_seen, EXCLUDED.first_seen),
    last_seen    = GREATEST(g.last_seen, EXCLUDED.last_seen),
    metric_names = ARRAY(SELECT DISTINCT unnest(g.metric_names || EXCLUDED.metric_names) ORDER BY 1)
WHERE EXCLUDED.last_seen > g.last_seen
   OR EXCLUDED.first_seen < g.first_seen
   OR NOT g.metric_names @> EXCLUDED.metric_names
)sql";

TEST_F(SchemaTest, DocumentedGpuUpsertKeepsTheRowCurrent) {
  auto upsert = [&](const char* first, const char* last, const char* metrics) {
    return pg::Call("upsert", [&] {
      pqxx::work tx(*conn_);
      auto r = tx.exec_params(kGpuUpsert, first, last, metrics);
      tx.commit();
      return static_cast<int>(r.affected_rows());
    });
  };
  ASSERT_OK_AND_ASSIGN(int n,
                       upsert("2025-07-18T20:00:00Z", "2025-07-18T20:00:10Z", "{B}"));
  EXPECT_EQ(n, 1);
  ASSERT_OK_AND_ASSIGN(n, upsert("2025-07-18T19:00:00Z", "2025-07-18T19:00:05Z", "{A}"));
  EXPECT_EQ(n, 1);  // older batch: widens first_seen, adds A
  ASSERT_OK_AND_ASSIGN(n,
                       upsert("2025-07-18T20:00:01Z", "2025-07-18T20:00:02Z", "{A,B}"));
  EXPECT_EQ(n, 0);  // nothing new: no row version written
  EXPECT_EQ(
      Column("SELECT first_seen AT TIME ZONE 'UTC' || ' ' || last_seen AT TIME ZONE "
             "'UTC' || ' ' || metric_names::text FROM gpus"),
      (std::vector<std::string>{"2025-07-18 19:00:00 2025-07-18 20:00:10 {A,B}"}));
}

TEST_F(SchemaTest, RetentionDeletesInBatches) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(InsertDatapoint("0190f6a0-0000-7000-8000-00000000001" + std::to_string(i),
                              "2025-07-0" + std::to_string(i + 1) + "T00:00:00Z",
                              "NULL",
                              "1"));
  }
  ASSERT_OK(
      Exec("INSERT INTO gpus VALUES ('GPU-old', 'h', 0, 'nvidia0', 'H100', "
           "'2025-07-01', '2025-07-02', '{}')"));
  EXPECT_EQ(Column("SELECT telemetry_delete_before('2025-07-04T00:00:00Z', 2)"),
            (std::vector<std::string>{"2"}));
  EXPECT_EQ(Column("SELECT count(*) FROM gpus"), (std::vector<std::string>{"1"}));
  EXPECT_EQ(Column("SELECT telemetry_delete_before('2025-07-04T00:00:00Z', 2)"),
            (std::vector<std::string>{"1"}));  // last batch: also prunes gpus
  EXPECT_EQ(Column("SELECT count(*) FROM gpus"), (std::vector<std::string>{"0"}));
  EXPECT_EQ(Column("SELECT count(*) FROM telemetry"), (std::vector<std::string>{"2"}));
  EXPECT_EQ(Exec("SELECT telemetry_delete_before(now(), 0)").code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tp::migrate
