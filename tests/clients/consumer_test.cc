#include "clients/consumer.h"

#include <gtest/gtest.h>

#include "fake_broker.h"
#include "tp/testing/testing.h"

namespace tp::clients {
namespace {

using std::chrono::milliseconds;
using testing::FakeBroker;
using testing::ScriptedAnswer;

class ConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = FakeBroker::Start();
    ASSERT_NE(broker_, nullptr);
    ConsumerOptions o;
    o.reader_url = broker_->url();
    o.backoff = {milliseconds(1), milliseconds(5)};
    auto c = Consumer::Create(o);
    ASSERT_OK(c.status());
    consumer_ = std::move(c).value();
  }

  LeaseRequest Request(int max = 10) const {
    LeaseRequest r;
    r.consumer_id = "c1";
    r.max = max;
    r.lease_seconds = std::chrono::seconds(30);
    r.wait = milliseconds(200);
    return r;
  }

  std::unique_ptr<FakeBroker> broker_;
  std::unique_ptr<Consumer> consumer_;
};

TEST_F(ConsumerTest, LeaseSendsTheContractAndParsesMessages) {
  broker_->AddMessage("u1", {{"metric_name", "X"}, {"value", 1.5}});
  broker_->AddMessage("u2", {{"metric_name", "Y"}});
  ASSERT_OK_AND_ASSIGN(LeaseResponse lease, consumer_->Lease(Request()));
  auto requests = broker_->Requests("/v1/lease");
  ASSERT_EQ(requests.size(), 1u);
  const auto& body = requests[0].body;
  EXPECT_EQ(body["topic"], "telemetry");
  EXPECT_EQ(body["group"], "collectors");
  EXPECT_EQ(body["consumer_id"], "c1");
  EXPECT_EQ(body["max"], 10);
  EXPECT_EQ(body["lease_seconds"], 30);
  EXPECT_EQ(body["wait_ms"], 200);

  EXPECT_EQ(lease.lease_id, "lease-1");
  EXPECT_EQ(lease.expires_at, "2030-01-01T00:00:30.000000Z");
  ASSERT_EQ(lease.messages.size(), 2u);
  EXPECT_EQ(lease.messages[0].msg_uuid, "u1");
  EXPECT_EQ(lease.messages[0].partition, 7);
  EXPECT_EQ(lease.messages[0].offset, 0);
  EXPECT_EQ(lease.messages[0].attempt, 1);
  EXPECT_EQ(lease.messages[1].offset, 1);
  auto payload = nlohmann::json::parse(lease.messages[0].payload);
  EXPECT_EQ(payload["metric_name"], "X");
  EXPECT_EQ(payload["value"], 1.5);
}

TEST_F(ConsumerTest, EmptyLongPollIsAnEmptyLease) {
  const auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(LeaseResponse lease, consumer_->Lease(Request()));
  EXPECT_TRUE(lease.lease_id.empty());
  EXPECT_TRUE(lease.messages.empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(150));
}

TEST_F(ConsumerTest, LongPollLongerThanTheRequestTimeoutDoesNotTimeOut) {
  ConsumerOptions o;
  o.reader_url = broker_->url();
  o.request_timeout = milliseconds(300);
  ASSERT_OK_AND_ASSIGN(auto consumer, Consumer::Create(o));
  auto r = Request();
  r.wait = milliseconds(800);
  ASSERT_OK_AND_ASSIGN(LeaseResponse lease, consumer->Lease(r));
  EXPECT_TRUE(lease.messages.empty());
}

TEST_F(ConsumerTest, AckAllOrASubset) {
  for (const char* id : {"a", "b", "c"}) {
    broker_->AddMessage(id, {{"k", id}});
  }
  ASSERT_OK_AND_ASSIGN(LeaseResponse lease, consumer_->Lease(Request()));
  ASSERT_OK_AND_ASSIGN(auto acked,
                       consumer_->Ack(lease.lease_id, std::vector<std::string>{"a"}));
  EXPECT_EQ(acked, 1);
  auto ack_requests = broker_->Requests("/v1/ack");
  ASSERT_EQ(ack_requests.size(), 1u);
  EXPECT_EQ(ack_requests[0].body["lease_id"], lease.lease_id);
  EXPECT_EQ(ack_requests[0].body["msg_uuids"], nlohmann::json::array({"a"}));
  ASSERT_OK_AND_ASSIGN(acked, consumer_->Ack(lease.lease_id));
  EXPECT_EQ(acked, 2);
  EXPECT_FALSE(broker_->Requests("/v1/ack")[1].body.contains("msg_uuids"));
  EXPECT_EQ(broker_->Acked(), (std::set<std::string>{"a", "b", "c"}));
}

TEST_F(ConsumerTest, NackAndExtendSendTheirShapes) {
  broker_->AddMessage("a", {{"k", 1}});
  broker_->AddMessage("b", {{"k", 2}});
  ASSERT_OK_AND_ASSIGN(LeaseResponse lease, consumer_->Lease(Request()));
  ASSERT_OK(consumer_->Nack(lease.lease_id, {"b"}, milliseconds(250)));
  auto nacks = broker_->Requests("/v1/nack");
  ASSERT_EQ(nacks.size(), 1u);
  EXPECT_EQ(nacks[0].body["msg_uuids"], nlohmann::json::array({"b"}));
  EXPECT_EQ(nacks[0].body["delay_ms"], 250);
  EXPECT_EQ(broker_->Nacked(), std::vector<std::string>{"b"});
  ASSERT_OK_AND_ASSIGN(std::string expires,
                       consumer_->Extend(lease.lease_id, std::chrono::seconds(60)));
  EXPECT_EQ(expires, "2030-01-01T00:01:00.000000Z");
  EXPECT_EQ(broker_->Requests("/v1/extend")[0].body["lease_seconds"], 60);
}

TEST_F(ConsumerTest, UnknownLeaseIsNotFoundAndExpiredIsConflict) {
  EXPECT_EQ(consumer_->Ack("no-such-lease").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(consumer_->Nack("no-such-lease", {"x"}).code(), StatusCode::kNotFound);
  EXPECT_EQ(consumer_->Extend("no-such-lease", std::chrono::seconds(5)).status().code(),
            StatusCode::kNotFound);
  broker_->AddMessage("a", {{"k", 1}});
  ASSERT_OK_AND_ASSIGN(LeaseResponse lease, consumer_->Lease(Request()));
  broker_->ExpireLeases();
  EXPECT_EQ(consumer_->Ack(lease.lease_id).status().code(), StatusCode::kConflict);
  EXPECT_EQ(consumer_->Extend(lease.lease_id, std::chrono::seconds(5)).status().code(),
            StatusCode::kConflict);
}

TEST_F(ConsumerTest, AckRetriesServerErrorsButNotClientErrors) {
  broker_->AddMessage("a", {{"k", 1}});
  ASSERT_OK_AND_ASSIGN(LeaseResponse lease, consumer_->Lease(Request()));
  broker_->Script("/v1/ack", {ScriptedAnswer{503}});
  ASSERT_OK_AND_ASSIGN(auto acked, consumer_->Ack(lease.lease_id));
  EXPECT_EQ(acked, 1);
  EXPECT_EQ(broker_->Requests("/v1/ack").size(), 2u);
  broker_->Script("/v1/lease", {ScriptedAnswer{400, R"({"detail":"max too big"})"}});
  auto r = consumer_->Lease(Request());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("max too big"), std::string::npos);
}

// The payload arrives as the reader wrote it; an answer that breaks the contract is
// Internal, naming what is wrong, and never a partial lease.
TEST_F(ConsumerTest, LeaseAnswerIsReadStrictly) {
  const std::string payload = "{ \"k\": \"caf\\u00e9\", \"n\": [1, 2.5e3] }";
  broker_->Script("/v1/lease",
                  {ScriptedAnswer{200,
                                  R"({"lease_id":"l\u0031","expires_at":"x","extra":{},)"
                                  R"("messages":[{"msg_uuid":"u1","partition":3,)"
                                  R"("offset":9007199254740993,"attempt":2,"payload":)" +
                                      payload + "}]}"}});
  ASSERT_OK_AND_ASSIGN(LeaseResponse lease, consumer_->Lease(Request()));
  EXPECT_EQ(lease.lease_id, "l1");
  ASSERT_EQ(lease.messages.size(), 1u);
  EXPECT_EQ(lease.messages[0].payload, payload);
  EXPECT_EQ(lease.messages[0].offset, 9007199254740993);
  EXPECT_EQ(lease.messages[0].attempt, 2);

  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"lease_id":"l","messages":[{"msg_uuid":"u1")", "not a JSON object"},
      {R"([])", "not a JSON object"},
      {R"({"lease_id":"l","messages":[{"partition":1}]})", "without msg_uuid"},
      {R"({"lease_id":"l","messages":[{"msg_uuid":7}]})", "msg_uuid: expected a string"},
      {R"({"lease_id":"l","messages":[{"msg_uuid":"u","partition":"1"}]})",
       "partition: expected an integer, got string"},
      {R"({"lease_id":"l","messages":[{"msg_uuid":"u","attempt":1.5}]})",
       "attempt: expected an integer, got 1.5"},
      {R"({"lease_id":"l","messages":[{"msg_uuid":"u","partition":4294967296}]})",
       "partition: 4294967296 is out of range"},
      {R"({"messages":[{"msg_uuid":"u"}]})", "messages without a lease_id"}};
  for (const auto& [body, expected] : bad) {
    broker_->Script("/v1/lease", {ScriptedAnswer{200, body}});
    auto r = consumer_->Lease(Request());
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), StatusCode::kInternal) << body;
    EXPECT_NE(r.status().message().find(expected), std::string::npos)
        << body << " -> " << r.status().ToString();
  }
}

TEST_F(ConsumerTest, ServerErrorOnLeaseIsUnavailableAndNotRetried) {
  broker_->Script("/v1/lease", {ScriptedAnswer{500}});
  EXPECT_EQ(consumer_->Lease(Request()).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(broker_->Requests("/v1/lease").size(), 1u);
}

TEST_F(ConsumerTest, PingChecksTheReader) {
  EXPECT_OK(consumer_->Ping());
  broker_.reset();
  EXPECT_FALSE(consumer_->Ping().ok());
}

}  // namespace
}  // namespace tp::clients
