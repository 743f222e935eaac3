// SIGKILL a `broker writer` process during a publish load, restart it on the same data
// directory, and check that every message whose publish was answered 200 is in the log.

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "broker/writer.h"
#include "tp/http/client.h"
#include "tp/testing/child_process.h"
#include "tp/testing/testing.h"

namespace tp::broker {
namespace {

using std::chrono::milliseconds;

bool WaitReady(http::Client& client, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = client.Request("GET", "/readyz", {}, {}, {}, milliseconds(500));
    if (r.ok() && r->status == 200)
      return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return false;
}

TEST(WriterCrashTest, EveryAcknowledgedPublishSurvivesKill) {
  TempDir dir = testing::MakeTempDir("broker-crash-");
  const std::string port = std::to_string(testing::FreeLoopbackPort());
  const std::string url = "http://127.0.0.1:" + port;
  const std::vector<std::string> argv = {(testing::BinDir() / "broker").string(),
                                         "--log-format",
                                         "text",
                                         "writer",
                                         "--listen",
                                         "127.0.0.1:" + port,
                                         "--data-dir",
                                         (dir.path() / "log").string(),
                                         "--partitions",
                                         "8"};
  std::mt19937_64 rng(std::random_device{}());
  std::set<std::string> acknowledged;
  constexpr int kCycles = 5;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    testing::ChildProcess broker(argv, dir.path() / "broker.log");
    auto probe = http::Client::Create(url);
    ASSERT_TRUE(probe.ok());
    ASSERT_TRUE(WaitReady(**probe, milliseconds(20000))) << broker.Stderr();

    std::mutex mu;
    std::atomic<bool> stop{false};
    std::vector<std::thread> publishers;
    for (int t = 0; t < 4; ++t) {
      publishers.emplace_back([&, t] {
        auto client = http::Client::Create(url);
        if (!client.ok())
          return;
        // Bounded: at most 500 requests per thread per cycle.
        for (int i = 0; i < 500 && !stop; ++i) {
          std::vector<std::string> ids;
          nlohmann::json msgs = nlohmann::json::array();
          for (int j = 0; j < 10; ++j) {
            ids.push_back(Uuid::NewV7().ToString());
            msgs.push_back({{"key", "GPU-" + std::to_string(t) + "-" + std::to_string(j)},
                            {"msg_uuid", ids.back()},
                            {"payload", {{"cycle", cycle}, {"i", i}}}});
          }
          auto r = (*client)->Request(
              "POST",
              "/v1/publish",
              nlohmann::json({{"topic", "telemetry"}, {"messages", msgs}}).dump(),
              "application/json",
              {},
              milliseconds(2000));
          if (r.ok() && r->status == 200) {
            std::lock_guard lock(mu);
            acknowledged.insert(ids.begin(), ids.end());
          }
        }
      });
    }
    std::this_thread::sleep_for(milliseconds(200 + rng() % 600));
    broker.KillAndWait();
    stop = true;
    for (auto& th : publishers)
      th.join();
  }
  ASSERT_GT(acknowledged.size(), 0u);

  // Restart once more and read every partition from the start.
  testing::ChildProcess broker(argv, dir.path() / "broker.log");
  auto probe = http::Client::Create(url);
  ASSERT_TRUE(probe.ok());
  ASSERT_TRUE(WaitReady(**probe, milliseconds(20000))) << broker.Stderr();
  auto source = MakeHttpLogSource(url);
  ASSERT_TRUE(source.ok());
  std::set<std::string> stored;
  for (uint32_t p = 0; p < 8; ++p) {
    uint64_t from = 0;
    for (int round = 0; round < 10000; ++round) {  // bounded
      FetchRequest req;
      req.topic = "telemetry";
      req.partitions.push_back({p, from});
      auto res = (*source)->Fetch(req);
      ASSERT_TRUE(res.ok()) << res.status().ToString();
      const auto& part = res->partitions.at(0);
      ASSERT_TRUE(part.error.empty()) << part.error;
      if (part.records.empty())
        break;
      for (const auto& r : part.records) {
        ASSERT_EQ(r.offset, from) << "offsets must be contiguous";
        stored.insert(r.msg_uuid.ToString());
        ++from;
      }
    }
  }
  size_t missing = 0;
  for (const auto& id : acknowledged)
    missing += stored.count(id) == 0 ? 1 : 0;
  std::printf(
      "%d kills: %zu messages acknowledged, %zu stored, %zu acknowledged but missing\n",
      kCycles,
      acknowledged.size(),
      stored.size(),
      missing);
  EXPECT_EQ(missing, 0u);
}

}  // namespace
}  // namespace tp::broker
