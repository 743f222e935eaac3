#include "streamer/emitter.h"

#include <fstream>
#include <optional>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "clients/publisher.h"
#include "fake_broker.h"
#include "tp/metrics/metrics.h"
#include "tp/telemetry/record.h"
#include "tp/telemetry/time.h"
#include "tp/testing/testing.h"

namespace tp::streamer {
namespace {

using clients::testing::FakeBroker;
using clients::testing::ScriptedAnswer;
using std::chrono::milliseconds;

constexpr const char* kHeader =
    "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,"
    "value,labels_raw\n";

std::string Row(int gpu, const std::string& value) {
  return "2025-07-18T20:42:34Z,DCGM_FI_DEV_GPU_UTIL," + std::to_string(gpu) + ",nvidia" +
         std::to_string(gpu) + ",GPU-" + std::to_string(gpu) + ",H100,host,,,," + value +
         ",\n";
}

class EmitterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = FakeBroker::Start();
    ASSERT_NE(broker_, nullptr);
    clients::PublisherOptions o;
    o.broker_url = broker_->url();
    o.linger = milliseconds(5);
    o.backoff = {milliseconds(5), milliseconds(20)};
    ASSERT_OK_AND_ASSIGN(publisher_, clients::Publisher::Create(o));
    dir_.emplace(tp::testing::MakeTempDir());
  }

  std::filesystem::path Write(const std::string& text) {
    auto path = dir_->path() / "in.csv";
    std::ofstream(path) << text;
    return path;
  }

  std::unique_ptr<FakeBroker> broker_;
  std::unique_ptr<clients::Publisher> publisher_;
  std::optional<TempDir> dir_;
  std::atomic<bool> stop_{false};
};

TEST_F(EmitterTest, LoopsOverTheFileStampingTheEmissionTime) {
  EmitterOptions o;
  o.csv = Write(std::string(kHeader) + Row(0, "1") + Row(1, "2") + Row(2, "3"));
  o.loops = 2;
  metrics::Registry registry;
  Emitter emitter(o, publisher_.get(), &registry);
  ASSERT_OK(emitter.Open());
  const auto before = telemetry::NowMicros();
  ASSERT_OK(emitter.Run(stop_));
  ASSERT_OK(publisher_->Flush(milliseconds(5000)));
  auto published = broker_->Published();
  ASSERT_EQ(published.size(), 6u);
  std::set<std::string> ids;
  for (const auto& m : published) {
    ids.insert(m["msg_uuid"].get<std::string>());
    ASSERT_OK_AND_ASSIGN(auto rec, telemetry::FromJson(m["payload"]));
    EXPECT_EQ(m["key"], rec.uuid);     // key = GPU UUID
    EXPECT_GE(rec.timestamp, before);  // the emission time, not the file's 2025 time
  }
  EXPECT_EQ(ids.size(), 6u);  // one msg_uuid per emission, also on the second pass
  EXPECT_EQ(emitter.counters().loops.load(), 2u);
  EXPECT_NE(registry.Render().find("streamer_rows_read_total 6"), std::string::npos);
}

TEST_F(EmitterTest, CountStopsEarly) {
  EmitterOptions o;
  o.csv = Write(std::string(kHeader) + Row(0, "1") + Row(1, "2"));
  o.count = 5;  // more than one pass, not a whole number of passes
  Emitter emitter(o, publisher_.get(), nullptr);
  ASSERT_OK(emitter.Run(stop_));
  ASSERT_OK(publisher_->Flush(milliseconds(5000)));
  EXPECT_EQ(broker_->Published().size(), 5u);
}

TEST_F(EmitterTest, BadRowsAreCountedAndSkipped) {
  EmitterOptions o;
  o.csv = Write(std::string(kHeader) + Row(0, "1") + Row(1, "not-a-number") +
                Row(2, "3") + "too,few,fields\n");
  o.loops = 1;
  Emitter emitter(o, publisher_.get(), nullptr);
  ASSERT_OK(emitter.Run(stop_));
  ASSERT_OK(publisher_->Flush(milliseconds(5000)));
  EXPECT_EQ(broker_->Published().size(), 2u);
  EXPECT_EQ(emitter.counters().rejected.load(), 2u);
}

TEST_F(EmitterTest, MissingColumnStopsStartUp) {
  EmitterOptions o;
  o.csv = Write("timestamp,metric_name,gpu_id,value\n1,2,3,4\n");
  Emitter emitter(o, publisher_.get(), nullptr);
  Status s = emitter.Open();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("uuid"), std::string::npos) << s.ToString();
  EXPECT_TRUE(broker_->Requests("/v1/publish").empty());
}

TEST_F(EmitterTest, ShardEmitsItsRowsOnly) {
  EmitterOptions o;
  o.csv =
      Write(std::string(kHeader) + Row(0, "1") + Row(1, "2") + Row(2, "3") + Row(3, "4"));
  o.loops = 1;
  o.shard = ShardSpec{1, 2};
  Emitter emitter(o, publisher_.get(), nullptr);
  ASSERT_OK(emitter.Run(stop_));
  ASSERT_OK(publisher_->Flush(milliseconds(5000)));
  std::set<std::string> keys;
  for (const auto& m : broker_->Published()) {
    keys.insert(m["key"].get<std::string>());
  }
  EXPECT_EQ(keys, (std::set<std::string>{"GPU-1", "GPU-3"}));
}

TEST_F(EmitterTest, RateLimitsAndStopsOnRequest) {
  EmitterOptions o;
  o.csv = Write(std::string(kHeader) + Row(0, "1"));
  o.rate = 50;  // forever at 50/s until stopped
  Emitter emitter(o, publisher_.get(), nullptr);
  std::thread stopper([this] {
    std::this_thread::sleep_for(milliseconds(400));
    stop_ = true;
  });
  const auto start = std::chrono::steady_clock::now();
  ASSERT_OK(emitter.Run(stop_));
  stopper.join();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, milliseconds(1500));
  const auto emitted = emitter.counters().emitted.load();
  EXPECT_GE(emitted, 10u);
  EXPECT_LE(emitted, 30u);  // ~5 burst + 50/s * 0.4 s
}

TEST_F(EmitterTest, ThrottlingSlowsDownButLosesNothing) {
  ScriptedAnswer busy{429};
  busy.retry_after = "0";
  broker_->Script("/v1/publish", {busy, busy, busy});
  EmitterOptions o;
  o.csv = Write(std::string(kHeader) + Row(0, "1") + Row(1, "2"));
  o.loops = 3;
  Emitter emitter(o, publisher_.get(), nullptr);
  ASSERT_OK(emitter.Run(stop_));
  ASSERT_OK(publisher_->Flush(milliseconds(5000)));
  EXPECT_EQ(broker_->Published().size(), 6u);
  EXPECT_GE(publisher_->Stats().throttled, 3u);
}

}  // namespace
}  // namespace tp::streamer
