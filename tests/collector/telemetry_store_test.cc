#include "collector/telemetry_store.h"

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "store_test_util.h"
#include "tp/testing/postgres_server.h"
#include "tp/testing/testing.h"

namespace tp::collector {
namespace {

using testing::Count;
using testing::MakeRecord;

class TelemetryStoreTest : public tp::testing::PostgresTest {
 protected:
  void SetUp() override {
    PostgresTest::SetUp();
    ASSERT_OK(testing::MigrateUp(conninfo()));
    pg::PoolOptions o;
    o.conninfo = conninfo();
    o.max_size = 4;
    ASSERT_OK_AND_ASSIGN(pool_, pg::ConnectionPool::Create(o));
    store_ = std::make_unique<TelemetryStore>(pool_);
  }

  long long Rows() { return Count(conninfo(), "SELECT count(*) FROM telemetry"); }

  std::shared_ptr<pg::ConnectionPool> pool_;
  std::unique_ptr<TelemetryStore> store_;
};

TEST_F(TelemetryStoreTest, SameMessageTwiceIsOneRow) {
  StoreRow row{
      Uuid::NewV7(),
      MakeRecord("GPU-a", "DCGM_FI_DEV_GPU_TEMP", "2025-07-18T20:42:34.123456Z", 34)};
  ASSERT_OK_AND_ASSIGN(auto first, store_->Write({row}));
  EXPECT_EQ(first.inserted, 1u);
  EXPECT_EQ(first.duplicates, 0u);
  ASSERT_OK_AND_ASSIGN(auto second, store_->Write({row}));
  EXPECT_EQ(second.inserted, 0u);
  EXPECT_EQ(second.duplicates, 1u);
  EXPECT_EQ(Rows(), 1);

  auto conn = pg::Connect(conninfo());
  ASSERT_OK(conn.status());
  pqxx::nontransaction tx(**conn);
  auto r = tx.exec1(
      "SELECT msg_uuid::text, to_char(ts AT TIME ZONE 'UTC', "
      "'YYYY-MM-DD\"T\"HH24:MI:SS.US'),"
      " gpu_uuid, value, container IS NULL, labels->>'gpu', labels_raw FROM telemetry");
  EXPECT_EQ(r[0].as<std::string>(), row.msg_uuid.ToString());
  EXPECT_EQ(r[1].as<std::string>(), "2025-07-18T20:42:34.123456");
  EXPECT_EQ(r[2].as<std::string>(), "GPU-a");
  EXPECT_EQ(r[3].as<double>(), 34);
  EXPECT_TRUE(r[4].as<bool>());
  EXPECT_EQ(r[5].as<std::string>(), "0");
  EXPECT_EQ(r[6].as<std::string>(), row.record.labels_raw);
}

TEST_F(TelemetryStoreTest, DuplicatesInsideOneBatch) {
  const Uuid a = Uuid::NewV7();
  const Uuid b = Uuid::NewV7();
  auto rec = MakeRecord("GPU-a", "M", "2025-07-18T20:42:34Z");
  ASSERT_OK_AND_ASSIGN(auto res, store_->Write({{a, rec}, {b, rec}, {a, rec}, {a, rec}}));
  EXPECT_EQ(res.inserted, 2u);
  EXPECT_EQ(res.duplicates, 2u);
  EXPECT_EQ(Rows(), 2);
}

TEST_F(TelemetryStoreTest, NullValueAndSpecialCharactersRoundTrip) {
  auto rec = MakeRecord("GPU-'quote", "M", "2025-07-18T20:42:34Z");
  rec.value.reset();
  rec.hostname = "host\\with'odd\"chars";
  rec.pod = "pod-1";
  rec.labels_raw = "not labels at all";
  ASSERT_OK(store_->Write({{Uuid::NewV7(), rec}}).status());
  EXPECT_EQ(
      Count(conninfo(),
            "SELECT count(*) FROM telemetry WHERE value IS NULL AND "
            "hostname = 'host\\with''odd\"chars' AND pod = 'pod-1' AND labels = '{}'"),
      1);
}

// The COPY path writes lines in COPY's text format, where a backslash, a tab, a line
// break and the other escapable control characters mean something: each must come back
// as the text that was sent, and a double with all 17 digits exactly.
TEST_F(TelemetryStoreTest, CopyEscapesAndFullPrecisionValuesRoundTrip) {
  const std::string text = "a\tb\nc\rd\be\ff\vg\\N\\";
  auto rec = MakeRecord("GPU-copy", "M", "2025-07-18T20:42:34Z");
  rec.labels_raw = text;
  rec.device = text;
  rec.value = 0.1 + 0.2;
  ASSERT_OK_AND_ASSIGN(auto res, store_->Write({{Uuid::NewV7(), rec}}));
  EXPECT_EQ(res.inserted, 1u);
  EXPECT_EQ(
      testing::QueryValue<std::string>(
          conninfo(), "SELECT labels_raw FROM telemetry WHERE gpu_uuid = 'GPU-copy'"),
      text);
  EXPECT_EQ(testing::QueryValue<std::string>(
                conninfo(), "SELECT device FROM telemetry WHERE gpu_uuid = 'GPU-copy'"),
            text);
  EXPECT_EQ(testing::QueryValue<double>(
                conninfo(), "SELECT value FROM telemetry WHERE gpu_uuid = 'GPU-copy'"),
            0.1 + 0.2);
}

// Rows travel as PostgreSQL array literals: the characters that mean something inside
// one ({ } , " \ and the word NULL) must come back as the text that was sent.
TEST_F(TelemetryStoreTest, ArraySyntaxCharactersAndTheWordNullStayText) {
  auto rec = MakeRecord("GPU-{a,b}", "NULL", "2025-07-18T20:42:34Z");
  rec.device = "\\\"}";
  rec.pod = "NULL";
  rec.container = "{,}";
  rec.namespace_ = "ns \"x\" \\ y";
  rec.labels_raw = R"(job="a,b",note="{x}")";
  auto plain = MakeRecord("GPU-plain", "M", "2025-07-18T20:42:35Z");
  ASSERT_OK_AND_ASSIGN(auto res,
                       store_->Write({{Uuid::NewV7(), rec}, {Uuid::NewV7(), plain}}));
  EXPECT_EQ(res.inserted, 2u);
  EXPECT_EQ(Count(conninfo(),
                  "SELECT count(*) FROM telemetry WHERE gpu_uuid = 'GPU-{a,b}' AND "
                  "metric_name = 'NULL' AND pod = 'NULL' AND container = '{,}' AND "
                  "device = E'\\\\\"}' AND namespace = E'ns \"x\" \\\\ y' AND "
                  "labels_raw = 'job=\"a,b\",note=\"{x}\"' AND "
                  "labels->>'job' = 'a,b' AND labels->>'note' = '{x}'"),
            1);
  EXPECT_EQ(Count(conninfo(),
                  "SELECT count(*) FROM telemetry WHERE gpu_uuid = 'GPU-plain' AND "
                  "container IS NULL AND pod IS NULL AND namespace IS NULL"),
            1);
}

TEST_F(TelemetryStoreTest, GpusTableIsKeptCurrent) {
  ASSERT_OK(
      store_
          ->Write({{Uuid::NewV7(), MakeRecord("GPU-b", "TEMP", "2025-07-18T10:00:00Z")},
                   {Uuid::NewV7(), MakeRecord("GPU-a", "UTIL", "2025-07-18T10:00:01Z")},
                   {Uuid::NewV7(), MakeRecord("GPU-a", "TEMP", "2025-07-18T10:00:02Z")}})
          .status());
  auto later = MakeRecord("GPU-a", "POWER", "2025-07-18T11:00:00Z");
  later.hostname = "host-2";
  auto earlier = MakeRecord("GPU-a", "TEMP", "2025-07-18T09:00:00Z");
  earlier.hostname = "host-0";
  ASSERT_OK(store_->Write({{Uuid::NewV7(), later}, {Uuid::NewV7(), earlier}}).status());

  auto conn = pg::Connect(conninfo());
  ASSERT_OK(conn.status());
  pqxx::nontransaction tx(**conn);
  auto r = tx.exec(
      "SELECT gpu_uuid, hostname, to_char(first_seen AT TIME ZONE 'UTC', 'HH24:MI:SS'), "
      "to_char(last_seen AT TIME ZONE 'UTC', 'HH24:MI:SS'), "
      "array_to_string(metric_names, ',') "
      "FROM gpus ORDER BY gpu_uuid");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0][0].as<std::string>(), "GPU-a");
  EXPECT_EQ(r[0][1].as<std::string>(), "host-2");  // from the newest row
  EXPECT_EQ(r[0][2].as<std::string>(), "09:00:00");
  EXPECT_EQ(r[0][3].as<std::string>(), "11:00:00");
  EXPECT_EQ(r[0][4].as<std::string>(), "POWER,TEMP,UTIL");
  EXPECT_EQ(r[1][0].as<std::string>(), "GPU-b");
  EXPECT_EQ(r[1][4].as<std::string>(), "TEMP");
}

// The store leaves a GPU out of the gpus upsert while a batch moves its last_seen by
// less than the resolution (5 s by default); anything else about the GPU is written.
TEST_F(TelemetryStoreTest, GpusLastSeenLagsByAtMostTheResolution) {
  auto write = [&](TelemetryStore& store, telemetry::TelemetryRecord rec) {
    ASSERT_OK(store.Write({{Uuid::NewV7(), std::move(rec)}}).status());
  };
  auto row = [&] {
    return testing::QueryValue<std::string>(
        conninfo(),
        "SELECT coalesce((SELECT to_char(last_seen AT TIME ZONE 'UTC', 'HH24:MI:SS.MS') "
        "|| ' ' || hostname || ' ' || array_to_string(metric_names, ',') FROM gpus "
        "WHERE gpu_uuid = 'GPU-a'), 'missing')");
  };
  write(*store_, MakeRecord("GPU-a", "TEMP", "2025-07-18T10:00:00Z"));
  EXPECT_EQ(row(), "10:00:00.000 host-1 TEMP");
  write(*store_, MakeRecord("GPU-a", "TEMP", "2025-07-18T10:00:04Z"));
  EXPECT_EQ(row(), "10:00:00.000 host-1 TEMP");  // within 5 s: left out
  write(*store_, MakeRecord("GPU-a", "UTIL", "2025-07-18T10:00:04.5Z"));
  EXPECT_EQ(row(), "10:00:04.500 host-1 TEMP,UTIL");  // a new metric is always written
  write(*store_, MakeRecord("GPU-a", "TEMP", "2025-07-18T10:00:09.5Z"));
  EXPECT_EQ(row(), "10:00:04.500 host-1 TEMP,UTIL");
  write(*store_, MakeRecord("GPU-a", "TEMP", "2025-07-18T10:00:09.501Z"));
  EXPECT_EQ(row(), "10:00:09.501 host-1 TEMP,UTIL");  // past the resolution
  auto moved = MakeRecord("GPU-a", "TEMP", "2025-07-18T10:00:10Z");
  moved.hostname = "host-2";
  write(*store_, moved);
  EXPECT_EQ(row(), "10:00:10.000 host-2 TEMP,UTIL");  // changed attributes

  // The cache is a hint: a row deleted behind its back comes back within the resolution.
  EXPECT_EQ(Count(conninfo(),
                  "WITH d AS (DELETE FROM gpus RETURNING 1) SELECT count(*) FROM d"),
            1);
  moved.timestamp += std::chrono::seconds(4);
  write(*store_, moved);
  EXPECT_EQ(row(), "missing");
  moved.timestamp += std::chrono::seconds(2);
  write(*store_, moved);
  EXPECT_EQ(row(), "10:00:16.000 host-2 TEMP");

  TelemetryStore exact(pool_, {.gpu_seen_resolution = std::chrono::microseconds(0)});
  moved.timestamp += std::chrono::milliseconds(1);
  write(exact, moved);
  EXPECT_EQ(row(), "10:00:16.001 host-2 TEMP");
}

TEST_F(TelemetryStoreTest, PoisonTextIsRejectedBeforeTheDatabase) {
  auto rec = MakeRecord("GPU-a", "M", "2025-07-18T20:42:34Z");
  EXPECT_OK(ValidateForStorage(rec));
  rec.hostname = std::string("bad\0host", 8);
  EXPECT_EQ(ValidateForStorage(rec).code(), StatusCode::kInvalidArgument);
}

TEST_F(TelemetryStoreTest, SchemaBehindIsFailedPrecondition) {
  ASSERT_OK_AND_ASSIGN(std::string other, server().CreateDatabase(database() + "_empty"));
  pg::PoolOptions o;
  o.conninfo = other;
  ASSERT_OK_AND_ASSIGN(auto pool, pg::ConnectionPool::Create(o));
  TelemetryStore store(pool);
  auto r =
      store.Write({{Uuid::NewV7(), MakeRecord("GPU-a", "M", "2025-07-18T20:42:34Z")}});
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
}

// Runs `calls` concurrent Writes on a store that allows one transaction at a time while
// the first of them is held up by a lock on telemetry, so the others queue behind it.
// Returns each call's outcome, in call order.
std::vector<Result<WriteResult>> WriteWhileTheFirstIsBlocked(
    const std::string& conninfo,
    TelemetryStore& store,
    const std::vector<std::vector<StoreRow>>& calls) {
  auto blocker = pg::Connect(conninfo);
  EXPECT_TRUE(blocker.ok());
  pqxx::work lock_tx(**blocker);
  lock_tx.exec("LOCK TABLE telemetry IN ACCESS EXCLUSIVE MODE");
  std::vector<std::optional<Result<WriteResult>>> outcomes(calls.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    threads.emplace_back([&, i] { outcomes[i] = store.Write(calls[i]); });
    // The first takes the only slot and waits for the lock; the rest queue behind it.
    std::this_thread::sleep_for(std::chrono::milliseconds(i == 0 ? 300 : 20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  lock_tx.commit();
  for (auto& t : threads)
    t.join();
  std::vector<Result<WriteResult>> out;
  for (auto& o : outcomes)
    out.push_back(std::move(*o));
  return out;
}

std::vector<StoreRow> RowsOf(const std::string& gpu, int n) {
  std::vector<StoreRow> rows;
  for (int i = 0; i < n; ++i)
    rows.push_back({Uuid::NewV7(), MakeRecord(gpu, "M", "2025-07-18T20:42:34Z", i)});
  return rows;
}

TEST_F(TelemetryStoreTest, WritesWaitingForTheSlotShareOneTransaction) {
  TelemetryStore store(pool_, {.max_concurrent_writes = 1});
  std::vector<std::vector<StoreRow>> calls;
  for (int i = 0; i < 6; ++i)
    calls.push_back(RowsOf("GPU-" + std::to_string(i), 50));
  auto outcomes = WriteWhileTheFirstIsBlocked(conninfo(), store, calls);
  uint64_t inserted = 0;
  for (auto& o : outcomes) {
    ASSERT_OK(o.status());
    inserted += o->inserted;
    EXPECT_EQ(o->duplicates, 0u);
  }
  EXPECT_EQ(inserted, 300u);
  EXPECT_EQ(Rows(), 300);
  // The first call's transaction, then one for the five that waited.
  EXPECT_EQ(Count(conninfo(), "SELECT count(DISTINCT xmin::text) FROM telemetry"), 2);
}

// A combined transaction that fails is written again call by call: a row PostgreSQL
// rejects fails only its own call, and the others' rows are stored.
TEST_F(TelemetryStoreTest, ARejectedRowFailsOnlyItsOwnCombinedCall) {
  TelemetryStore store(pool_, {.max_concurrent_writes = 1});
  std::vector<StoreRow> bad = RowsOf("GPU-bad", 3);
  bad[1].record.gpu_id = -1;  // violates telemetry_gpu_index_check
  auto outcomes = WriteWhileTheFirstIsBlocked(
      conninfo(),
      store,
      {RowsOf("GPU-0", 10), RowsOf("GPU-1", 10), bad, RowsOf("GPU-2", 10)});
  ASSERT_OK(outcomes[0].status());
  ASSERT_OK(outcomes[1].status());
  EXPECT_FALSE(outcomes[2].ok());
  EXPECT_NE(outcomes[2].status().message().find("telemetry_gpu_index_check"),
            std::string::npos)
      << outcomes[2].status().ToString();
  ASSERT_OK(outcomes[3].status());
  EXPECT_EQ(outcomes[1]->inserted + outcomes[3]->inserted, 20u);
  EXPECT_EQ(Rows(), 30);
  EXPECT_EQ(
      Count(conninfo(), "SELECT count(*) FROM telemetry WHERE gpu_uuid = 'GPU-bad'"), 0);
}

// PostgreSQL stops in the middle of a stream of writes and comes back: the store reports
// Unavailable while it is down, succeeds after the restart, and retrying every failed
// batch leaves each row stored exactly once.
TEST(TelemetryStoreRestartTest, SurvivesPostgresRestartWithoutLossOrDuplicates) {
  // The fixture turns synchronous_commit off for speed; with it off, an immediate
  // (crash) stop loses commits that were already answered, which is PostgreSQL's
  // documented trade-off and not what this test is about.
  tp::testing::PostgresServerOptions server_options;
  server_options.settings = {"synchronous_commit = on"};
  ASSERT_OK_AND_ASSIGN(auto server, tp::testing::PostgresServer::Start(server_options));
  ASSERT_OK(testing::MigrateUp(server->ConnectionString()));
  pg::PoolOptions o;
  o.conninfo = server->ConnectionString();
  o.max_size = 2;
  o.connect.connect_timeout = std::chrono::seconds(2);
  ASSERT_OK_AND_ASSIGN(auto pool, pg::ConnectionPool::Create(o));
  TelemetryStore store(pool);

  constexpr int kBatches = 40;
  constexpr int kRows = 50;
  std::atomic<int> done{0};
  std::atomic<int> unavailable{0};
  std::atomic<bool> writer_failed{false};
  std::thread writer([&] {
    for (int b = 0; b < kBatches; ++b) {
      std::vector<StoreRow> rows;
      for (int i = 0; i < kRows; ++i) {
        rows.push_back({Uuid::NewV7(),
                        MakeRecord("GPU-" + std::to_string(i % 4),
                                   "M",
                                   "2025-07-18T20:42:34Z",
                                   b * kRows + i)});
      }
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (true) {
        auto r = store.Write(rows);
        if (r.ok()) {
          break;
        }
        if (r.status().code() == StatusCode::kUnavailable ||
            r.status().code() == StatusCode::kTimeout) {
          ++unavailable;
        } else {
          ADD_FAILURE() << r.status().ToString();
          writer_failed = true;
          return;
        }
        if (std::chrono::steady_clock::now() > give_up) {
          ADD_FAILURE() << "no successful write within 60 s: " << r.status().ToString();
          writer_failed = true;
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      ++done;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  for (int i = 0; i < 2000 && done < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_OK(server->Stop(tp::testing::PostgresServer::StopMode::kImmediate));
  for (int i = 0; i < 400 && unavailable == 0 && !writer_failed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GT(unavailable.load(), 0);
  const int done_while_down = done;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(done.load(), done_while_down);  // nothing succeeds while it is down
  ASSERT_OK(server->Restart());
  writer.join();
  ASSERT_FALSE(writer_failed);
  EXPECT_EQ(done.load(), kBatches);
  EXPECT_EQ(Count(server->ConnectionString(), "SELECT count(*) FROM telemetry"),
            kBatches * kRows);
  EXPECT_EQ(
      Count(server->ConnectionString(), "SELECT count(DISTINCT value) FROM telemetry"),
      kBatches * kRows);
  EXPECT_EQ(Count(server->ConnectionString(), "SELECT count(*) FROM gpus"), 4);
}

}  // namespace
}  // namespace tp::collector
