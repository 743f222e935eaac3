// Two `broker reader` processes on one writer whose partition ranges change under a
// publish and consume load (--membership-file, re-read on change): reader 0 owns
// everything, then the range splits, then the halves swap, then reader 1 takes all and
// reader 0 is drained away (SIGTERM). Every published message is acked at least once;
// duplicates (two readers briefly owning a partition) are allowed and counted. And a
// reader that finds its writers through `--writers dns:NAME:PORT`.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "broker_processes.h"
#include "tp/http/client.h"
#include "tp/testing/child_process.h"
#include "tp/testing/testing.h"

namespace tp::broker {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using testing::AckMessages;
using testing::Delivery;
using testing::LeaseMessages;
using testing::LoopbackUrl;
using testing::PollUntil;
using testing::PublishBatch;
using testing::WaitFor200;
using testing::WaitFullyCommitted;

constexpr uint32_t kPartitions = 8;

// Replaces the file in one rename, so a reader never sees half of it.
void WriteMembership(const std::filesystem::path& path, int ordinal, int replicas) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  std::ofstream(tmp, std::ios::trunc)
      << R"({"ordinal":)" << ordinal << R"(,"replicas":)" << replicas << "}";
  std::filesystem::rename(tmp, path);
}

TEST(ReaderRescaleTest, RangesChangeUnderLoadAndNothingIsLost) {
  TempDir dir = tp::testing::MakeTempDir("broker-reader-rescale-");
  const int writer_port = tp::testing::FreeLoopbackPort();
  const std::string writer_url = LoopbackUrl(writer_port);
  tp::testing::ChildProcess writer(
      testing::WriterArgv(writer_port, (dir.path() / "log").string(), kPartitions),
      dir.path() / "writer.log");
  ASSERT_TRUE(WaitFor200(writer_url, "/readyz", milliseconds(20000))) << writer.Stderr();

  // Reader 0 owns everything; reader 1 has no membership file yet, so it owns nothing.
  std::filesystem::path files[2] = {dir.path() / "reader-0.json",
                                    dir.path() / "reader-1.json"};
  WriteMembership(files[0], 0, 1);
  int ports[2];
  std::optional<tp::testing::ChildProcess> readers[2];
  for (int r = 0; r < 2; ++r) {
    ports[r] = tp::testing::FreeLoopbackPort();
    readers[r].emplace(testing::ReaderArgv(ports[r],
                                           writer_url,
                                           {"--membership-file",
                                            files[r].string(),
                                            "--membership-refresh-ms",
                                            "50",
                                            "--drain-timeout-seconds",
                                            "5"}),
                       dir.path() / ("reader-" + std::to_string(r) + ".log"));
  }
  ASSERT_TRUE(WaitFor200(LoopbackUrl(ports[0]), "/readyz", milliseconds(20000)))
      << readers[0]->Stderr();
  ASSERT_TRUE(WaitFor200(LoopbackUrl(ports[1]), "/healthz", milliseconds(20000)))
      << readers[1]->Stderr();
  EXPECT_FALSE(WaitFor200(LoopbackUrl(ports[1]), "/readyz", milliseconds(100)))
      << "reader 1 has no assignment yet";

  std::mutex mu;
  std::set<std::string> published;  // answered 200
  std::set<std::string> acked;
  uint64_t acked_by[2] = {0, 0};
  uint64_t duplicates = 0;  // acked again after an earlier ack
  std::atomic<bool> stop_publishing{false};
  std::atomic<bool> stop_consuming{false};

  std::thread publisher([&] {
    auto client = http::Client::Create(writer_url);
    if (!client.ok()) {
      return;
    }
    // Bounded: at most 600 batches of 10.
    for (int i = 0; i < 600 && !stop_publishing; ++i) {
      auto ids = PublishBatch(**client, 10, "rescale");
      if (ids.ok()) {
        std::lock_guard lock(mu);
        published.insert(ids->begin(), ids->end());
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
  });
  std::vector<std::thread> consumers;
  for (int r = 0; r < 2; ++r) {
    consumers.emplace_back([&, r] {
      auto client = http::Client::Create(LoopbackUrl(ports[r]));
      if (!client.ok()) {
        return;
      }
      while (!stop_consuming) {
        auto lease = LeaseMessages(**client, "c" + std::to_string(r), 50, 5, 100);
        if (!lease.ok()) {  // draining (503) or gone
          std::this_thread::sleep_for(milliseconds(50));
          continue;
        }
        if (lease->messages.empty()) {
          continue;
        }
        auto a = AckMessages(**client, lease->lease_id);
        if (a.ok() && *a == static_cast<int64_t>(lease->messages.size())) {
          std::lock_guard lock(mu);
          for (const Delivery& d : lease->messages) {
            duplicates += acked.insert(d.msg_uuid).second ? 0 : 1;
          }
          acked_by[r] += lease->messages.size();
        }
      }
    });
  }

  std::this_thread::sleep_for(milliseconds(800));
  WriteMembership(files[1], 1, 2);  // split: 0 keeps [0, 4), 1 takes [4, 8)
  WriteMembership(files[0], 0, 2);
  std::this_thread::sleep_for(milliseconds(1500));
  WriteMembership(files[0], 1, 2);  // swap the halves
  WriteMembership(files[1], 0, 2);
  std::this_thread::sleep_for(milliseconds(1500));
  WriteMembership(files[1], 0, 1);  // back to one reader: 1 takes all, 0 drains away
  std::this_thread::sleep_for(milliseconds(200));
  const int status = readers[0]->TerminateAndWait(milliseconds(15000));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "status " << status << "\n"
      << readers[0]->Stderr();
  std::this_thread::sleep_for(milliseconds(800));
  stop_publishing = true;
  publisher.join();

  const bool complete = PollUntil(milliseconds(30000), [&] {
    std::lock_guard lock(mu);
    return std::includes(acked.begin(), acked.end(), published.begin(), published.end());
  });
  stop_consuming = true;
  for (auto& th : consumers) {
    th.join();
  }
  size_t missing = 0;
  for (const auto& id : published) {
    missing += acked.count(id) == 0 ? 1 : 0;
  }
  std::printf(
      "%zu published (answered 200), %zu acked, %zu missing, %llu duplicate acks; "
      "acked by reader 0: %llu, by reader 1: %llu\n",
      published.size(),
      acked.size(),
      missing,
      static_cast<unsigned long long>(duplicates),
      static_cast<unsigned long long>(acked_by[0]),
      static_cast<unsigned long long>(acked_by[1]));
  EXPECT_TRUE(complete) << "reader 0:\n"
                        << testing::Tail(readers[0]->Stderr()) << "\nreader 1:\n"
                        << testing::Tail(readers[1]->Stderr());
  EXPECT_EQ(missing, 0u);
  EXPECT_GT(published.size(), 0u);
  EXPECT_GT(acked_by[0], 0u);
  EXPECT_GT(acked_by[1], 0u);
  // Both readers applied every assignment they were given.
  const std::string log0 = readers[0]->Stderr();
  const std::string log1 = readers[1]->Stderr();
  for (const char* a :
       {"ordinal=0 replicas=1", "ordinal=0 replicas=2", "ordinal=1 replicas=2"}) {
    EXPECT_NE(log0.find(a), std::string::npos) << a << "\n" << log0;
  }
  for (const char* a :
       {"ordinal=1 replicas=2", "ordinal=0 replicas=2", "ordinal=0 replicas=1"}) {
    EXPECT_NE(log1.find(a), std::string::npos) << a << "\n" << log1;
  }

  // Reader 1 alone commits every partition to its end once the rest is acked.
  auto client = http::Client::Create(LoopbackUrl(ports[1]));
  auto writer_client = http::Client::Create(writer_url);
  ASSERT_TRUE(client.ok() && writer_client.ok());
  EXPECT_TRUE(PollUntil(milliseconds(15000), [&] {
    auto lease = LeaseMessages(**client, "final", 500, 30, 100);
    if (lease.ok() && !lease->lease_id.empty()) {
      (void)AckMessages(**client, lease->lease_id);
    }
    return WaitFullyCommitted(**writer_client, milliseconds(0));
  }));
}

// `--writers dns:NAME:PORT` end to end: the reader resolves NAME (here the loopback
// name, which needs no network), replays the writer it finds and commits to it.
TEST(ReaderRescaleTest, DnsWritersAreResolvedAndReplayed) {
  TempDir dir = tp::testing::MakeTempDir("broker-reader-dns-");
  const int writer_port = tp::testing::FreeLoopbackPort();
  const int reader_port = tp::testing::FreeLoopbackPort();
  tp::testing::ChildProcess writer(
      testing::WriterArgv(writer_port, (dir.path() / "log").string(), kPartitions),
      dir.path() / "writer.log");
  ASSERT_TRUE(WaitFor200(LoopbackUrl(writer_port), "/readyz", milliseconds(20000)))
      << writer.Stderr();
  tp::testing::ChildProcess reader(
      testing::ReaderArgv(
          reader_port,
          "dns:localhost:" + std::to_string(writer_port),
          {"--ordinal", "0", "--replicas", "1", "--writers-refresh-ms", "100"}),
      dir.path() / "reader.log");
  ASSERT_TRUE(WaitFor200(LoopbackUrl(reader_port), "/readyz", milliseconds(20000)))
      << reader.Stderr();
  auto writer_client = http::Client::Create(LoopbackUrl(writer_port));
  auto reader_client = http::Client::Create(LoopbackUrl(reader_port));
  ASSERT_TRUE(writer_client.ok() && reader_client.ok());
  auto ids = PublishBatch(**writer_client, 20, "dns");
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  std::set<std::string> acked;
  EXPECT_TRUE(PollUntil(milliseconds(20000), [&] {
    auto lease = LeaseMessages(**reader_client, "c", 50, 30, 200);
    if (lease.ok() && !lease->lease_id.empty()) {
      auto a = AckMessages(**reader_client, lease->lease_id);
      if (a.ok()) {
        for (const Delivery& d : lease->messages) {
          acked.insert(d.msg_uuid);
        }
      }
    }
    return acked.size() == ids->size();
  })) << reader.Stderr();
  EXPECT_TRUE(WaitFullyCommitted(**writer_client, milliseconds(10000)));
  EXPECT_NE(reader.Stderr().find(
                "writer http://127.0.0.1:" + std::to_string(writer_port) + " added"),
            std::string::npos)
      << reader.Stderr();
}

}  // namespace
}  // namespace tp::broker
