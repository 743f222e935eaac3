// SIGKILL a `broker reader` that holds leases, start a new one on the same writer, and
// check at-least-once delivery: every message not acked is delivered again, nothing
// below the committed offsets is, and once everything is acked the writer's committed
// offsets reach the end of every partition. Then the same under a publish and consume
// load with kills at random moments: no message whose publish was answered 200 is
// missing from the acked deliveries.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

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
using testing::TelemetryOffsets;
using testing::WaitFor200;
using testing::WaitFullyCommitted;

constexpr uint32_t kPartitions = 8;

class ReaderCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    writer_port_ = tp::testing::FreeLoopbackPort();
    reader_port_ = tp::testing::FreeLoopbackPort();
    writer_.emplace(
        testing::WriterArgv(writer_port_, (dir_.path() / "log").string(), kPartitions),
        dir_.path() / "writer.log");
    ASSERT_TRUE(WaitFor200(LoopbackUrl(writer_port_), "/readyz", milliseconds(20000)))
        << writer_->Stderr();
    auto w = http::Client::Create(LoopbackUrl(writer_port_));
    ASSERT_TRUE(w.ok());
    writer_client_ = std::move(w).value();
    auto r = http::Client::Create(LoopbackUrl(reader_port_));
    ASSERT_TRUE(r.ok());
    reader_client_ = std::move(r).value();
  }

  // Starts a reader that owns every partition, on the port of the previous one, and
  // waits until it is ready.
  void StartReader() {
    reader_.reset();
    reader_.emplace(
        testing::ReaderArgv(
            reader_port_,
            LoopbackUrl(writer_port_),
            {"--ordinal", "0", "--replicas", "1", "--max-attempts", "50"}),
        dir_.path() / ("reader-" + std::to_string(++readers_started_) + ".log"));
    ASSERT_TRUE(WaitFor200(LoopbackUrl(reader_port_), "/readyz", milliseconds(20000)))
        << reader_->Stderr();
  }

  // Leases and acks whatever is left until the writer's committed offsets reach the end
  // of every partition.
  bool AckRestUntilFullyCommitted(milliseconds timeout) {
    return PollUntil(timeout, [&] {
      auto lease = LeaseMessages(*reader_client_, "final", 500, 30, 100);
      if (lease.ok() && !lease->lease_id.empty()) {
        (void)AckMessages(*reader_client_, lease->lease_id);
      }
      return WaitFullyCommitted(*writer_client_, milliseconds(0));
    });
  }

  TempDir dir_ = tp::testing::MakeTempDir("broker-reader-crash-");
  int writer_port_ = 0;
  int reader_port_ = 0;
  int readers_started_ = 0;
  std::optional<tp::testing::ChildProcess> writer_;
  std::optional<tp::testing::ChildProcess> reader_;
  std::unique_ptr<http::Client> writer_client_;
  std::unique_ptr<http::Client> reader_client_;
};

TEST_F(ReaderCrashTest, UnackedMessagesAreDeliveredAgainAfterKill) {
  constexpr int kMessages = 200;
  std::set<std::string> published;
  for (int b = 0; b < kMessages / 10; ++b) {
    auto ids = PublishBatch(*writer_client_, 10, "before-kill");
    ASSERT_TRUE(ids.ok()) << ids.status().ToString();
    published.insert(ids->begin(), ids->end());
  }
  ASSERT_NO_FATAL_FAILURE(StartReader());

  // Lease everything under long leases; ack two messages of every three.
  std::map<std::string, Delivery> delivered;
  std::set<std::string> acked;
  int n = 0;
  ASSERT_TRUE(PollUntil(milliseconds(20000), [&] {
    auto lease = LeaseMessages(*reader_client_, "c1", 50, 60, 500);
    EXPECT_TRUE(lease.ok()) << lease.status().ToString();
    if (!lease.ok()) {
      return true;
    }
    std::vector<std::string> to_ack;
    for (const Delivery& d : lease->messages) {
      EXPECT_EQ(d.attempt, 1);
      EXPECT_EQ(published.count(d.msg_uuid), 1u) << d.msg_uuid;
      EXPECT_TRUE(delivered.emplace(d.msg_uuid, d).second) << "twice: " << d.msg_uuid;
      if (n++ % 3 != 0) {
        to_ack.push_back(d.msg_uuid);
      }
    }
    if (!to_ack.empty()) {
      auto a = AckMessages(*reader_client_, lease->lease_id, to_ack);
      EXPECT_TRUE(a.ok()) << a.status().ToString();
      if (a.ok()) {
        EXPECT_EQ(*a, static_cast<int64_t>(to_ack.size()));
        acked.insert(to_ack.begin(), to_ack.end());
      }
    }
    return delivered.size() == published.size();
  }));
  ASSERT_FALSE(HasFailure());

  // Committed offsets stop at the lowest unacked offset of each partition.
  std::map<uint32_t, uint64_t> lowest_unacked;
  for (const auto& [id, d] : delivered) {
    if (acked.count(id) == 0) {
      auto [it, inserted] = lowest_unacked.emplace(d.partition, d.offset);
      it->second = std::min(it->second, d.offset);
    }
  }
  std::string last_seen;
  const bool at_prefix = PollUntil(milliseconds(10000), [&] {
    auto offsets = TelemetryOffsets(*writer_client_);
    if (!offsets.ok()) {
      return false;
    }
    last_seen.clear();
    bool all = true;
    for (const auto& [p, o] : *offsets) {
      const uint64_t want = lowest_unacked.count(p) != 0 ? lowest_unacked[p] : o.next;
      last_seen += " p" + std::to_string(p) + "=" +
                   std::to_string(o.committed.value_or(0)) + "/" + std::to_string(want);
      all = all && o.committed.value_or(0) == want;
    }
    return all;
  });
  ASSERT_TRUE(at_prefix) << "committed/expected:" << last_seen;

  reader_->KillAndWait();
  auto at_kill = TelemetryOffsets(*writer_client_);
  ASSERT_TRUE(at_kill.ok());
  std::set<std::string> expected;  // at or above the committed offset
  for (const auto& [id, d] : delivered) {
    if (d.offset >= at_kill->at(d.partition).committed.value_or(0)) {
      expected.insert(id);
    }
  }
  ASSERT_NO_FATAL_FAILURE(StartReader());

  // The first lease of the new reader is left to expire: its messages come once more,
  // with attempt 2. Every other delivery is a first attempt of this reader.
  auto first = LeaseMessages(*reader_client_, "c2", 5, 1, 5000);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_FALSE(first->messages.empty());
  std::set<std::string> expiring;
  std::map<std::string, std::vector<int>> again;  // msg_uuid -> attempts
  for (const Delivery& d : first->messages) {
    expiring.insert(d.msg_uuid);
    again[d.msg_uuid].push_back(d.attempt);
  }
  auto complete = [&] {
    if (again.size() < expected.size()) {
      return false;
    }
    for (const auto& id : expiring) {
      if (again[id].size() < 2) {
        return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(PollUntil(milliseconds(20000), [&] {
    auto lease = LeaseMessages(*reader_client_, "c2", 50, 60, 300);
    EXPECT_TRUE(lease.ok()) << lease.status().ToString();
    if (!lease.ok()) {
      return true;
    }
    for (const Delivery& d : lease->messages) {
      again[d.msg_uuid].push_back(d.attempt);
    }
    if (!lease->lease_id.empty()) {
      auto a = AckMessages(*reader_client_, lease->lease_id);
      EXPECT_TRUE(a.ok()) << a.status().ToString();
    }
    return complete();
  }));
  ASSERT_FALSE(HasFailure());

  size_t unacked_missing = 0;
  size_t duplicates = 0;
  for (const auto& [id, d] : delivered) {
    if (acked.count(id) == 0 && again.count(id) == 0) {
      ++unacked_missing;
      ADD_FAILURE() << "unacked " << id << " (p" << d.partition << "@" << d.offset
                    << ") was not delivered again";
    }
    if (acked.count(id) != 0 && again.count(id) != 0) {
      ++duplicates;
    }
  }
  for (const auto& [id, attempts] : again) {
    EXPECT_EQ(expected.count(id), 1u) << id << " is below the committed offset";
    const std::vector<int> want =
        expiring.count(id) != 0 ? std::vector<int>{1, 2} : std::vector<int>{1};
    EXPECT_EQ(attempts, want) << id;
  }
  std::printf(
      "%zu published, %zu acked before the kill, %zu delivered again (%zu of them "
      "acked before: duplicates), %zu unacked not delivered again\n",
      published.size(),
      acked.size(),
      again.size(),
      duplicates,
      unacked_missing);
  EXPECT_TRUE(AckRestUntilFullyCommitted(milliseconds(10000)));
}

TEST_F(ReaderCrashTest, RandomKillsUnderLoadLoseNoAcknowledgedPublish) {
  ASSERT_NO_FATAL_FAILURE(StartReader());
  std::mutex mu;
  std::set<std::string> published;  // answered 200
  std::set<std::string> acked;      // in a lease whose ack was answered 200
  uint64_t deliveries = 0;
  uint64_t redeliveries = 0;  // attempt > 1 (an expiry within one reader)
  uint64_t duplicate_acks = 0;
  uint64_t failed_acks = 0;  // 404 (lease of a killed reader), 409, connection errors
  std::atomic<bool> stop_publishing{false};
  std::atomic<bool> stop_consuming{false};

  std::vector<std::thread> publishers;
  for (int t = 0; t < 2; ++t) {
    publishers.emplace_back([&, t] {
      auto client = http::Client::Create(LoopbackUrl(writer_port_));
      if (!client.ok()) {
        return;
      }
      // Bounded: at most 1000 batches of 10 per thread.
      for (int i = 0; i < 1000 && !stop_publishing; ++i) {
        auto ids = PublishBatch(**client, 10, "load-" + std::to_string(t));
        if (ids.ok()) {
          std::lock_guard lock(mu);
          published.insert(ids->begin(), ids->end());
        }
        std::this_thread::sleep_for(milliseconds(10));
      }
    });
  }
  std::vector<std::thread> consumers;
  for (int t = 0; t < 2; ++t) {
    consumers.emplace_back([&, t] {
      auto client = http::Client::Create(LoopbackUrl(reader_port_));
      if (!client.ok()) {
        return;
      }
      std::mt19937 rng(static_cast<unsigned>(t) * 7919u + 17u);
      const std::string consumer = "c" + std::to_string(t);
      while (!stop_consuming) {
        auto lease = LeaseMessages(**client, consumer, 50, 1, 200);
        if (!lease.ok()) {  // the reader is down or restarting
          std::this_thread::sleep_for(milliseconds(50));
          continue;
        }
        if (lease->messages.empty()) {
          continue;
        }
        bool first_attempts = true;
        {
          std::lock_guard lock(mu);
          for (const Delivery& d : lease->messages) {
            EXPECT_GE(d.attempt, 1);
            ++deliveries;
            redeliveries += d.attempt > 1 ? 1 : 0;
            first_attempts = first_attempts && d.attempt == 1;
          }
        }
        // One lease in 40 is dropped on first delivery: it expires and comes back.
        if (first_attempts && rng() % 40 == 0) {
          continue;
        }
        auto a = AckMessages(**client, lease->lease_id);
        std::lock_guard lock(mu);
        if (a.ok() && *a == static_cast<int64_t>(lease->messages.size())) {
          for (const Delivery& d : lease->messages) {
            duplicate_acks += acked.insert(d.msg_uuid).second ? 0 : 1;
          }
        } else {
          ++failed_acks;
        }
      }
    });
  }

  std::mt19937_64 rng(std::random_device{}());
  constexpr int kKills = 4;
  for (int k = 0; k < kKills; ++k) {
    std::this_thread::sleep_for(milliseconds(600 + rng() % 900));
    reader_->KillAndWait();
    std::this_thread::sleep_for(milliseconds(rng() % 200));
    StartReader();
    if (HasFatalFailure()) {
      break;
    }
  }
  stop_publishing = true;
  for (auto& th : publishers) {
    th.join();
  }
  auto all_acked = [&] {
    std::lock_guard lock(mu);
    return std::includes(acked.begin(), acked.end(), published.begin(), published.end());
  };
  const bool complete = PollUntil(milliseconds(30000), all_acked);
  stop_consuming = true;
  for (auto& th : consumers) {
    th.join();
  }
  ASSERT_FALSE(HasFatalFailure());

  size_t missing = 0;
  for (const auto& id : published) {
    missing += acked.count(id) == 0 ? 1 : 0;
  }
  std::printf(
      "%d kills: %zu published (answered 200), %zu acked, %zu missing; %llu deliveries, "
      "%llu redeliveries after expiry, %llu acks of an already acked message, %llu "
      "failed acks\n",
      kKills,
      published.size(),
      acked.size(),
      missing,
      static_cast<unsigned long long>(deliveries),
      static_cast<unsigned long long>(redeliveries),
      static_cast<unsigned long long>(duplicate_acks),
      static_cast<unsigned long long>(failed_acks));
  EXPECT_TRUE(complete) << "reader:\n"
                        << testing::Tail(reader_->Stderr()) << "\nwriter:\n"
                        << testing::Tail(writer_->Stderr());
  EXPECT_EQ(missing, 0u);
  EXPECT_GT(published.size(), 0u);
  EXPECT_TRUE(AckRestUntilFullyCommitted(milliseconds(15000)))
      << testing::Tail(reader_->Stderr());
}

}  // namespace
}  // namespace tp::broker
