#include "clients/publisher.h"

#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "fake_broker.h"
#include "tp/testing/testing.h"

namespace tp::clients {
namespace {

using std::chrono::milliseconds;
using testing::FakeBroker;
using testing::ScriptedAnswer;

class PublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = FakeBroker::Start();
    ASSERT_NE(broker_, nullptr);
  }

  PublisherOptions Options() const {
    PublisherOptions o;
    o.broker_url = broker_->url();
    o.backoff = {milliseconds(5), milliseconds(20)};
    o.request_timeout = milliseconds(2000);
    return o;
  }

  static std::string Payload(int i) { return R"({"i":)" + std::to_string(i) + "}"; }

  std::unique_ptr<FakeBroker> broker_;
};

TEST_F(PublisherTest, BatchesBySizeAndSendsTheWireShape) {
  auto o = Options();
  o.max_batch_messages = 4;
  o.linger = milliseconds(10'000);  // only size (and Flush) may trigger a send
  ASSERT_OK_AND_ASSIGN(auto pub, Publisher::Create(o));
  std::vector<Uuid> ids;
  for (int i = 0; i < 8; ++i) {
    ASSERT_OK_AND_ASSIGN(
        Uuid id, pub->Publish("telemetry", "GPU-" + std::to_string(i % 2), Payload(i)));
    EXPECT_EQ(id.version(), 7);
    ids.push_back(id);
  }
  ASSERT_OK(pub->Flush(milliseconds(5000)));
  auto requests = broker_->Requests("/v1/publish");
  ASSERT_EQ(requests.size(), 2u);
  for (const auto& r : requests) {
    EXPECT_EQ(r.content_type, "application/x-flatbuffers");  // the default form
    EXPECT_EQ(r.body["topic"], "telemetry");
    ASSERT_EQ(r.body["messages"].size(), 4u);
  }
  const auto& first = requests[0].body["messages"][0];
  EXPECT_EQ(first["key"], "GPU-0");
  EXPECT_EQ(first["msg_uuid"], ids[0].ToString());
  EXPECT_TRUE(first["payload"].is_object());
  EXPECT_EQ(first["payload"]["i"], 0);
  auto stats = pub->Stats();
  EXPECT_EQ(stats.published, 8u);
  EXPECT_EQ(stats.accepted, 8u);
  EXPECT_EQ(stats.pending, 0u);
  EXPECT_EQ(stats.retries, 0u);
}

TEST_F(PublisherTest, JsonFormatSendsTheSameRequestAsJson) {
  auto o = Options();
  o.format = PublishFormat::kJson;
  ASSERT_OK_AND_ASSIGN(auto pub, Publisher::Create(o));
  const std::string key = "GPU-\"quoted\"\\";
  ASSERT_OK_AND_ASSIGN(Uuid a, pub->Publish("telemetry", key, R"({"v":1.5,"s":"x"})"));
  ASSERT_OK_AND_ASSIGN(Uuid b, pub->Publish("telemetry", "", " {} "));
  ASSERT_OK(pub->Flush(milliseconds(5000)));
  auto requests = broker_->Requests("/v1/publish");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].content_type, "application/json");
  const auto& messages = requests[0].body["messages"];
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0]["key"], key);
  EXPECT_EQ(messages[0]["msg_uuid"], a.ToString());
  EXPECT_EQ(messages[0]["payload"]["v"], 1.5);
  EXPECT_EQ(messages[0]["payload"]["s"], "x");
  EXPECT_EQ(messages[1]["msg_uuid"], b.ToString());
  EXPECT_TRUE(messages[1]["payload"].is_object());
  EXPECT_EQ(pub->Stats().accepted, 2u);
}

TEST_F(PublisherTest, FlatbuffersFormCarriesPayloadBytesAsTheyAre) {
  ASSERT_OK_AND_ASSIGN(auto pub, Publisher::Create(Options()));
  const std::string key = "GPU-\"quoted\"";
  ASSERT_OK_AND_ASSIGN(Uuid a, pub->Publish("telemetry", key, R"({"v":1.5,"s":"é"})"));
  ASSERT_OK(pub->Flush(milliseconds(5000)));
  auto requests = broker_->Requests("/v1/publish");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].content_type, "application/x-flatbuffers");
  const auto& m = requests[0].body["messages"][0];
  EXPECT_EQ(m["key"], key);
  EXPECT_EQ(m["msg_uuid"], a.ToString());
  EXPECT_EQ(m["payload"]["s"], "é");
  EXPECT_EQ(broker_->Published().size(), 1u);
}

TEST_F(PublisherTest, LingerSendsAPartialBatch) {
  auto o = Options();
  o.max_batch_messages = 100;
  o.linger = milliseconds(50);
  ASSERT_OK_AND_ASSIGN(auto pub, Publisher::Create(o));
  const auto start = std::chrono::steady_clock::now();
  ASSERT_OK(pub->Publish("telemetry", "k", Payload(1)).status());
  ASSERT_OK(pub->Publish("telemetry", "k", Payload(2)).status());
  for (int i = 0; i < 200 && pub->Stats().published < 2; ++i) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(pub->Stats().published, 2u);
  EXPECT_GE(took, milliseconds(45));
  auto requests = broker_->Requests("/v1/publish");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].body["messages"].size(), 2u);
}

TEST_F(PublisherTest, RetriesServerErrorsWithTheSameMsgUuid) {
  broker_->Script("/v1/publish", {ScriptedAnswer{500}, ScriptedAnswer{503}});
  ASSERT_OK_AND_ASSIGN(auto pub, Publisher::Create(Options()));
  ASSERT_OK_AND_ASSIGN(Uuid id, pub->Publish("telemetry", "k", Payload(1)));
  ASSERT_OK(pub->Flush(milliseconds(5000)));
  auto requests = broker_->Requests("/v1/publish");
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& r : requests) {
    ASSERT_EQ(r.body["messages"].size(), 1u);
    EXPECT_EQ(r.body["messages"][0]["msg_uuid"], id.ToString());
  }
  auto stats = pub->Stats();
  EXPECT_EQ(stats.retries, 2u);
  EXPECT_EQ(stats.published, 1u);
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_EQ(broker_->Published().size(), 1u);
}

TEST_F(PublisherTest, CallerChosenMsgUuidIsSentAndDuplicatesAreCounted) {
  ASSERT_OK_AND_ASSIGN(auto pub, Publisher::Create(Options()));
  const Uuid id = Uuid::NewV7();
  ASSERT_OK(pub->Publish("telemetry", "k", Payload(1), id).status());
  ASSERT_OK(pub->Flush());
  ASSERT_OK(pub->Publish("telemetry", "k", Payload(1), id).status());
  ASSERT_OK(pub->Flush());
  auto stats = pub->Stats();
  EXPECT_EQ(stats.published, 2u);
  EXPECT_EQ(stats.accepted, 1u);
  EXPECT_EQ(stats.duplicates, 1u);
}

TEST_F(PublisherTest, ConnectionRefusedIsRetriedUntilTheBrokerComesUp) {
  const std::uint16_t port = broker_->port();
  auto o = Options();
  broker_->Stop();
  broker_.reset();
  o.backoff = {milliseconds(20), milliseconds(50)};
  ASSERT_OK_AND_ASSIGN(auto pub, Publisher::Create(o));
  ASSERT_OK_AND_ASSIGN(Uuid id, pub->Publish("telemetry", "k", Payload(1)));
  for (int i = 0; i < 200 && pub->Stats().retries < 2; ++i) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_GE(pub->Stats().retries, 2u);
  broker_ = FakeBroker::Start(port);
  ASSERT_NE(broker_, nullptr);
  ASSERT_OK(pub->Flush(milliseconds(5000)));
  auto published = broker_->Published();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0]["msg_uuid"], id.ToString());
  EXPECT_EQ(pub->Stats().failures, 0u);
}

TEST_F(PublisherTest, GivesUpAfterMaxAttemptsAndReportsIt) {
  auto o = Options();
  broker_.reset();  // closes the listener: connection refused
  o.max_attempts = 3;
  ASSERT_OK_AND_ASSIGN(auto pub, Publisher::Create(o));
  ASSERT_OK(pub->Publish("telemetry", "k", Payload(1)).status());
  Status s = pub->Flush(milliseconds(5000));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  auto stats = pub->Stats();
  EXPECT_EQ(stats.requests, 3u);
  EXPECT_EQ(stats.retries, 2u);
  EXPECT_EQ(stats.failures, 1u);
  EXPECT_OK(pub->Flush(milliseconds(100)));  // reported once
}

TEST_F(PublisherTest, HonoursRetryAfterOn429) {
  ScriptedAnswer throttle{429};
  throttle.retry_after = "1";
  broker_->Script("/v1/publish", {throttle});
  auto o = Options();
  o.backoff = {milliseconds(1), milliseconds(2)};  // Retry-After, not backoff, decides
  ASSERT_OK_AND_ASSIGN(auto pub, Publisher::Create(o));
  ASSERT_OK(pub->Publish("telemetry", "k", Payload(1)).status());
  ASSERT_OK(pub->Flush(milliseconds(5000)));
  auto requests = broker_->Requests("/v1/publish");
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_GE(requests[1].at - requests[0].at, milliseconds(950));
  auto stats = pub->Stats();
  EXPECT_EQ(stats.throttled, 1u);
  EXPECT_EQ(stats.retries, 1u);
  EXPECT_EQ(stats.published, 1u);
}

TEST_F(PublisherTest, BadRequestIsNotRetried) {
  broker_->Script("/v1/publish", {ScriptedAnswer{400, R"({"detail":"bad payload"})"}});
  ASSERT_OK_AND_ASSIGN(auto pub, Publisher::Create(Options()));
  ASSERT_OK(pub->Publish("telemetry", "k", Payload(1)).status());
  Status s = pub->Flush(milliseconds(5000));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("bad payload"), std::string::npos);
  EXPECT_EQ(broker_->Requests("/v1/publish").size(), 1u);
  EXPECT_EQ(pub->Stats().failures, 1u);
  EXPECT_EQ(pub->Stats().retries, 0u);
}

TEST_F(PublisherTest, UnknownTopicIsNotFound) {
  ASSERT_OK_AND_ASSIGN(auto pub, Publisher::Create(Options()));
  ASSERT_OK(pub->Publish("nope", "k", Payload(1)).status());
  EXPECT_EQ(pub->Flush(milliseconds(5000)).code(), StatusCode::kNotFound);
}

TEST_F(PublisherTest, RejectsPayloadsThatAreNotObjects) {
  ASSERT_OK_AND_ASSIGN(auto pub, Publisher::Create(Options()));
  EXPECT_EQ(pub->Publish("telemetry", "k", "[1]").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(pub->Publish("", "k", "{}").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PublisherTest, FullQueueReturnsFullWithoutBlockingWhenAsked) {
  broker_->Script("/v1/publish", std::vector<ScriptedAnswer>(50, ScriptedAnswer{503}));
  auto o = Options();
  o.max_queued_messages = 2;
  o.enqueue_timeout = milliseconds(0);
  o.backoff = {milliseconds(50), milliseconds(50)};
  ASSERT_OK_AND_ASSIGN(auto pub, Publisher::Create(o));
  ASSERT_OK(pub->Publish("telemetry", "k", Payload(1)).status());
  ASSERT_OK(pub->Publish("telemetry", "k", Payload(2)).status());
  EXPECT_EQ(pub->Publish("telemetry", "k", Payload(3)).status().code(),
            StatusCode::kFull);
  EXPECT_FALSE(pub->Close(milliseconds(100)).ok());  // still failing: given up
  EXPECT_EQ(pub->Stats().failures, 2u);
  EXPECT_EQ(pub->Publish("telemetry", "k", Payload(4)).status().code(),
            StatusCode::kUnavailable);
}

TEST_F(PublisherTest, BlockingPublishWaitsForRoom) {
  auto o = Options();
  o.max_queued_messages = 3;
  o.max_batch_messages = 3;
  o.linger = milliseconds(1);
  ASSERT_OK_AND_ASSIGN(auto pub, Publisher::Create(o));
  for (int i = 0; i < 30; ++i) {
    ASSERT_OK(pub->Publish("telemetry", "k", Payload(i)).status());
  }
  ASSERT_OK(pub->Close(milliseconds(5000)));
  EXPECT_EQ(pub->Stats().published, 30u);
  EXPECT_EQ(broker_->Published().size(), 30u);
}

TEST_F(PublisherTest, FlushWaitsForEverythingFromManyThreads) {
  auto o = Options();
  o.max_batch_messages = 64;
  o.linger = milliseconds(5);
  ASSERT_OK_AND_ASSIGN(auto pub, Publisher::Create(o));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pub, t] {
      for (int i = 0; i < 250; ++i) {
        EXPECT_TRUE(
            pub->Publish("telemetry", "GPU-" + std::to_string(t), Payload(i)).ok());
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  ASSERT_OK(pub->Flush(milliseconds(10'000)));
  EXPECT_EQ(pub->Stats().published, 1000u);
  auto published = broker_->Published();
  std::set<std::string> ids;
  for (const auto& m : published) {
    ids.insert(m["msg_uuid"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), 1000u);
}

}  // namespace
}  // namespace tp::clients
