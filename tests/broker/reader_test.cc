// The reader's lease contract over an in-memory LogSource, through the HTTP handlers
// (Router::Dispatch, no sockets). Short leases and scan intervals; every wait bounded.
#include "broker/reader.h"

#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fake_log_source.h"
#include "tp/http/router.h"
#include "tp/metrics/metrics.h"
#include "tp/testing/testing.h"

namespace tp::broker {
namespace {

using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)
using nlohmann::json;
using testing::FakeLogSource;

struct Reply {
  int status = 0;
  json body;
  std::string content_type;
};

// Polls `cond` every 10 ms for up to `timeout`.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

class ReaderTest : public ::testing::Test {
 protected:
  static ReaderOptions TestOptions() {
    ReaderOptions o;
    o.fetch_wait = 50ms;
    o.commit_interval = 20ms;
    o.expiry_scan_interval = 20ms;
    o.membership_interval = 30ms;
    o.writers_refresh = 30ms;
    o.retry_backoff = 20ms;
    o.drain_timeout = 3s;
    o.max_groups = 3;
    return o;
  }
  void Start(uint32_t partitions = 4,
             std::unique_ptr<Membership> membership = nullptr,
             uint32_t max_attempts = 5) {
    source_ = std::make_shared<FakeLogSource>(partitions);
    ReaderOptions o = TestOptions();
    o.max_attempts = max_attempts;
    if (membership == nullptr) {
      membership = StaticMembership({0, 1});
    }
    auto r = Reader::Create(o, {source_}, std::move(membership), &registry_);
    ASSERT_OK(r.status());
    reader_ = std::shared_ptr<Reader>(std::move(r).value());
    ASSERT_OK(InstallReaderRoutes(router_, reader_));
    ASSERT_OK(reader_->Start());
  }
  // Writers "a" and "b" (two partitions each) behind a WriterDiscovery that answers
  // what SetResolved() set last; its thread re-resolves every 30 ms.
  void StartWithDiscovery(Result<std::vector<std::string>> resolved,
                          std::chrono::milliseconds grace = 0ms) {
    for (const char* id : {"a", "b"}) {
      writers_[id] = std::make_shared<FakeLogSource>(2, id);
    }
    SetResolved(std::move(resolved));
    ReaderOptions o = TestOptions();
    o.removed_writer_grace = grace;
    WriterDiscovery discovery;
    discovery.description = "test";
    discovery.resolve = [this] {
      std::lock_guard lock(resolve_mu_);
      return resolved_;
    };
    // writers_ is complete before Start(): read-only from here on.
    discovery.open = [this](const std::string& id) -> Result<std::shared_ptr<LogSource>> {
      auto it = writers_.find(id);
      if (it == writers_.end()) {
        return Status::NotFound("no writer " + id);
      }
      return std::shared_ptr<LogSource>(it->second);
    };
    auto r =
        Reader::Create(o, std::move(discovery), StaticMembership({0, 1}), &registry_);
    ASSERT_OK(r.status());
    reader_ = std::shared_ptr<Reader>(std::move(r).value());
    ASSERT_OK(InstallReaderRoutes(router_, reader_));
    ASSERT_OK(reader_->Start());
  }
  void SetResolved(Result<std::vector<std::string>> resolved) {
    std::lock_guard lock(resolve_mu_);
    resolved_ = std::move(resolved);
  }
  // The value of an unlabelled metric, -1 when absent.
  double Metric(const std::string& name) {
    const std::string text = registry_.Render();
    const std::string prefix = "\n" + name + " ";
    auto at = text.find(prefix);
    if (at == std::string::npos) {
      return -1;
    }
    return std::stod(text.substr(at + prefix.size()));
  }
  void TearDown() override {
    if (reader_) {
      reader_->Stop();
    }
    client_work_.reset();
    client_thread_.join();
  }

  Reply Post(const std::string& path, const std::string& body) {
    http::Request req;
    req.method = "POST";
    EXPECT_TRUE(http::ParseTarget(path, req));
    req.body = body;
    // One long-lived client io_context: the reader's strand may still release work on
    // it just after the answer arrived, so it must outlive every call.
    auto future = boost::asio::co_spawn(
        client_ioc_, router_.Dispatch(std::move(req)), boost::asio::use_future);
    if (future.wait_for(15s) != std::future_status::ready) {
      ADD_FAILURE() << "no answer to " << path << " " << body;
      return {};
    }
    http::Response out = future.get();
    Reply reply{out.status, json::parse(out.body, nullptr, false), out.content_type};
    return reply;
  }
  Reply Lease(json req) {
    if (!req.contains("consumer_id")) {
      req["consumer_id"] = "c1";
    }
    return Post("/v1/lease", req.dump());
  }
  // Leases until `n` messages arrived (each lease waits up to 200 ms).
  std::vector<json> LeaseN(std::size_t n,
                           json req,
                           std::vector<std::string>* leases = nullptr) {
    std::vector<json> out;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      req["wait_ms"] = 200;
      if (!req.contains("max")) {
        req["max"] = n - out.size();
      }
      Reply r = Lease(req);
      EXPECT_EQ(r.status, 200) << r.body.dump();
      if (r.status != 200) {
        break;
      }
      for (const auto& m : r.body["messages"]) {
        out.push_back(m);
      }
      if (leases != nullptr && !r.body["messages"].empty()) {
        leases->push_back(r.body["lease_id"]);
      }
    }
    return out;
  }
  Reply Ack(const std::string& lease,
            std::optional<std::vector<std::string>> uuids = {}) {
    json req = {{"lease_id", lease}};
    if (uuids) {
      req["msg_uuids"] = *uuids;
    }
    return Post("/v1/ack", req.dump());
  }

  boost::asio::io_context client_ioc_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      client_work_{client_ioc_.get_executor()};
  std::thread client_thread_{[this] {
    client_ioc_.run();
  }};
  metrics::Registry registry_;
  http::Router router_;
  std::shared_ptr<FakeLogSource> source_;
  std::map<std::string, std::shared_ptr<FakeLogSource>> writers_;
  std::mutex resolve_mu_;
  Result<std::vector<std::string>> resolved_ = std::vector<std::string>{};  // resolve_mu_
  std::shared_ptr<Reader> reader_;
};

TEST_F(ReaderTest, BadRequestsAreProblemsNamingTheField) {
  Start();
  struct Case {
    const char* path;
    std::string body;
    int status;
    const char* field;  // nullptr: no field expected
  };
  const std::vector<Case> cases = {
      {"/v1/lease", "{not json", 400, nullptr},
      {"/v1/lease", "[1,2]", 400, nullptr},
      {"/v1/lease", R"({})", 400, "consumer_id"},
      {"/v1/lease", R"({"consumer_id":5})", 400, "consumer_id"},
      {"/v1/lease", R"({"consumer_id":"c","max":0})", 400, "max"},
      {"/v1/lease", R"({"consumer_id":"c","max":1001})", 400, "max"},
      {"/v1/lease", R"({"consumer_id":"c","max":"10"})", 400, "max"},
      {"/v1/lease", R"({"consumer_id":"c","max":1.5})", 400, "max"},
      {"/v1/lease", R"({"consumer_id":"c","lease_seconds":0})", 400, "lease_seconds"},
      {"/v1/lease", R"({"consumer_id":"c","lease_seconds":3601})", 400, "lease_seconds"},
      {"/v1/lease", R"({"consumer_id":"c","wait_ms":-1})", 400, "wait_ms"},
      {"/v1/lease", R"({"consumer_id":"c","wait_ms":30001})", 400, "wait_ms"},
      {"/v1/lease", R"({"consumer_id":"c","group":7})", 400, "group"},
      {"/v1/lease", R"({"consumer_id":"c","group":"a b"})", 400, "group"},
      {"/v1/lease", R"({"consumer_id":"c","topic":"nope"})", 404, "topic"},
      {"/v1/ack", R"({})", 400, "lease_id"},
      {"/v1/ack", R"({"lease_id":1})", 400, "lease_id"},
      {"/v1/ack", R"({"lease_id":"x","msg_uuids":"a"})", 400, "msg_uuids"},
      {"/v1/ack", R"({"lease_id":"x","msg_uuids":["not-a-uuid"]})", 400, "msg_uuids"},
      {"/v1/ack",
       R"({"lease_id":"0-0190a8b4-0000-7000-8000-000000000000"})",
       404,
       "lease_id"},
      {"/v1/ack", R"({"lease_id":"garbage"})", 404, "lease_id"},
      {"/v1/nack", R"({"lease_id":"x","delay_ms":-5})", 400, "delay_ms"},
      {"/v1/nack", R"({"lease_id":"x","delay_ms":"5"})", 400, "delay_ms"},
      {"/v1/extend", R"({"lease_id":"x"})", 400, "lease_seconds"},
      {"/v1/extend", R"({"lease_id":"x","lease_seconds":0})", 400, "lease_seconds"},
      {"/v1/extend", R"({"lease_seconds":5})", 400, "lease_id"},
  };
  for (const Case& c : cases) {
    Reply r = Post(c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.path << " " << c.body;
    EXPECT_EQ(r.content_type, "application/problem+json") << c.path << " " << c.body;
    EXPECT_EQ(r.body["status"], c.status) << c.body;
    if (c.field != nullptr) {
      EXPECT_EQ(r.body.value("field", ""), c.field) << c.path << " " << c.body;
    }
  }
}

TEST_F(ReaderTest, TooManyGroupsIs429) {
  Start();
  for (const char* g : {"g1", "g2", "g3"}) {
    EXPECT_EQ(Lease({{"group", g}}).status, 200);
  }
  Reply r = Lease({{"group", "g4"}});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.body["field"], "group");
}

TEST_F(ReaderTest, LeaseReturnsInlinedPayloadAndAckCommitsContiguousPrefix) {
  Start(1);
  for (int i = 0; i < 4; ++i) {
    source_->Append(0, R"({"value":)" + std::to_string(i) + "}");
  }
  auto msgs = LeaseN(4, {{"max", 4}, {"lease_seconds", 30}});
  ASSERT_EQ(msgs.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(msgs[i]["offset"], i);
    EXPECT_EQ(msgs[i]["partition"], 0);
    EXPECT_EQ(msgs[i]["attempt"], 1);
    EXPECT_EQ(msgs[i]["payload"]["value"], i);
  }
  Reply lease_check = Lease({{"wait_ms", 0}});
  EXPECT_TRUE(lease_check.body["messages"].empty());
  EXPECT_EQ(lease_check.body["lease_id"], "");
}

TEST_F(ReaderTest, CommitsOnlyOverContiguousAckedPrefix) {
  Start(1);
  for (int i = 0; i < 4; ++i) {
    source_->Append(0, "{}");
  }
  std::vector<std::string> leases;
  auto msgs = LeaseN(4, {{"max", 4}, {"lease_seconds", 30}}, &leases);
  ASSERT_EQ(msgs.size(), 4u);
  ASSERT_EQ(leases.size(), 1u) << "expected one lease with every message";
  Reply r = Ack(leases[0],
                std::vector<std::string>{
                    msgs[0]["msg_uuid"], msgs[1]["msg_uuid"], msgs[3]["msg_uuid"]});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["acked"], 3);
  EXPECT_TRUE(WaitFor([&] { return source_->CommittedOffset("collectors", 0) == 2; }));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(source_->CommittedOffset("collectors", 0), 2);
  r = Ack(leases[0], std::vector<std::string>{msgs[2]["msg_uuid"]});
  EXPECT_EQ(r.body["acked"], 1);
  EXPECT_TRUE(WaitFor([&] { return source_->CommittedOffset("collectors", 0) == 4; }));
  // The lease is finished: a repeated ack acks nothing.
  r = Ack(leases[0]);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body["acked"], 0);
}

TEST_F(ReaderTest, ExpiredLeaseIsRedeliveredWithNextAttemptAndLateAckIs409) {
  Start(1);
  source_->Append(0, R"({"a":1})");
  std::vector<std::string> leases;
  auto first = LeaseN(1, {{"lease_seconds", 1}}, &leases);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]["attempt"], 1);
  Reply again = Lease({{"wait_ms", 3000}, {"lease_seconds", 1}});
  ASSERT_EQ(again.status, 200);
  ASSERT_EQ(again.body["messages"].size(), 1u);
  EXPECT_EQ(again.body["messages"][0]["attempt"], 2);
  EXPECT_EQ(again.body["messages"][0]["msg_uuid"], first[0]["msg_uuid"]);
  Reply late = Ack(leases[0]);
  EXPECT_EQ(late.status, 409);
  EXPECT_EQ(late.content_type, "application/problem+json");
  EXPECT_NE(late.body["detail"].get<std::string>().find("expired"), std::string::npos);
  Reply ext =
      Post("/v1/extend", json({{"lease_id", leases[0]}, {"lease_seconds", 5}}).dump());
  EXPECT_EQ(ext.status, 409);
  EXPECT_EQ(Ack(again.body["lease_id"]).body["acked"], 1);
  EXPECT_TRUE(WaitFor([&] { return source_->CommittedOffset("collectors", 0) == 1; }));
}

TEST_F(ReaderTest, NackReturnsNowOrAfterDelay) {
  Start(1);
  source_->Append(0, "{}");
  std::vector<std::string> leases;
  ASSERT_EQ(LeaseN(1, {{"lease_seconds", 30}}, &leases).size(), 1u);
  Reply n = Post("/v1/nack", json({{"lease_id", leases[0]}}).dump());
  ASSERT_EQ(n.status, 200);
  EXPECT_EQ(n.body["nacked"], 1);
  Reply r = Lease({{"wait_ms", 0}, {"lease_seconds", 30}});
  ASSERT_EQ(r.body["messages"].size(), 1u);
  EXPECT_EQ(r.body["messages"][0]["attempt"], 2);

  auto t0 = std::chrono::steady_clock::now();
  n = Post("/v1/nack",
           json({{"lease_id", r.body["lease_id"]}, {"delay_ms", 300}}).dump());
  EXPECT_EQ(n.body["nacked"], 1);
  EXPECT_TRUE(Lease({{"wait_ms", 0}}).body["messages"].empty());
  r = Lease({{"wait_ms", 3000}});
  ASSERT_EQ(r.body["messages"].size(), 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 280ms);
  EXPECT_EQ(r.body["messages"][0]["attempt"], 3);
}

TEST_F(ReaderTest, ExtendPushesTheDeadline) {
  Start(1);
  source_->Append(0, "{}");
  std::vector<std::string> leases;
  ASSERT_EQ(LeaseN(1, {{"lease_seconds", 1}}, &leases).size(), 1u);
  Reply e =
      Post("/v1/extend", json({{"lease_id", leases[0]}, {"lease_seconds", 5}}).dump());
  ASSERT_EQ(e.status, 200) << e.body.dump();
  EXPECT_TRUE(e.body["expires_at"].is_string());
  std::this_thread::sleep_for(1300ms);
  EXPECT_TRUE(Lease({{"wait_ms", 0}}).body["messages"].empty());
  EXPECT_EQ(Ack(leases[0]).body["acked"], 1);
}

// Regression: each settle used to drop one reference to the pipeline (GCC 12 destroyed
// a capturing lambda inside a co_await expression twice), freeing it while still in use.
TEST_F(ReaderTest, ManySettlesKeepThePipelineAlive) {
  Start(1);
  source_->Append(0, "{}");
  std::vector<std::string> leases;
  ASSERT_EQ(LeaseN(1, {{"lease_seconds", 30}}, &leases).size(), 1u);
  for (int i = 0; i < 20; ++i) {
    Reply e =
        Post("/v1/extend", json({{"lease_id", leases[0]}, {"lease_seconds", 30}}).dump());
    ASSERT_EQ(e.status, 200) << e.body.dump();
  }
  EXPECT_EQ(Ack(leases[0]).body["acked"], 1);
  EXPECT_TRUE(WaitFor([&] { return source_->CommittedOffset("collectors", 0) == 1; }));
  EXPECT_TRUE(Lease({{"wait_ms", 0}}).body["messages"].empty());
}

TEST_F(ReaderTest, DeadLettersAfterMaxAttempts) {
  Start(1, nullptr, /*max_attempts=*/2);
  source_->Append(0, R"({"poison":true})");
  source_->Append(0, R"({"ok":true})");
  for (int attempt = 1; attempt <= 2; ++attempt) {
    Reply r = Lease({{"wait_ms", 2000}, {"max", 1}});
    ASSERT_EQ(r.body["messages"].size(), 1u);
    EXPECT_EQ(r.body["messages"][0]["offset"], 0);
    EXPECT_EQ(r.body["messages"][0]["attempt"], attempt);
    EXPECT_EQ(Post("/v1/nack", json({{"lease_id", r.body["lease_id"]}}).dump()).status,
              200);
  }
  Reply r = Lease({{"wait_ms", 500}, {"max", 10}});
  ASSERT_EQ(r.body["messages"].size(), 1u);
  EXPECT_EQ(r.body["messages"][0]["offset"], 1);
  EXPECT_EQ(Ack(r.body["lease_id"]).body["acked"], 1);
  ASSERT_TRUE(WaitFor([&] { return source_->DeadLetters().size() == 1; }));
  auto dl = source_->DeadLetters()[0];
  EXPECT_EQ(dl.offset, 0u);
  EXPECT_EQ(dl.attempts, 2u);
  EXPECT_EQ(dl.group, "collectors");
  EXPECT_EQ(dl.payload, R"({"poison":true})");
  EXPECT_TRUE(WaitFor([&] { return source_->CommittedOffset("collectors", 0) == 2; }));
}

TEST_F(ReaderTest, LongPollIsWokenByNewRecords) {
  Start(2);
  ASSERT_TRUE(Lease({{"wait_ms", 0}}).body["messages"].empty());
  std::thread producer([this] {
    std::this_thread::sleep_for(300ms);
    source_->Append(1, R"({"late":1})");
  });
  auto t0 = std::chrono::steady_clock::now();
  Reply r = Lease({{"wait_ms", 5000}});
  auto took = std::chrono::steady_clock::now() - t0;
  producer.join();
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.body["messages"].size(), 1u);
  EXPECT_EQ(r.body["messages"][0]["partition"], 1);
  EXPECT_LT(took, 3s);
}

TEST_F(ReaderTest, LeasesAreFairAcrossPartitions) {
  Start(4);
  ASSERT_TRUE(Lease({{"wait_ms", 0}}).body["messages"].empty());  // creates the group
  for (uint32_t p = 0; p < 4; ++p) {
    for (int i = 0; i < 10; ++i) {
      source_->Append(p, "{}");
    }
  }
  // Wait until the replay buffered everything; then a small lease takes two per
  // partition.
  ASSERT_TRUE(WaitFor([&] {
    for (uint32_t p = 0; p < 4; ++p) {
      if (source_->RequestedFrom(p) < 10) {
        return false;
      }
    }
    return true;
  }));
  Reply r = Lease({{"max", 8}, {"wait_ms", 1000}});
  ASSERT_EQ(r.body["messages"].size(), 8u) << r.body.dump();
  std::map<int, int> per_partition;
  for (const auto& m : r.body["messages"]) {
    ++per_partition[m["partition"].get<int>()];
  }
  EXPECT_EQ(per_partition.size(), 4u);
  for (const auto& [p, n] : per_partition) {
    EXPECT_EQ(n, 2) << "partition " << p;
  }
}

TEST_F(ReaderTest, TwoGroupsEachReceiveEverything) {
  Start(2);
  for (int i = 0; i < 6; ++i) {
    source_->Append(i % 2, "{}");
  }
  std::set<std::string> a, b;
  std::vector<std::string> la, lb;
  for (const auto& m : LeaseN(6, {{"group", "a"}}, &la)) {
    a.insert(m["msg_uuid"].get<std::string>());
  }
  // Inside group b two consumers share the messages.
  auto b1 = LeaseN(3, {{"group", "b"}, {"consumer_id", "b1"}, {"max", 3}}, &lb);
  auto b2 = LeaseN(3, {{"group", "b"}, {"consumer_id", "b2"}, {"max", 3}}, &lb);
  for (const auto& m : b1) {
    b.insert(m["msg_uuid"].get<std::string>());
  }
  for (const auto& m : b2) {
    EXPECT_EQ(b.count(m["msg_uuid"].get<std::string>()), 0u);
    b.insert(m["msg_uuid"].get<std::string>());
  }
  EXPECT_EQ(a.size(), 6u);
  EXPECT_EQ(a, b);
  for (const auto& l : la) {
    Ack(l);
  }
  EXPECT_TRUE(WaitFor([&] {
    return source_->CommittedOffset("a", 0) == 3 && source_->CommittedOffset("a", 1) == 3;
  }));
  EXPECT_EQ(source_->CommittedOffset("b", 0), -1);
}

TEST_F(ReaderTest, MembershipChangeMovesPartitions) {
  TempDir dir = tp::testing::MakeTempDir();
  auto path = dir.path() / "membership.json";
  std::ofstream(path) << R"({"ordinal":0,"replicas":1})";
  Start(4, FileMembership(path));
  // Partitions 2 and 3 were committed by an earlier owner up to offset 1.
  for (uint32_t p = 0; p < 4; ++p) {
    source_->Append(p, "{}");
    source_->Append(p, "{}");
  }
  // Shrink to [0, 2): nothing new from partitions 2 and 3.
  std::ofstream(path, std::ios::trunc) << R"({"ordinal":0,"replicas":2})";
  ASSERT_TRUE(WaitFor([&] {
    auto a = reader_->CurrentAssignment();
    return a && a->replicas == 2;
  }));
  std::vector<std::string> leases;
  auto msgs = LeaseN(4, {{"max", 10}}, &leases);
  ASSERT_EQ(msgs.size(), 4u);
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(Lease({{"wait_ms", 200}}).body["messages"].empty());
  for (const auto& m : msgs) {
    EXPECT_LT(m["partition"].get<int>(), 2);
  }
  for (const auto& l : leases) {
    Ack(l);
  }
  // Grow back to all four: 2 and 3 start from their committed offsets (1).
  source_->SetCommitted("collectors", 2, 1);
  source_->SetCommitted("collectors", 3, 1);
  std::ofstream(path, std::ios::trunc) << R"({"ordinal":0,"replicas":1})";
  auto more = LeaseN(2, {{"max", 10}});
  ASSERT_EQ(more.size(), 2u);
  for (const auto& m : more) {
    EXPECT_GE(m["partition"].get<int>(), 2);
    EXPECT_EQ(m["offset"], 1);
  }
}

TEST_F(ReaderTest, DrainRefusesLeasesWaitsForAcksAndCommits) {
  Start(1);
  source_->Append(0, "{}");
  source_->Append(0, "{}");
  std::vector<std::string> leases;
  ASSERT_EQ(LeaseN(2, {{"max", 2}, {"lease_seconds", 30}}, &leases).size(), 2u);
  EXPECT_OK(reader_->Readiness());
  std::thread acker([this, &leases] {
    std::this_thread::sleep_for(300ms);
    Ack(leases[0]);
  });
  Status drained = reader_->Drain();
  acker.join();
  EXPECT_OK(drained);
  EXPECT_FALSE(reader_->Readiness().ok());
  EXPECT_EQ(source_->CommittedOffset("collectors", 0), 2);
  Reply r = Lease({{"wait_ms", 0}});
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.content_type, "application/problem+json");
}

TEST_F(ReaderTest, MetricsCountLeasesAndAcks) {
  Start(1);
  source_->Append(0, "{}");
  std::vector<std::string> leases;
  ASSERT_EQ(LeaseN(1, {}, &leases).size(), 1u);
  Ack(leases[0]);
  std::string text = registry_.Render();
  EXPECT_NE(
      text.find(
          R"(broker_reader_messages_acked_total{topic="telemetry",group="collectors"} 1)"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("broker_reader_buffer_utilization_ratio"), std::string::npos);
}

TEST_F(ReaderTest, WriterThatJoinsIsReplayed) {
  StartWithDiscovery(std::vector<std::string>{"a"});
  EXPECT_TRUE(WaitFor([&] { return reader_->Readiness().ok(); }));
  writers_["a"]->Append(0, R"({"w":"a"})");
  writers_["b"]->Append(1, R"({"w":"b"})");
  std::vector<std::string> leases;
  auto first = LeaseN(1, {{"max", 10}}, &leases);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]["payload"]["w"], "a");
  EXPECT_TRUE(Lease({{"wait_ms", 200}}).body["messages"].empty()) << "b is not known yet";

  SetResolved(std::vector<std::string>{"a", "b"});
  reader_->RefreshWriters();
  auto second = LeaseN(1, {{"max", 10}}, &leases);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0]["payload"]["w"], "b");
  EXPECT_EQ(second[0]["partition"], 1);
  EXPECT_EQ(second[0]["attempt"], 1);
  for (const auto& l : leases) {
    EXPECT_EQ(Ack(l).body["acked"], 1);
  }
  // Commits go to the writer each message came from.
  EXPECT_TRUE(WaitFor([&] {
    return writers_["a"]->CommittedOffset("collectors", 0) == 1 &&
           writers_["b"]->CommittedOffset("collectors", 1) == 1;
  }));
  EXPECT_EQ(writers_["a"]->CommittedOffset("collectors", 1), -1);
  EXPECT_EQ(writers_["b"]->CommittedOffset("collectors", 0), -1);
  EXPECT_EQ(Metric("broker_reader_writers"), 2);
}

TEST_F(ReaderTest, WriterThatLeavesIsDroppedAndTheOthersKeepWorking) {
  StartWithDiscovery(std::vector<std::string>{"a", "b"});
  FakeLogSource& a = *writers_["a"];
  FakeLogSource& b = *writers_["b"];
  b.Append(0, R"({"w":"b","i":0})");
  b.Append(0, R"({"w":"b","i":1})");
  std::vector<std::string> held;
  ASSERT_EQ(LeaseN(2, {{"max", 2}, {"lease_seconds", 30}}, &held).size(), 2u);

  SetResolved(std::vector<std::string>{"a"});
  reader_->RefreshWriters();
  EXPECT_EQ(Metric("broker_reader_writers"), 1);
  // A lease of its messages can still be acked; nothing is committed to a writer that
  // left, so they come again if it returns.
  ASSERT_EQ(held.size(), 1u);
  Reply acked = Ack(held[0]);
  EXPECT_EQ(acked.status, 200);
  EXPECT_EQ(acked.body["acked"], 2);
  // Its replay stops (the fetch in progress, up to 50 ms, may still end).
  EXPECT_TRUE(WaitFor([&] {
    const uint64_t before = b.Fetches();
    std::this_thread::sleep_for(200ms);
    return b.Fetches() == before;
  }));
  b.Append(0, R"({"w":"b","i":2})");
  a.Append(1, R"({"w":"a"})");
  std::vector<std::string> leases;
  auto from_a = LeaseN(1, {{"max", 10}}, &leases);
  ASSERT_EQ(from_a.size(), 1u);
  EXPECT_EQ(from_a[0]["payload"]["w"], "a");
  EXPECT_TRUE(Lease({{"wait_ms", 300}}).body["messages"].empty());
  EXPECT_EQ(Ack(leases[0]).body["acked"], 1);
  EXPECT_TRUE(WaitFor([&] { return a.CommittedOffset("collectors", 1) == 1; }));
  EXPECT_EQ(b.CommittedOffset("collectors", 0), -1);
  EXPECT_OK(reader_->Readiness());

  // It comes back: read again from its committed offset (none), attempt 1 again.
  SetResolved(std::vector<std::string>{"a", "b"});
  reader_->RefreshWriters();
  leases.clear();
  auto again = LeaseN(3, {{"max", 10}}, &leases);
  ASSERT_EQ(again.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(again[i]["payload"]["w"], "b");
    EXPECT_EQ(again[i]["payload"]["i"], i);
    EXPECT_EQ(again[i]["offset"], i);
    EXPECT_EQ(again[i]["attempt"], 1);
  }
  for (const auto& l : leases) {
    Ack(l);
  }
  EXPECT_TRUE(WaitFor([&] { return b.CommittedOffset("collectors", 0) == 3; }));
}

TEST_F(ReaderTest, LeavingWriterIsStillReadDuringTheGrace) {
  StartWithDiscovery(std::vector<std::string>{"a", "b"}, 1500ms);
  FakeLogSource& b = *writers_["b"];
  ASSERT_TRUE(Lease({{"wait_ms", 0}}).body["messages"].empty());  // creates the group
  SetResolved(std::vector<std::string>{"a"});
  reader_->RefreshWriters();
  // Draining on its way out: what it still has is delivered and committed.
  b.Append(0, R"({"w":"b"})");
  std::vector<std::string> leases;
  ASSERT_EQ(LeaseN(1, {{"max", 10}}, &leases).size(), 1u);
  EXPECT_EQ(Ack(leases[0]).body["acked"], 1);
  EXPECT_TRUE(WaitFor([&] { return b.CommittedOffset("collectors", 0) == 1; }));
  EXPECT_EQ(Metric("broker_reader_writers"), 2);
  // After the grace the discovery thread drops it.
  EXPECT_TRUE(WaitFor([&] { return Metric("broker_reader_writers") == 1; }));
  b.Append(0, R"({"w":"b"})");
  EXPECT_TRUE(Lease({{"wait_ms", 300}}).body["messages"].empty());
}

TEST_F(ReaderTest, FailedResolutionKeepsTheLastGoodSet) {
  StartWithDiscovery(Status::Unavailable("no such host"));
  ASSERT_TRUE(WaitFor([&] { return reader_->CurrentAssignment().has_value(); }));
  Status ready = reader_->Readiness();
  EXPECT_FALSE(ready.ok());
  EXPECT_NE(ready.ToString().find("no writers"), std::string::npos) << ready.ToString();

  SetResolved(std::vector<std::string>{"a"});
  reader_->RefreshWriters();
  EXPECT_OK(reader_->Readiness());
  FakeLogSource& a = *writers_["a"];
  a.Append(0, "{}");
  ASSERT_EQ(LeaseN(1, {}).size(), 1u);

  const double errors = Metric("broker_reader_writer_resolve_errors_total");
  EXPECT_GE(errors, 1);
  SetResolved(Status::Unavailable("no such host"));
  reader_->RefreshWriters();
  SetResolved(std::vector<std::string>{});  // an empty answer is no better
  reader_->RefreshWriters();
  EXPECT_GE(Metric("broker_reader_writer_resolve_errors_total"), errors + 2);
  EXPECT_EQ(Metric("broker_reader_writers"), 1);
  EXPECT_OK(reader_->Readiness());
  a.Append(1, "{}");
  ASSERT_EQ(LeaseN(1, {}).size(), 1u);
}

TEST_F(ReaderTest, DiscoveryNeedsResolveAndOpen) {
  WriterDiscovery discovery;
  discovery.resolve = [] {
    return Result<std::vector<std::string>>({"a"});
  };
  auto r = Reader::Create(TestOptions(), discovery, StaticMembership({0, 1}));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tp::broker
