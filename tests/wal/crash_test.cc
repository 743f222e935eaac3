// Kill -9 test of the log: a child (wal_crash_writer) appends synced batches from
// several threads and reports every acknowledged append on stdout; the parent SIGKILLs
// it at a random moment, reopens the log in-process and checks that every acknowledged
// record is there, intact, at its offset, that offsets have no gaps, and that no batch
// was torn. Then the next child continues on the same directory.
//
// CRASH_TEST_SEED=<n> repeats a run's kill delays and writer choices.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "crash_payload.h"
#include "tp/testing/child_process.h"
#include "tp/testing/testing.h"
#include "wal/store.h"

namespace tp::wal {
namespace {

using namespace std::chrono_literals;

constexpr int kCycles = 30;
constexpr auto kMinKillDelay = 50ms;
constexpr auto kMaxKillDelay = 400ms;
// The whole test stops starting new cycles after this (CTest TIMEOUT is 120 s).
constexpr auto kTimeBudget = 80s;
constexpr auto kOpenTimeout = 30s;

struct AckedAppend {
  uint64_t first = 0;
  uint32_t count = 0;
  int cycle = 0;
};
using AckedLog = std::map<uint32_t, std::vector<AckedAppend>>;

struct CheckCounts {
  uint64_t records_in_log = 0;
  uint64_t records_checked = 0;
};

uint64_t SeedFromEnvironment() {
  if (const char* env = std::getenv("CRASH_TEST_SEED"); env && *env)  // NOLINT
    return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

// Checks partition `p` record by record; REQUIRES records in offset order.
void CheckOwnedRecord(uint32_t p, const Record& r) {
  const uint64_t o = r.offset.value();
  ASSERT_EQ(r.payload, crashtest::OwnedPayload(p, o))
      << "payload of crash/" << p << "@" << o;
  ASSERT_EQ(r.msg_uuid, crashtest::OwnedUuid(p, o))
      << "msg_uuid of crash/" << p << "@" << o;
  ASSERT_EQ(r.key, crashtest::OwnedKey(p, o)) << "key of crash/" << p << "@" << o;
  ASSERT_EQ(r.headers.size(), 1u) << "headers of crash/" << p << "@" << o;
  ASSERT_EQ(r.headers[0].value, crashtest::OwnedHeaderValue(o));
}

// Reopens the log and checks everything it holds against what the children wrote and
// acknowledged.
void CheckLog(const std::filesystem::path& dir,
              const AckedLog& acked,
              CheckCounts* counts) {
  Options options;
  options.maintenance_interval = std::chrono::milliseconds(0);
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(options, dir));
  // Partitions in the log (some may hold only unacknowledged records) and in the acks.
  std::map<uint32_t, std::vector<AckedAppend>> partitions = acked;
  for (const TopicPartition& tp : store->Partitions()) {
    ASSERT_EQ(tp.topic, crashtest::kTopic);
    const uint32_t p = tp.partition.value();
    ASSERT_TRUE(p < crashtest::kOwnedPartitions || p == crashtest::kSharedPartition) << p;
    partitions[p];
  }
  for (const auto& [p, appends] : partitions) {
    const TopicPartition tp{crashtest::kTopic, PartitionId(p)};
    ASSERT_OK_AND_ASSIGN(PartitionStats stats, store->Stats(tp));
    ASSERT_EQ(stats.first, Offset(0)) << "nothing trims this log";
    const uint64_t next = stats.next.value();
    for (const AckedAppend& a : appends) {
      ASSERT_LE(a.first + a.count, next)
          << "crash/" << p << ": append [" << a.first << ", " << a.first + a.count
          << ") acknowledged in cycle " << a.cycle << " is missing after the kill";
    }
    // Every stored record, acked or not, must be one the children wrote: contiguous
    // offsets, exact content, whole batches.
    uint64_t pos = 0;
    std::optional<crashtest::SharedId> batch;  // shared partition: the open batch
    std::map<uint64_t, crashtest::SharedId> shared_at;  // first offset -> batch
    // Bounded: each pass advances pos by at least one record or fails.
    while (pos < next) {
      ASSERT_OK_AND_ASSIGN(auto records,
                           store->Read(tp, Offset(pos), {.max_records = 10000}));
      ASSERT_FALSE(records.empty())
          << "crash/" << p << ": no record at " << pos << " below next offset " << next;
      for (const Record& r : records) {
        ASSERT_EQ(r.offset, Offset(pos)) << "crash/" << p << ": gap in offsets";
        if (p == crashtest::kSharedPartition) {
          auto id = crashtest::ParseSharedPayload(r.payload);
          ASSERT_TRUE(id.has_value()) << "crash/" << p << "@" << pos << " is damaged";
          if (id->index == 0) {
            ASSERT_FALSE(batch.has_value())
                << "crash/" << p << "@" << pos << ": batch before it is torn";
            batch = id;
            shared_at[pos] = *id;
          } else {
            ASSERT_TRUE(batch.has_value()) << "crash/" << p << "@" << pos;
            ASSERT_EQ(id->run, batch->run);
            ASSERT_EQ(id->thread, batch->thread);
            ASSERT_EQ(id->batch, batch->batch);
            ASSERT_EQ(id->count, batch->count);
          }
          ASSERT_EQ(id->index + 1 <= id->count, true);
          if (id->index + 1 == id->count)
            batch.reset();
        } else {
          ASSERT_NO_FATAL_FAILURE(CheckOwnedRecord(p, r));
        }
        ++pos;
        ++counts->records_checked;
      }
    }
    ASSERT_FALSE(batch.has_value()) << "crash/" << p << ": last batch is torn";
    if (p == crashtest::kSharedPartition) {
      for (const AckedAppend& a : appends) {
        auto it = shared_at.find(a.first);
        ASSERT_NE(it, shared_at.end()) << "acked shared batch at " << a.first;
        ASSERT_EQ(it->second.count, a.count) << "acked shared batch at " << a.first;
      }
    }
    counts->records_in_log += next;
  }
  const VerifyReport report = store->Verify();
  ASSERT_TRUE(report.ok()) << (report.corrupt.empty() ? report.problems.front()
                                                      : report.corrupt.front().reason);
}

TEST(CrashTest, AcknowledgedAppendsSurviveSigkill) {
  const uint64_t seed = SeedFromEnvironment();
  std::printf("crash test seed %" PRIu64 " (CRASH_TEST_SEED=%" PRIu64 " repeats it)\n",
              seed,
              seed);
  std::mt19937_64 rng(seed);
  TempDir tmp = testing::MakeTempDir("wal-crash-");
  const auto dir = tmp.path() / "log";
  const auto writer = testing::BinDir() / "wal_crash_writer";
  ASSERT_TRUE(std::filesystem::exists(writer)) << writer;

  AckedLog acked;
  uint64_t total_acked = 0;
  uint64_t total_checked = 0;
  int cycles = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    if (std::chrono::steady_clock::now() - start > kTimeBudget)
      break;
    const uint32_t threads = 2 + static_cast<uint32_t>(rng() % 3);
    const auto delay =
        kMinKillDelay +
        std::chrono::milliseconds(rng() % (kMaxKillDelay - kMinKillDelay + 1ms).count());
    const auto ready = tmp.path() / "writer.ready";
    std::filesystem::remove(ready);
    testing::ChildProcess child({writer.string(),
                                 "--dir",
                                 dir.string(),
                                 "--run",
                                 std::to_string(cycle),
                                 "--threads",
                                 std::to_string(threads),
                                 "--seed",
                                 std::to_string(seed + cycle),
                                 "--max-seconds",
                                 "20",
                                 "--ready-file",
                                 ready.string()},
                                tmp.path() / "writer.stderr");
    // Odd cycles count the delay from the start of the process, so some kills land while
    // RocksDB recovers the log; even ones from the open log, so appends are killed too
    // when a sanitizer on a loaded machine makes the start alone outlast every delay
    // (a whole run once acknowledged nothing).
    const bool from_open = cycle % 2 == 0;
    if (from_open) {
      const auto open_deadline = std::chrono::steady_clock::now() + kOpenTimeout;
      while (!std::filesystem::exists(ready) &&
             std::chrono::steady_clock::now() < open_deadline)
        std::this_thread::sleep_for(2ms);
      ASSERT_TRUE(std::filesystem::exists(ready))
          << "the writer did not open the log within " << kOpenTimeout.count()
          << " s: " << child.Stderr();
    }
    std::this_thread::sleep_for(delay);
    const int status = child.KillAndWait();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the writer ended before it was killed (status " << status
        << "): " << child.Stderr();

    uint64_t cycle_records = 0;
    const auto lines = child.Lines();
    for (const std::string& line : lines) {
      unsigned partition = 0;
      unsigned long long first = 0;
      unsigned count = 0;
      ASSERT_EQ(std::sscanf(line.c_str(), "%u %llu %u", &partition, &first, &count), 3)
          << "bad ack line '" << line << "'";
      acked[partition].push_back({first, count, cycle});
      cycle_records += count;
    }
    total_acked += cycle_records;

    CheckCounts counts;
    const auto check_start = std::chrono::steady_clock::now();
    ASSERT_NO_FATAL_FAILURE(CheckLog(dir, acked, &counts)) << "after cycle " << cycle;
    const auto check_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - check_start);
    std::printf(
        "cycle %2d: %u threads, killed %3lld ms after its %s: %4zu appends, %6" PRIu64
        " records acknowledged; log holds %7" PRIu64 " records, all checked in %lld ms\n",
        cycle,
        threads,
        static_cast<long long>(delay.count()),
        from_open ? "open" : "start",
        lines.size(),
        cycle_records,
        counts.records_in_log,
        static_cast<long long>(check_ms.count()));
    std::fflush(stdout);
    total_checked += counts.records_checked;
    ++cycles;
  }
  const auto total_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::printf("%d kill cycles, %" PRIu64 " acknowledged records, %" PRIu64
              " record checks after reopen, %lld ms\n",
              cycles,
              total_acked,
              total_checked,
              static_cast<long long>(total_ms.count()));
  EXPECT_GE(cycles, 20);
  EXPECT_GT(total_acked, 0u);
}

// RocksDB creates a new database in steps (LOG, LOCK, 000000.dbtmp, MANIFEST, then
// CURRENT). A process killed before CURRENT exists leaves e.g. {LOG} or
// {000000.dbtmp, LOCK, LOG}; reopening must finish the creation, or a broker killed
// during its first start could never restart. These leftovers are the ones observed
// after SIGKILLing wal_crash_writer 5..45 ms after its start.
TEST(CrashTest, OpenAfterKillDuringCreation) {
  TempDir tmp = testing::MakeTempDir("wal-create-");
  const std::vector<std::vector<std::string>> leftovers = {
      {"LOG"}, {"000000.dbtmp", "LOCK", "LOG"}};
  for (size_t i = 0; i < leftovers.size(); ++i) {
    const auto dir = tmp.path() / ("log" + std::to_string(i));
    std::filesystem::create_directories(dir);
    for (const std::string& name : leftovers[i])
      std::ofstream(dir / name) << (name == "LOG" ? "RocksDB version: 7.8.3\n" : "");
    Options options;
    options.maintenance_interval = std::chrono::milliseconds(0);
    auto store = Store::Open(options, dir);
    EXPECT_TRUE(store.ok()) << "leftover " << i << ": " << store.status().ToString();
  }
}

// The same, by killing real writers early in their first Open (bounded: 60 tries of at
// most ~50 ms each).
TEST(CrashTest, OpenAfterKillDuringCreationRealKills) {
  TempDir tmp = testing::MakeTempDir("wal-create-");
  const auto writer = testing::BinDir() / "wal_crash_writer";
  std::mt19937_64 rng(SeedFromEnvironment());
  int refused = 0;
  for (int i = 0; i < 60; ++i) {
    const auto dir = tmp.path() / ("log" + std::to_string(i));
    testing::ChildProcess child(
        {writer.string(), "--dir", dir.string(), "--threads", "1", "--max-seconds", "2"},
        tmp.path() / "writer.stderr");
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 41));
    child.KillAndWait();
    if (!std::filesystem::exists(dir) || std::filesystem::exists(dir / "CURRENT"))
      continue;
    Options options;
    options.maintenance_interval = std::chrono::milliseconds(0);
    auto store = Store::Open(options, dir);
    if (!store.ok()) {
      ++refused;
      ADD_FAILURE() << store.status().ToString();
    }
  }
  std::printf("%d of 60 early kills left a directory Store::Open refuses\n", refused);
}

}  // namespace
}  // namespace tp::wal
