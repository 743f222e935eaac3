#include "collector/collector.h"

#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fake_broker.h"
#include "store_test_util.h"
#include "tp/metrics/metrics.h"
#include "tp/telemetry/record.h"
#include "tp/testing/postgres_server.h"
#include "tp/testing/testing.h"

namespace tp::collector {
namespace {

using clients::testing::FakeBroker;
using clients::testing::ScriptedAnswer;
using std::chrono::milliseconds;
using testing::Count;
using testing::MakeRecord;

class CollectorTest : public tp::testing::PostgresTest {
 protected:
  void SetUp() override {
    PostgresTest::SetUp();
    ASSERT_OK(testing::MigrateUp(conninfo()));
    pg::PoolOptions o;
    o.conninfo = conninfo();
    ASSERT_OK_AND_ASSIGN(pool_, pg::ConnectionPool::Create(o));
    store_ = std::make_unique<TelemetryStore>(pool_);
    broker_ = FakeBroker::Start();
    ASSERT_NE(broker_, nullptr);
    clients::ConsumerOptions co;
    co.reader_url = broker_->url();
    ASSERT_OK_AND_ASSIGN(consumer_, clients::Consumer::Create(co));
  }

  CollectorOptions Options() const {
    CollectorOptions o;
    o.batch = 10;
    o.inflight = 2;
    o.wait = milliseconds(100);
    o.backoff = {milliseconds(10), milliseconds(50)};
    return o;
  }

  std::string AddValid(int i) {
    const std::string id = Uuid::NewV7().ToString();
    auto rec = MakeRecord("GPU-" + std::to_string(i % 3),
                          "DCGM_FI_DEV_GPU_UTIL",
                          "2025-07-18T20:42:34Z",
                          i);
    broker_->AddMessage(id, telemetry::ToJson(rec));
    return id;
  }

  long long Rows() { return Count(conninfo(), "SELECT count(*) FROM telemetry"); }

  template <typename Pred>
  static bool WaitFor(Pred pred, milliseconds timeout = milliseconds(10'000)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (pred()) {
        return true;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    return pred();
  }

  std::shared_ptr<pg::ConnectionPool> pool_;
  std::unique_ptr<TelemetryStore> store_;
  std::unique_ptr<FakeBroker> broker_;
  std::unique_ptr<clients::Consumer> consumer_;
};

TEST_F(CollectorTest, StoresAndAcksEveryLeasedMessage) {
  std::set<std::string> ids;
  for (int i = 0; i < 45; ++i) {
    ids.insert(AddValid(i));
  }
  metrics::Registry registry;
  Collector collector(Options(), consumer_.get(), store_.get(), &registry);
  ASSERT_OK(collector.Start());
  ASSERT_TRUE(WaitFor([&] { return broker_->Acked().size() == ids.size(); }));
  collector.Stop();
  EXPECT_EQ(broker_->Acked(), ids);
  EXPECT_EQ(Rows(), 45);
  EXPECT_EQ(collector.counters().stored, 45u);
  EXPECT_TRUE(broker_->Nacked().empty());
  // Leases are at most `batch` messages.
  for (const auto& r : broker_->Requests("/v1/lease")) {
    EXPECT_EQ(r.body["max"], 10);
    EXPECT_EQ(r.body["group"], "collectors");
  }
  const std::string text = registry.Render();
  EXPECT_NE(text.find("collector_rows_stored_total 45"), std::string::npos) << text;
  EXPECT_NE(text.find("collector_transaction_seconds_count"), std::string::npos);
}

TEST_F(CollectorTest, PoisonIsNackedAndTheRestIsStoredAndAcked) {
  const std::string good1 = AddValid(1);
  const std::string bad_json = Uuid::NewV7().ToString();
  broker_->AddMessage(bad_json, {{"metric_name", "X"}});  // no timestamp, uuid, ...
  const std::string good2 = AddValid(2);
  auto nul = telemetry::ToJson(MakeRecord("GPU-a", "M", "2025-07-18T20:42:34Z"));
  nul["hostname"] = std::string("a\0b", 3);
  const std::string bad_nul = Uuid::NewV7().ToString();
  broker_->AddMessage(bad_nul, nul);
  broker_->AddMessage(
      "not-a-uuid", telemetry::ToJson(MakeRecord("GPU-a", "M", "2025-07-18T20:42:34Z")));

  Collector collector(Options(), consumer_.get(), store_.get(), nullptr);
  auto lease = consumer_->Lease(
      {"collectors", "t", 10, std::chrono::seconds(30), milliseconds(100)});
  ASSERT_OK(lease.status());
  ASSERT_EQ(lease->messages.size(), 5u);
  ASSERT_OK(collector.HandleLease(*lease));
  EXPECT_EQ(broker_->Acked(), (std::set<std::string>{good1, good2}));
  auto nacked = broker_->Nacked();
  EXPECT_EQ(std::set<std::string>(nacked.begin(), nacked.end()),
            (std::set<std::string>{bad_json, bad_nul, "not-a-uuid"}));
  auto nacks = broker_->Requests("/v1/nack");
  ASSERT_EQ(nacks.size(), 1u);
  EXPECT_EQ(nacks[0].body["delay_ms"], 0);
  auto acks = broker_->Requests("/v1/ack");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].body["msg_uuids"].size(), 2u);  // only the stored subset
  EXPECT_EQ(Rows(), 2);
  EXPECT_EQ(collector.counters().poison, 3u);
}

TEST_F(CollectorTest, DatabaseDownMeansNoAckUntilCommit) {
  // A store whose database does not exist: every write fails as Unavailable.
  pg::PoolOptions o;
  o.conninfo = server().ConnectionString("no_such_db");
  ASSERT_OK_AND_ASSIGN(auto broken_pool, pg::ConnectionPool::Create(o));
  TelemetryStore broken(broken_pool);
  const std::string id = AddValid(1);
  auto options = Options();
  options.lease_margin = milliseconds(0);
  Collector collector(options, consumer_.get(), &broken, nullptr);
  auto lease = consumer_->Lease(
      {"collectors", "t", 10, std::chrono::seconds(1), milliseconds(100)});
  ASSERT_OK(lease.status());
  EXPECT_FALSE(collector.HandleLease(*lease).ok());
  EXPECT_TRUE(broker_->Acked().empty());
  EXPECT_TRUE(broker_->Requests("/v1/ack").empty());
  EXPECT_TRUE(broker_->Nacked().empty());              // a database failure is not poison
  EXPECT_GT(collector.counters().write_failures, 1u);  // it retried within the lease
}

TEST_F(CollectorTest, RedeliveryAfterALostAckIsNotStoredTwice) {
  const std::string id = AddValid(7);
  broker_->Script("/v1/ack", std::vector<ScriptedAnswer>(3, ScriptedAnswer{503}));
  Collector collector(Options(), consumer_.get(), store_.get(), nullptr);
  auto lease = consumer_->Lease(
      {"collectors", "t", 10, std::chrono::seconds(30), milliseconds(100)});
  ASSERT_OK(lease.status());
  ASSERT_OK(collector.HandleLease(*lease));
  EXPECT_TRUE(broker_->Acked().empty());  // every ack attempt failed
  EXPECT_EQ(collector.counters().ack_failures, 1u);
  // The reader redelivers it.
  broker_->AddMessage(id, nlohmann::json::parse(lease->messages[0].payload));
  auto again = consumer_->Lease(
      {"collectors", "t", 10, std::chrono::seconds(30), milliseconds(100)});
  ASSERT_OK(again.status());
  ASSERT_OK(collector.HandleLease(*again));
  EXPECT_EQ(broker_->Acked(), std::set<std::string>{id});
  EXPECT_EQ(Rows(), 1);
  EXPECT_EQ(collector.counters().duplicates, 1u);
}

}  // namespace
}  // namespace tp::collector
