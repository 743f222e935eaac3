#include "broker/writer.h"

#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "clients/publisher.h"
#include "tp/http/client.h"
#include "tp/http/server.h"
#include "tp/metrics/metrics.h"
#include "tp/testing/testing.h"

namespace tp::broker {
namespace {

using nlohmann::json;

class WriterTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }
  void TearDown() override { Stop(); }

  void Start() {
    http::ServerOptions so;
    so.listen = "127.0.0.1:0";
    so.body_limit = 64 * 1024;
    so.registry = &registry_;
    auto server = http::Server::Create(so);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    options_.wal.maintenance_interval = std::chrono::milliseconds(0);
    auto service =
        LogService::Open(options_, dir_.path() / "log", server_->executor(), nullptr);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(service).value();
    http::Router router;
    ASSERT_OK(InstallWriterRoutes(router, *service_));
    LogService* svc = service_.get();
    ASSERT_OK(http::InstallStandardEndpoints(router, {&registry_, [svc] {
                                                        return svc->Ready();
                                                      }}));
    ASSERT_OK(server_->Start(std::move(router)));
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
    auto client = http::Client::Create(url_);
    ASSERT_TRUE(client.ok());
    client_ = std::move(client).value();
    auto source = MakeHttpLogSource(url_);
    ASSERT_TRUE(source.ok());
    source_ = std::move(source).value();
  }

  void Stop() {
    source_.reset();
    client_.reset();
    if (server_)
      server_->Stop();
    service_.reset();
    server_.reset();
  }

  http::ClientResponse Post(const std::string& body) {
    auto r = client_->Post("/v1/publish", body);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : http::ClientResponse{};
  }

  static json Message(const std::string& key, const std::string& uuid, int value) {
    json m = {{"key", key},
              {"payload", {{"metric_name", "DCGM_FI_DEV_GPU_UTIL"}, {"value", value}}}};
    if (!uuid.empty())
      m["msg_uuid"] = uuid;
    return m;
  }

  // Every record of `topic` across partitions, fetched through the HTTP source.
  std::vector<FetchedRecord> FetchAll(uint32_t partitions = 256) {
    FetchRequest req;
    req.topic = "telemetry";
    for (uint32_t p = 0; p < partitions; ++p)
      req.partitions.push_back({p, 0});
    auto res = source_->Fetch(req);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    std::vector<FetchedRecord> out;
    if (!res.ok())
      return out;
    for (auto& p : res->partitions) {
      for (auto& r : p.records)
        out.push_back(r);
    }
    return out;
  }

  TempDir dir_ = testing::MakeTempDir("broker-writer-");
  metrics::Registry registry_;
  WriterOptions options_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<LogService> service_;
  std::unique_ptr<http::Client> client_;
  std::unique_ptr<LogSource> source_;
  std::string url_;
};

TEST(PartitionForKeyTest, IsStableFnv1a) {
  // Pinned values: changing the hash would move every GPU to another partition.
  EXPECT_EQ(PartitionForKey("", 256), 14695981039346656037ULL % 256);
  EXPECT_EQ(PartitionForKey("a", 256), 0xaf63dc4c8601ec8cULL % 256);
  EXPECT_EQ(PartitionForKey("GPU-5fd4f087-86f3-7a43-b711-4771313afc50", 1), 0u);
  EXPECT_LT(PartitionForKey("GPU-5fd4f087-86f3-7a43-b711-4771313afc50", 256), 256u);
}

TEST(ParseTopicsTest, AcceptsCountsAndRejectsBadEntries) {
  ASSERT_OK_AND_ASSIGN(auto topics, ParseTopics("telemetry:256,events:4,plain"));
  ASSERT_EQ(topics.size(), 3u);
  EXPECT_EQ(topics[1].partitions, 4u);
  EXPECT_EQ(topics[2].partitions, 256u);
  for (const char* bad : {"", "t:0", "t:x", "bad name:3", "t:1,t:2", "x.deadletter"}) {
    EXPECT_EQ(ParseTopics(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST_F(WriterTest, PublishIsDurableAndRetriesAreDuplicates) {
  const std::string u1 = Uuid::NewV7().ToString();
  const std::string u2 = Uuid::NewV7().ToString();
  json body = {{"topic", "telemetry"},
               {"messages", {Message("GPU-a", u1, 1), Message("GPU-b", u2, 2)}}};
  auto r = Post(body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), json({{"accepted", 2}, {"duplicates", 0}}));
  r = Post(body.dump());  // a retry after a lost answer
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), json({{"accepted", 0}, {"duplicates", 2}}));

  auto records = FetchAll();
  ASSERT_EQ(records.size(), 2u);
  for (const auto& rec : records) {
    json payload = json::parse(rec.payload);
    EXPECT_EQ(payload["metric_name"], "DCGM_FI_DEV_GPU_UTIL");
    EXPECT_TRUE(rec.msg_uuid.ToString() == u1 || rec.msg_uuid.ToString() == u2);
  }
}

TEST_F(WriterTest, MessagesWithoutUuidGetUuidV7AndKeyPartition) {
  json body = {{"topic", "telemetry"}, {"messages", {Message("GPU-x", "", 7)}}};
  ASSERT_EQ(Post(body.dump()).status, 200);
  FetchRequest req;
  req.topic = "telemetry";
  req.partitions.push_back({PartitionForKey("GPU-x", 256), 0});
  ASSERT_OK_AND_ASSIGN(FetchResponse res, source_->Fetch(req));
  ASSERT_EQ(res.partitions.size(), 1u);
  ASSERT_EQ(res.partitions[0].records.size(), 1u);
  EXPECT_EQ(res.partitions[0].records[0].msg_uuid.version(), 7);
  EXPECT_EQ(res.partitions[0].records[0].key, "GPU-x");
  EXPECT_EQ(res.partitions[0].next, 1u);
}

TEST_F(WriterTest, BadPublishesGetProblems) {
  struct Case {
    std::string name;
    std::string body;
    int status;
    std::string field;
  };
  const std::string ok_msg = Message("k", "", 1).dump();
  const std::vector<Case> cases = {
      {"malformed json", "{\"topic\":", 400, ""},
      {"not an object", "[1,2]", 400, ""},
      {"missing topic", R"({"messages":[)" + ok_msg + "]}", 400, "topic"},
      {"topic not a string", R"({"topic":5,"messages":[)" + ok_msg + "]}", 400, "topic"},
      {"missing messages", R"({"topic":"telemetry"})", 400, "messages"},
      {"messages not an array",
       R"({"topic":"telemetry","messages":{}})",
       400,
       "messages"},
      {"empty batch", R"({"topic":"telemetry","messages":[]})", 400, "messages"},
      {"message not an object",
       R"({"topic":"telemetry","messages":[3]})",
       400,
       "messages[0]"},
      {"key wrong type",
       R"({"topic":"telemetry","messages":[{"key":1,"payload":{}}]})",
       400,
       "messages[0].key"},
      {"invalid uuid",
       R"({"topic":"telemetry","messages":[{"msg_uuid":"nope","payload":{}}]})",
       400,
       "messages[0].msg_uuid"},
      {"missing payload",
       R"({"topic":"telemetry","messages":[{"key":"k"}]})",
       400,
       "messages[0].payload"},
      {"payload not an object",
       R"({"topic":"telemetry","messages":[{"payload":"x"}]})",
       400,
       "messages[0].payload"},
      {"unknown topic", R"({"topic":"nope","messages":[)" + ok_msg + "]}", 404, ""},
      {"oversize body",
       R"({"topic":"telemetry","messages":[{"payload":{"x":")" +
           std::string(70 * 1024, 'a') + "\"}}]}",
       413,
       ""},
  };
  for (const Case& c : cases) {
    auto r = Post(c.body);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    EXPECT_EQ(r.Header("Content-Type").value_or(""), "application/problem+json")
        << c.name;
    json problem = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(problem.is_object()) << c.name;
    EXPECT_FALSE(problem.value("detail", "").empty()) << c.name;
    if (!c.field.empty()) {
      EXPECT_EQ(problem.value("field", ""), c.field) << c.name;
    }
  }
  // The server kept serving.
  json body = {{"topic", "telemetry"}, {"messages", {Message("k", "", 1)}}};
  EXPECT_EQ(Post(body.dump()).status, 200);
}

// The clients' default flatbuffers form against the real decoder: payload bytes are
// stored exactly as sent (no parse-and-dump), and a malformed payload is a 400.
TEST_F(WriterTest, FlatbuffersPublishStoresPayloadBytesAsTheyAre) {
  for (auto format :
       {clients::PublishFormat::kFlatbuffers, clients::PublishFormat::kJson}) {
    clients::PublisherOptions o;
    o.broker_url = url_;
    o.format = format;
    o.max_attempts = 1;
    ASSERT_OK_AND_ASSIGN(auto pub, clients::Publisher::Create(o));
    const bool fb = format == clients::PublishFormat::kFlatbuffers;
    const std::string payload = fb ? R"({ "value" : 1.50, "s":"\u00e9" })" : R"({"v":2})";
    ASSERT_OK_AND_ASSIGN(Uuid id, pub->Publish("telemetry", "GPU-fb", payload));
    ASSERT_OK(pub->Flush(std::chrono::seconds(10)));
    EXPECT_EQ(pub->Stats().accepted, 1u);
    // A retry of the same msg_uuid is a duplicate in either form.
    ASSERT_OK(pub->Publish("telemetry", "GPU-fb", payload, id).status());
    ASSERT_OK(pub->Flush(std::chrono::seconds(10)));
    EXPECT_EQ(pub->Stats().duplicates, 1u);
    bool found = false;
    for (const auto& rec : FetchAll()) {
      if (rec.msg_uuid == id) {
        found = true;
        if (fb) {
          EXPECT_EQ(rec.payload, payload);  // byte for byte
        } else {
          EXPECT_EQ(json::parse(rec.payload), json::parse(payload));
        }
      }
    }
    EXPECT_TRUE(found);
    // Braces outside, broken inside: the client passes it, the writer refuses it (in
    // the JSON form it breaks the whole body; the flatbuffers form names the payload).
    ASSERT_OK(pub->Publish("telemetry", "GPU-fb", R"({"v":})").status());
    Status s = pub->Flush(std::chrono::seconds(10));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    if (fb) {
      EXPECT_NE(s.message().find("messages[0].payload"), std::string::npos)
          << s.ToString();
    }
  }
}

// One request spread over many partitions (one wal entry for all of them): every
// partition keeps the request's order, repeats inside the request and retries are
// duplicates, and the counts add up.
TEST_F(WriterTest, ManyPartitionsInOneRequestKeepOrderAndDeduplicate) {
  json messages = json::array();
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) {
    ids.push_back(Uuid::NewV7().ToString());
    messages.push_back(Message("GPU-" + std::to_string(i % 60), ids.back(), i));
  }
  messages.push_back(Message("GPU-0", ids[0], 0));  // same request, same uuid
  messages.push_back(Message("GPU-7", ids[7], 7));  // and another
  json body = {{"topic", "telemetry"}, {"messages", messages}};
  auto r = Post(body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), json({{"accepted", 300}, {"duplicates", 2}}));
  r = Post(body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), json({{"accepted", 0}, {"duplicates", 302}}));
  auto records = FetchAll();
  ASSERT_EQ(records.size(), 300u);
  std::map<std::string, int> last_value;
  for (const auto& rec : records) {
    const int value = json::parse(rec.payload)["value"];
    auto [it, inserted] = last_value.emplace(rec.key, value);
    if (!inserted) {
      EXPECT_GT(value, it->second) << rec.key;  // request order within a partition
      it->second = value;
    }
  }
  EXPECT_EQ(last_value.size(), 60u);
}

TEST_F(WriterTest, FetchLongPollWakesOnPublish) {
  FetchRequest req;
  req.topic = "telemetry";
  const uint32_t p = PartitionForKey("GPU-wake", 256);
  req.partitions.push_back({p, 0});
  req.wait = std::chrono::milliseconds(5000);
  std::thread publisher([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    json body = {{"topic", "telemetry"}, {"messages", {Message("GPU-wake", "", 1)}}};
    Post(body.dump());
  });
  const auto started = std::chrono::steady_clock::now();
  auto res = source_->Fetch(req);
  const auto waited = std::chrono::steady_clock::now() - started;
  publisher.join();
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  ASSERT_EQ(res->partitions[0].records.size(), 1u);
  EXPECT_LT(waited, std::chrono::milliseconds(4000));
  EXPECT_GE(waited, std::chrono::milliseconds(150));
}

TEST_F(WriterTest, CommitsAreMonotonicAndVisible) {
  json msgs = json::array();
  for (int i = 0; i < 5; ++i)
    msgs.push_back(Message("GPU-c", "", i));
  ASSERT_EQ(Post(json({{"topic", "telemetry"}, {"messages", msgs}}).dump()).status, 200);
  const uint32_t p = PartitionForKey("GPU-c", 256);
  ASSERT_OK_AND_ASSIGN(auto c1, source_->Commit("telemetry", "collectors", {{p, 4}}));
  EXPECT_EQ(c1[p], 4u);
  ASSERT_OK_AND_ASSIGN(auto c2, source_->Commit("telemetry", "collectors", {{p, 2}}));
  EXPECT_EQ(c2[p], 4u);
  ASSERT_OK_AND_ASSIGN(auto committed, source_->Committed("telemetry", "collectors"));
  EXPECT_EQ(committed.at(p), 4u);
  ASSERT_OK_AND_ASSIGN(auto other, source_->Committed("telemetry", "archiver"));
  EXPECT_TRUE(other.empty());
  EXPECT_EQ(source_->Commit("telemetry", "collectors", {{p, 99}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(source_->Commit("nope", "collectors", {{p, 1}}).status().code(),
            StatusCode::kNotFound);
}

TEST_F(WriterTest, DeadLettersAreStoredAndListed) {
  DeadLetter letter;
  letter.topic = "telemetry";
  letter.partition = 3;
  letter.offset = 17;
  letter.msg_uuid = Uuid::NewV7();
  letter.group = "collectors";
  letter.attempts = 5;
  letter.reason = "poison: value is not a number";
  letter.key = "GPU-d";
  letter.payload = R"({"value":"x"})";
  ASSERT_OK(source_->AppendDeadLetter(letter));
  auto r = client_->Get("/v1/deadletters?topic=telemetry");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  json doc = json::parse(r->body);
  ASSERT_EQ(doc["items"].size(), 1u);
  EXPECT_EQ(doc["items"][0]["msg_uuid"], letter.msg_uuid.ToString());
  EXPECT_EQ(doc["items"][0]["offset"], 17);
  EXPECT_EQ(doc["items"][0]["attempts"], 5);
  EXPECT_EQ(doc["items"][0]["reason"], letter.reason);
  EXPECT_EQ(doc["items"][0]["payload"]["value"], "x");
  auto bad = client_->Get("/v1/deadletters?limit=0");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400);
}

// A body with more messages than max_messages_per_publish is refused in either form,
// with the limit named, before its messages are decoded or anything is stored.
TEST_F(WriterTest, PublishOverTheMessageLimitIsRefusedInEitherForm) {
  Stop();
  options_.max_messages_per_publish = 3;
  Start();
  auto body = [](int n) {
    json msgs = json::array();
    for (int i = 0; i < n; ++i)
      msgs.push_back(Message("GPU-limit", "", i));
    return json({{"topic", "telemetry"}, {"messages", msgs}}).dump();
  };
  EXPECT_EQ(Post(body(3)).status, 200);
  auto r = Post(body(4));
  EXPECT_EQ(r.status, 400) << r.body;
  json problem = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(problem.is_object()) << r.body;
  EXPECT_EQ(problem.value("field", ""), "messages");
  EXPECT_NE(problem.value("detail", "").find("at most 3 per request, got 4"),
            std::string::npos)
      << r.body;

  clients::PublisherOptions o;
  o.broker_url = url_;
  o.format = clients::PublishFormat::kFlatbuffers;
  o.max_batch_messages = 4;
  o.max_attempts = 1;
  ASSERT_OK_AND_ASSIGN(auto pub, clients::Publisher::Create(o));
  for (int i = 0; i < 4; ++i)
    ASSERT_OK(pub->Publish("telemetry", "GPU-limit", R"({"v":1})").status());
  Status s = pub->Flush(std::chrono::seconds(10));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("at most 3 per request, got 4"), std::string::npos)
      << s.ToString();
  size_t stored = 0;
  for (const auto& rec : FetchAll())
    stored += rec.key == "GPU-limit" ? 1 : 0;
  EXPECT_EQ(stored, 3u);  // only the first JSON body's
}

TEST_F(WriterTest, DiskBudgetAnswers429WithRetryAfter) {
  Stop();
  options_.wal.disk_budget_bytes = 64 * 1024;
  Start();
  int last = 200;
  // Bounded: ~4 KiB per request against a 64 KiB budget.
  for (int i = 0; i < 200 && last == 200; ++i) {
    json msgs = json::array();
    for (int j = 0; j < 4; ++j) {
      json m = Message("GPU-full", "", j);
      m["payload"]["pad"] = std::string(1000, 'p');
      msgs.push_back(m);
    }
    auto r = Post(json({{"topic", "telemetry"}, {"messages", msgs}}).dump());
    last = r.status;
    if (last == 429) {
      EXPECT_TRUE(r.Header("Retry-After").has_value());
      EXPECT_EQ(r.Header("Content-Type").value_or(""), "application/problem+json");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(last, 429);
}

TEST_F(WriterTest, DrainRefusesPublishesAndTurnsUnready) {
  json body = {{"topic", "telemetry"}, {"messages", {Message("GPU-drain", "", 1)}}};
  ASSERT_EQ(Post(body.dump()).status, 200);
  EXPECT_FALSE(service_->FullyCommitted());
  const uint32_t p = PartitionForKey("GPU-drain", 256);
  ASSERT_OK(source_->Commit("telemetry", "collectors", {{p, 1}}).status());
  EXPECT_TRUE(service_->FullyCommitted());
  service_->BeginDrain();
  auto r = Post(body.dump());
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(r.Header("Retry-After").has_value());
  EXPECT_EQ(r.Header("Connection").value_or(""), "close");
  auto ready = client_->Get("/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 503);
}

TEST_F(WriterTest, LocalSourceSeesTheSameLog) {
  json body = {{"topic", "telemetry"}, {"messages", {Message("GPU-local", "", 1)}}};
  ASSERT_EQ(Post(body.dump()).status, 200);
  auto local = service_->MakeLocalSource();
  EXPECT_EQ(local->id(), "local");
  ASSERT_OK_AND_ASSIGN(uint32_t count, local->PartitionCount("telemetry"));
  EXPECT_EQ(count, 256u);
  FetchRequest req;
  req.topic = "telemetry";
  req.partitions.push_back({PartitionForKey("GPU-local", 256), 0});
  ASSERT_OK_AND_ASSIGN(FetchResponse res, local->Fetch(req));
  EXPECT_EQ(res.partitions[0].records.size(), 1u);
  ASSERT_OK_AND_ASSIGN(uint32_t remote_count, source_->PartitionCount("telemetry"));
  EXPECT_EQ(remote_count, 256u);
}

}  // namespace
}  // namespace tp::broker
