#include "wal/store.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tp/testing/testing.h"

namespace tp::wal {
namespace {

const TopicPartition kTp{"telemetry", PartitionId(3)};

std::vector<std::string> Payloads(int n, const std::string& prefix, size_t pad = 0) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back(prefix + std::to_string(i) + std::string(pad, 'x'));
  return out;
}

std::vector<RecordInput> Inputs(const std::vector<std::string>& payloads,
                                std::vector<Uuid>* uuids = nullptr) {
  std::vector<RecordInput> out;
  for (const auto& p : payloads) {
    Uuid id = Uuid::NewV7();
    if (uuids)
      uuids->push_back(id);
    out.push_back(RecordInput{id, "GPU-key", p, {}});
  }
  return out;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { options_.maintenance_interval = std::chrono::milliseconds(0); }

  std::unique_ptr<Store> OpenStore() {
    auto store = Store::Open(options_, dir_.path() / "log");
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  void AppendN(Store& store, const TopicPartition& tp, int n, size_t pad = 0) {
    auto payloads = Payloads(n, "p", pad);
    auto inputs = Inputs(payloads);
    ASSERT_TRUE(store.Append(tp, inputs).ok());
  }

  TempDir dir_ = testing::MakeTempDir("wal-store-");
  Options options_;
};

TEST_F(StoreTest, AppendAssignsConsecutiveOffsetsAndReadsBack) {
  auto store = OpenStore();
  std::vector<Uuid> uuids;
  auto payloads = Payloads(5, "row-");
  auto inputs = Inputs(payloads, &uuids);
  std::vector<Header> headers = {{"content-type", "application/json"}};
  inputs[2].headers = headers;
  ASSERT_OK_AND_ASSIGN(AppendResult first, store->Append(kTp, inputs));
  EXPECT_EQ(first.first, Offset(0));
  EXPECT_EQ(first.count, 5u);
  ASSERT_OK_AND_ASSIGN(AppendResult second,
                       store->Append(kTp, Inputs(Payloads(2, "more-"))));
  EXPECT_EQ(second.first, Offset(5));

  ASSERT_OK_AND_ASSIGN(auto records, store->Read(kTp, Offset(0)));
  ASSERT_EQ(records.size(), 7u);
  for (size_t i = 0; i < records.size(); ++i)
    EXPECT_EQ(records[i].offset, Offset(i));
  EXPECT_EQ(records[0].payload, "row-0");
  EXPECT_EQ(records[0].msg_uuid, uuids[0]);
  EXPECT_EQ(records[0].key, "GPU-key");
  EXPECT_EQ(records[2].headers, headers);
  EXPECT_EQ(records[6].payload, "more-1");
  const auto age = std::chrono::system_clock::now() - records[0].publish_time;
  EXPECT_GE(age, std::chrono::seconds(0));
  EXPECT_LT(age, std::chrono::seconds(60));
}

TEST_F(StoreTest, ReadHonoursLimitsAndBounds) {
  auto store = OpenStore();
  AppendN(*store, kTp, 10, 100);
  ASSERT_OK_AND_ASSIGN(auto three, store->Read(kTp, Offset(4), {.max_records = 3}));
  ASSERT_EQ(three.size(), 3u);
  EXPECT_EQ(three.front().offset, Offset(4));
  // max_bytes below one record still returns that record.
  ASSERT_OK_AND_ASSIGN(auto one, store->Read(kTp, Offset(0), {.max_bytes = 1}));
  EXPECT_EQ(one.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto end, store->Read(kTp, Offset(10)));
  EXPECT_TRUE(end.empty());
  EXPECT_EQ(store->Read(kTp, Offset(11)).status().code(), StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(Store::Bounds bounds, store->GetBounds(kTp));
  EXPECT_EQ(bounds.first, Offset(0));
  EXPECT_EQ(bounds.next, Offset(10));
  EXPECT_EQ(store->GetBounds({"telemetry", PartitionId(99)}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store->Read({"telemetry", PartitionId(99)}, Offset(0)).status().code(),
            StatusCode::kNotFound);
}

TEST_F(StoreTest, RejectsBadInput) {
  auto store = OpenStore();
  EXPECT_EQ(store->Append({"bad topic!", PartitionId(0)}, Inputs(Payloads(1, "x")))
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Append(kTp, {}).status().code(), StatusCode::kInvalidArgument);
  options_.max_record_bytes = 10;
  auto small = Store::Open(options_, dir_.path() / "small");
  ASSERT_TRUE(small.ok());
  EXPECT_EQ((*small)->Append(kTp, Inputs(Payloads(1, "", 20))).status().code(),
            StatusCode::kInvalidArgument);
  AppendN(*store, kTp, 1);
  EXPECT_EQ(store->Commit(kTp, "", Offset(0)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Commit(kTp, "bad group", Offset(0)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, ReopenContinuesOffsets) {
  {
    auto store = OpenStore();
    AppendN(*store, kTp, 3);
    AppendN(*store, {"other", PartitionId(0)}, 2);
    ASSERT_OK(store->Commit(kTp, "collectors", Offset(2)).status());
  }
  auto store = OpenStore();
  ASSERT_OK_AND_ASSIGN(AppendResult r, store->Append(kTp, Inputs(Payloads(1, "after"))));
  EXPECT_EQ(r.first, Offset(3));
  ASSERT_OK_AND_ASSIGN(PartitionStats stats, store->Stats(kTp));
  EXPECT_EQ(stats.next, Offset(4));
  ASSERT_EQ(stats.groups.size(), 1u);
  EXPECT_EQ(stats.groups[0].committed, Offset(2));
  EXPECT_EQ(store->Partitions().size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto records, store->Read(kTp, Offset(0)));
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[3].payload, "after0");
}

// Reopening flushes the recovered records to a table file, so partition A's offsets 0-2
// are on disk and 3-5 in the memtable: a read from any offset sees one contiguous run,
// whichever side of that line it starts on.
TEST_F(StoreTest, ReadsAcrossFlushedAndMemtableRecords) {
  const TopicPartition other{"telemetry", PartitionId(4)};
  {
    auto store = OpenStore();
    ASSERT_OK(store->Append(kTp, Inputs(Payloads(3, "old-"))).status());
    AppendN(*store, other, 2);
  }
  auto store = OpenStore();
  ASSERT_OK(store->Append(kTp, Inputs(Payloads(3, "new-"))).status());
  AppendN(*store, other, 1);
  const std::vector<std::string> expected = {
      "old-0", "old-1", "old-2", "new-0", "new-1", "new-2"};
  for (uint64_t from = 0; from <= expected.size(); ++from) {
    SCOPED_TRACE("from " + std::to_string(from));
    ASSERT_OK_AND_ASSIGN(auto records, store->Read(kTp, Offset(from)));
    ASSERT_EQ(records.size(), expected.size() - from);
    for (size_t i = 0; i < records.size(); ++i) {
      EXPECT_EQ(records[i].offset, Offset(from + i));
      EXPECT_EQ(records[i].payload, expected[from + i]);
    }
  }
  ASSERT_OK_AND_ASSIGN(auto tail, store->Read(kTp, Offset(4), {.max_records = 1}));
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].payload, "new-1");
}
TEST_F(StoreTest, CommitsNeverMoveBackwards) {
  auto store = OpenStore();
  AppendN(*store, kTp, 10);
  ASSERT_OK_AND_ASSIGN(Offset c1, store->Commit(kTp, "collectors", Offset(7)));
  EXPECT_EQ(c1, Offset(7));
  ASSERT_OK_AND_ASSIGN(Offset c2, store->Commit(kTp, "collectors", Offset(3)));
  EXPECT_EQ(c2, Offset(7));
  ASSERT_OK_AND_ASSIGN(Offset other, store->Commit(kTp, "archiver", Offset(2)));
  EXPECT_EQ(other, Offset(2));
  EXPECT_EQ(store->Commit(kTp, "collectors", Offset(11)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Commit({"telemetry", PartitionId(1)}, "collectors", Offset(0))
                .status()
                .code(),
            StatusCode::kNotFound);
  store.reset();
  store = OpenStore();
  ASSERT_OK_AND_ASSIGN(Offset after, store->Commit(kTp, "collectors", Offset(5)));
  EXPECT_EQ(after, Offset(7));
}

TEST_F(StoreTest, StatsReportBacklogPerGroup) {
  auto store = OpenStore();
  AppendN(*store, kTp, 10, 50);
  ASSERT_OK(store->Commit(kTp, "collectors", Offset(4)).status());
  ASSERT_OK(store->Commit(kTp, "archiver", Offset(8)).status());
  ASSERT_OK_AND_ASSIGN(PartitionStats stats, store->Stats(kTp));
  EXPECT_EQ(stats.first, Offset(0));
  EXPECT_EQ(stats.next, Offset(10));
  EXPECT_EQ(stats.backlog_records, 6u);
  ASSERT_EQ(stats.groups.size(), 2u);
  EXPECT_EQ(stats.groups[0].group, "archiver");
  EXPECT_EQ(stats.groups[0].backlog_records, 2u);
  EXPECT_EQ(stats.groups[1].backlog_records, 6u);
  // Equal-size records: bytes are proportional to records.
  EXPECT_EQ(stats.groups[1].backlog_bytes, stats.bytes * 6 / 10);
  EXPECT_EQ(stats.groups[0].backlog_bytes, stats.bytes * 2 / 10);
  EXPECT_EQ(stats.backlog_bytes, stats.groups[1].backlog_bytes);
}

TEST_F(StoreTest, MaintenanceTrimsBelowLowestCommit) {
  auto store = OpenStore();
  AppendN(*store, kTp, 10);
  ASSERT_OK(store->Commit(kTp, "collectors", Offset(6)).status());
  ASSERT_OK(store->Commit(kTp, "archiver", Offset(4)).status());
  ASSERT_OK(store->RunMaintenance());
  ASSERT_OK_AND_ASSIGN(PartitionStats stats, store->Stats(kTp));
  EXPECT_EQ(stats.first, Offset(4));
  ASSERT_OK_AND_ASSIGN(auto records, store->Read(kTp, Offset(0)));
  ASSERT_EQ(records.size(), 6u);
  EXPECT_EQ(records.front().offset, Offset(4));
  // The trim point survives a reopen and offsets continue.
  store.reset();
  store = OpenStore();
  ASSERT_OK_AND_ASSIGN(stats, store->Stats(kTp));
  EXPECT_EQ(stats.first, Offset(4));
  EXPECT_EQ(stats.next, Offset(10));
}

// One pass trims every partition that has something to trim (one synced batch) and
// leaves the partitions between them readable.
TEST_F(StoreTest, MaintenanceTrimsManyPartitionsInOnePass) {
  auto store = OpenStore();
  std::vector<TopicPartition> tps;
  for (uint32_t p = 0; p < 5; ++p) {
    tps.push_back(TopicPartition{kTp.topic, PartitionId(p)});
    AppendN(*store, tps.back(), 10, 2000);
  }
  for (uint32_t p : {0u, 1u, 3u, 4u})
    ASSERT_OK(store->Commit(tps[p], "collectors", Offset(7 + p % 2)).status());
  ASSERT_OK(store->RunMaintenance());
  for (uint32_t p = 0; p < 5; ++p) {
    ASSERT_OK_AND_ASSIGN(PartitionStats stats, store->Stats(tps[p]));
    const uint64_t first = p == 2 ? 0 : 7 + p % 2;
    EXPECT_EQ(stats.first, Offset(first)) << "partition " << p;
    ASSERT_OK_AND_ASSIGN(auto records, store->Read(tps[p], Offset(0)));
    ASSERT_EQ(records.size(), 10 - first) << "partition " << p;
    EXPECT_EQ(records.front().offset, Offset(first));
  }
}

// Consumers that keep up: records trimmed while still in the memtable are dropped by
// its flush (here the one recovery does on reopen), so they never take space in a file.
TEST_F(StoreTest, RecordsTrimmedInTheMemtableNeverReachTheFiles) {
  constexpr uint64_t kBytes = 100 * 10000;
  for (const bool consumed : {false, true}) {
    SCOPED_TRACE(consumed ? "consumed" : "not consumed");
    std::filesystem::remove_all(dir_.path() / "log");
    {
      auto store = OpenStore();
      AppendN(*store, kTp, 100, 10000);
      if (consumed) {
        ASSERT_OK(store->Commit(kTp, "collectors", Offset(100)).status());
        ASSERT_OK(store->RunMaintenance());
      }
    }
    auto store = OpenStore();
    const uint64_t usage = store->GetStoreStats().disk_usage_bytes;
    if (consumed) {
      EXPECT_LT(usage, kBytes / 10);
    } else {
      EXPECT_GT(usage, kBytes);
    }
  }
}

// Records flushed to a file before their consumers committed: a pass compacts them away
// only when they are most of the files (beyond Options::reclaim_slack_bytes); otherwise
// it trims and leaves the bytes to RocksDB's own compactions.
TEST_F(StoreTest, MaintenanceCompactsOnlyWhenTrimmedRecordsHoldTheFiles) {
  constexpr uint64_t kBytes = 100 * 10000;
  for (const uint64_t slack : {uint64_t{64} << 20, uint64_t{0}}) {
    SCOPED_TRACE("slack " + std::to_string(slack));
    options_.reclaim_slack_bytes = slack;
    std::filesystem::remove_all(dir_.path() / "log");
    {
      auto store = OpenStore();
      AppendN(*store, kTp, 100, 10000);
    }
    auto store = OpenStore();  // recovery flushed the records into a file
    ASSERT_GT(store->GetStoreStats().disk_usage_bytes, kBytes);
    ASSERT_OK(store->Commit(kTp, "collectors", Offset(95)).status());
    ASSERT_OK(store->RunMaintenance());
    ASSERT_OK_AND_ASSIGN(PartitionStats stats, store->Stats(kTp));
    EXPECT_EQ(stats.first, Offset(95));
    const uint64_t usage = store->GetStoreStats().disk_usage_bytes;
    if (slack > 0) {
      EXPECT_GT(usage, kBytes);
    } else {
      EXPECT_LT(usage, kBytes / 10);
    }
    ASSERT_OK_AND_ASSIGN(auto records, store->Read(kTp, Offset(0)));
    ASSERT_EQ(records.size(), 5u);
    EXPECT_EQ(records.front().offset, Offset(95));
  }
}

// The nice value of each of this process's threads whose name starts with `prefix`.
std::vector<int> NiceOfThreads(std::string_view prefix) {
  std::vector<int> out;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm_file(task.path() / "comm");
    std::string comm;
    std::getline(comm_file, comm);
    if (!comm.starts_with(prefix))
      continue;
    std::ifstream stat_file(task.path() / "stat");
    std::string stat;
    std::getline(stat_file, stat);
    // Fields after the parenthesised name: state is field 3, nice is field 19.
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int i = 3; i < 19; ++i)
      fields >> field;
    int nice = 0;
    fields >> nice;
    out.push_back(nice);
  }
  return out;
}

// A compaction runs at the lowest CPU priority, so it cannot keep the writer thread
// waiting for a core; flushes (a full memtable stalls writes) keep normal priority.
TEST_F(StoreTest, CompactionsRunAtTheLowestCpuPriority) {
  options_.reclaim_slack_bytes = 0;  // the maintenance pass below compacts
  {
    auto store = OpenStore();
    AppendN(*store, kTp, 100, 1000);
  }
  auto store = OpenStore();  // recovery flushed the records into a file
  ASSERT_OK(store->Commit(kTp, "collectors", Offset(95)).status());
  ASSERT_OK(store->RunMaintenance());
  const std::vector<int> compaction = NiceOfThreads("rocksdb:low");
  ASSERT_FALSE(compaction.empty()) << "no compaction thread found";
  for (int nice : compaction)
    EXPECT_EQ(nice, 19);
  for (int nice : NiceOfThreads("rocksdb:high"))
    EXPECT_EQ(nice, 0);
}

// Appends and trims interleaved in one memtable, then replayed from RocksDB's WAL on
// reopen: range deletions and hinted record inserts share the memtable (see
// ApplyRecordsTuning) and must not disturb each other.
TEST_F(StoreTest, AppendsAndTrimsInterleaveAcrossReopen) {
  auto store = OpenStore();
  const TopicPartition other{kTp.topic, PartitionId(kTp.partition.value() + 1)};
  for (int round = 1; round <= 5; ++round) {
    AppendN(*store, kTp, 10);
    AppendN(*store, other, 3);
    ASSERT_OK(store->TrimTo(kTp, Offset(round * 10 - 4)));
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    ASSERT_OK_AND_ASSIGN(PartitionStats stats, store->Stats(kTp));
    EXPECT_EQ(stats.first, Offset(46));
    ASSERT_OK_AND_ASSIGN(auto records, store->Read(kTp, Offset(0)));
    ASSERT_EQ(records.size(), 4u);
    EXPECT_EQ(records.front().offset, Offset(46));
    ASSERT_OK_AND_ASSIGN(auto others, store->Read(other, Offset(0)));
    EXPECT_EQ(others.size(), 15u);
    store.reset();
    store = OpenStore();
  }
  ASSERT_OK_AND_ASSIGN(AppendResult r, store->Append(kTp, Inputs(Payloads(1, "x"))));
  EXPECT_EQ(r.first, Offset(50));
}

TEST_F(StoreTest, TrimToEverythingKeepsNextOffset) {
  auto store = OpenStore();
  AppendN(*store, kTp, 5);
  ASSERT_OK(store->TrimTo(kTp, Offset(100)));  // clamped to next
  ASSERT_OK_AND_ASSIGN(PartitionStats stats, store->Stats(kTp));
  EXPECT_EQ(stats.first, Offset(5));
  EXPECT_EQ(stats.bytes, 0u);
  store.reset();
  store = OpenStore();
  ASSERT_OK_AND_ASSIGN(AppendResult r, store->Append(kTp, Inputs(Payloads(1, "x"))));
  EXPECT_EQ(r.first, Offset(5));
}

TEST_F(StoreTest, RetentionByBytesIsIndependentOfCommits) {
  options_.retention_bytes = 20 * 1024;
  auto store = OpenStore();
  for (int i = 0; i < 100; ++i)
    AppendN(*store, kTp, 1, 1000);
  ASSERT_OK_AND_ASSIGN(PartitionStats before, store->Stats(kTp));
  const uint64_t per_record = before.bytes / 100;
  ASSERT_OK(store->RunMaintenance());
  ASSERT_OK_AND_ASSIGN(PartitionStats after, store->Stats(kTp));
  EXPECT_LE(after.bytes, options_.retention_bytes);
  EXPECT_GT(after.bytes + per_record, options_.retention_bytes);
  EXPECT_EQ(after.next, Offset(100));
  EXPECT_EQ(after.first.value(), 100 - after.bytes / per_record);
}

TEST_F(StoreTest, RetentionByAgeTrimsOldRecords) {
  options_.retention_age = std::chrono::seconds(1);
  auto store = OpenStore();
  AppendN(*store, kTp, 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  AppendN(*store, kTp, 3);
  ASSERT_OK(store->RunMaintenance());
  ASSERT_OK_AND_ASSIGN(PartitionStats stats, store->Stats(kTp));
  EXPECT_EQ(stats.first, Offset(5));
  EXPECT_EQ(stats.next, Offset(8));
}

TEST_F(StoreTest, DiskBudgetFullThenRecoversAfterTrim) {
  options_.disk_budget_bytes = 256 * 1024;
  auto store = OpenStore();
  Status last;
  // Spread over 4 partitions, so that the space comes back only if every partition's
  // trimmed range is compacted away.
  std::vector<TopicPartition> tps;
  for (uint32_t p = 0; p < 4; ++p)
    tps.push_back(TopicPartition{kTp.topic, PartitionId(p)});
  std::vector<int> appended(tps.size(), 0);
  // Bounded: the budget is 256 KiB and each batch writes ~40 KiB.
  for (int i = 0; i < 200 && last.ok(); ++i) {
    auto payloads = Payloads(10, "big", 4000);
    auto r = store->Append(tps[i % tps.size()], Inputs(payloads));
    last = r.status();
    if (r.ok())
      appended[i % tps.size()] += 10;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));  // let usage refresh
  }
  ASSERT_EQ(last.code(), StatusCode::kFull) << last.ToString();
  EXPECT_TRUE(store->GetStoreStats().full);
  // Everything consumed and committed: maintenance trims, compacts and frees the space.
  for (std::size_t p = 0; p < tps.size(); ++p)
    ASSERT_OK(store->Commit(tps[p], "collectors", Offset(appended[p])).status());
  ASSERT_OK(store->RunMaintenance());
  EXPECT_FALSE(store->GetStoreStats().full)
      << store->GetStoreStats().disk_usage_bytes << " bytes still used";
  ASSERT_OK_AND_ASSIGN(AppendResult r,
                       store->Append(tps[1], Inputs(Payloads(1, "again"))));
  EXPECT_EQ(r.first, Offset(appended[1]));
}

TEST_F(StoreTest, PermanentWriteErrorRefusesWritesUntilReopen) {
  std::atomic<bool> fail{false};
  options_.write_fault_hook = [&fail]() -> Status {
    return fail ? Status::IOError("injected: no space left on device") : Status::Ok();
  };
  auto store = OpenStore();
  AppendN(*store, kTp, 2);
  fail = true;
  auto r = store->Append(kTp, Inputs(Payloads(1, "x")));
  ASSERT_EQ(r.status().code(), StatusCode::kIOError);
  fail = false;  // the disk is fine again, but the store stays failed until reopened
  r = store->Append(kTp, Inputs(Payloads(1, "y")));
  EXPECT_EQ(r.status().code(), StatusCode::kIOError);
  EXPECT_NE(r.status().message().find("injected"), std::string::npos);
  EXPECT_EQ(store->Commit(kTp, "collectors", Offset(1)).status().code(),
            StatusCode::kIOError);
  ASSERT_TRUE(store->GetStoreStats().failure.has_value());
  // Reads keep working.
  ASSERT_OK_AND_ASSIGN(auto records, store->Read(kTp, Offset(0)));
  EXPECT_EQ(records.size(), 2u);
  store.reset();
  options_.write_fault_hook = nullptr;
  store = OpenStore();
  ASSERT_OK_AND_ASSIGN(AppendResult after, store->Append(kTp, Inputs(Payloads(1, "z"))));
  EXPECT_EQ(after.first, Offset(2));  // the failed batches left no trace
}

TEST_F(StoreTest, ConcurrentAppendersGetDisjointContiguousOffsets) {
  auto store = OpenStore();
  constexpr int kThreads = 8;
  constexpr int kBatches = 50;
  std::vector<std::thread> threads;
  std::vector<std::vector<uint64_t>> firsts(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        auto payloads =
            Payloads(3, "t" + std::to_string(t) + "b" + std::to_string(b) + "-");
        auto r = store->Append(kTp, Inputs(payloads));
        if (r.ok())
          firsts[t].push_back(r->first.value());
      }
    });
  }
  for (auto& th : threads)
    th.join();
  std::set<uint64_t> all;
  for (const auto& f : firsts) {
    ASSERT_EQ(f.size(), static_cast<size_t>(kBatches));
    for (uint64_t o : f)
      all.insert(o);
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kBatches));
  ASSERT_OK_AND_ASSIGN(auto records,
                       store->Read(kTp, Offset(0), {.max_records = 100000}));
  ASSERT_EQ(records.size(), static_cast<size_t>(kThreads * kBatches * 3));
  // Each batch's three records are adjacent and in order.
  for (uint64_t first : all) {
    const std::string& p0 = records[first].payload;
    EXPECT_EQ(p0.back(), '0');
    EXPECT_EQ(records[first + 2].payload.substr(0, p0.size() - 1),
              p0.substr(0, p0.size() - 1));
  }
}

// Blocking appends may execute on the caller's thread when the store is idle, queued
// ones on the writer thread; mixed together, every caller's appends must still take
// offsets in the order it issued them, and commits in between must not disturb that.
TEST_F(StoreTest, InlineAndQueuedAppendsKeepEachCallersOrder) {
  for (SyncPolicy sync : {SyncPolicy::kNone, SyncPolicy::kAlways}) {
    SCOPED_TRACE(std::string(SyncPolicyName(sync)));
    options_.sync = sync;
    dir_ = testing::MakeTempDir("wal-store-mixed-");
    auto store = OpenStore();
    constexpr int kThreads = 4;
    constexpr int kRounds = 40;
    std::vector<std::vector<uint64_t>> offsets(kThreads);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::vector<std::promise<Result<AppendResult>>> pending(kRounds);
        for (int r = 0; r < kRounds; ++r) {
          auto queued = Payloads(1, "t" + std::to_string(t) + "q" + std::to_string(r));
          store->AppendAsync(
              kTp, Inputs(queued), [&pending, r](Result<AppendResult> res) {
                pending[r].set_value(std::move(res));
              });
          auto direct = Payloads(1, "t" + std::to_string(t) + "d" + std::to_string(r));
          auto res = store->Append(kTp, Inputs(direct));
          auto queued_res = pending[r].get_future().get();
          if (!res.ok() || !queued_res.ok()) {
            ++failures;
            return;
          }
          offsets[t].push_back(queued_res->first.value());
          offsets[t].push_back(res->first.value());
          if (r % 10 == 9 &&
              !store->Commit(kTp, "g" + std::to_string(t), res->first).ok())
            ++failures;
        }
      });
    }
    for (auto& th : threads)
      th.join();
    ASSERT_EQ(failures.load(), 0);
    std::set<uint64_t> all;
    for (const auto& per_thread : offsets) {
      ASSERT_EQ(per_thread.size(), static_cast<size_t>(2 * kRounds));
      EXPECT_TRUE(std::is_sorted(per_thread.begin(), per_thread.end()));
      all.insert(per_thread.begin(), per_thread.end());
    }
    ASSERT_EQ(all.size(), static_cast<size_t>(2 * kThreads * kRounds));
    EXPECT_EQ(*all.rbegin(), all.size() - 1);  // contiguous from 0
    ASSERT_OK_AND_ASSIGN(auto records,
                         store->Read(kTp, Offset(0), {.max_records = 100000}));
    ASSERT_EQ(records.size(), all.size());
    ASSERT_OK_AND_ASSIGN(auto stats, store->Stats(kTp));
    EXPECT_EQ(stats.groups.size(), static_cast<size_t>(kThreads));
    store.reset();
  }
}

TEST_F(StoreTest, AsyncAppendCallbackSeesDurableRecord) {
  auto store = OpenStore();
  std::promise<Result<AppendResult>> done;
  auto payloads = Payloads(1, "async");
  store->AppendAsync(kTp, Inputs(payloads), [&done](Result<AppendResult> r) {
    done.set_value(std::move(r));
  });
  auto r = done.get_future().get();
  ASSERT_TRUE(r.ok());
  ASSERT_OK_AND_ASSIGN(auto records, store->Read(kTp, r->first));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].payload, "async0");
}

// Callbacks run off the writer thread: one that takes long holds back neither the
// writes queued behind it nor their visibility to readers.
TEST_F(StoreTest, SlowCallbackDoesNotHoldBackLaterWrites) {
  auto store = OpenStore();
  const TopicPartition other{"telemetry", PartitionId(4)};
  std::promise<void> started;
  std::promise<bool> saw_later_write;
  store->AppendAsync(kTp, Inputs(Payloads(1, "first")), [&](Result<AppendResult> r) {
    EXPECT_TRUE(r.ok());
    started.set_value();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    bool seen = false;
    while (!seen && std::chrono::steady_clock::now() < deadline) {
      auto bounds = store->GetBounds(other);
      seen = bounds.ok() && bounds->next.value() == 1;
      if (!seen)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    saw_later_write.set_value(seen);
  });
  started.get_future().wait();
  std::promise<Result<AppendResult>> second;
  store->AppendAsync(other, Inputs(Payloads(1, "second")), [&](Result<AppendResult> r) {
    second.set_value(std::move(r));
  });
  EXPECT_TRUE(saw_later_write.get_future().get());
  EXPECT_TRUE(second.get_future().get().ok());
}

std::vector<Result<AppendResult>> AppendMany(Store& store,
                                             std::span<const PartitionAppend> appends) {
  std::promise<std::vector<Result<AppendResult>>> done;
  store.AppendManyAsync(appends, [&done](std::vector<Result<AppendResult>> r) {
    done.set_value(std::move(r));
  });
  return done.get_future().get();
}

TEST_F(StoreTest, AppendManyGivesEachPartitionContiguousOffsets) {
  auto store = OpenStore();
  const TopicPartition a{"telemetry", PartitionId(1)};
  const TopicPartition b{"telemetry", PartitionId(2)};
  const TopicPartition other{"other", PartitionId(0)};
  AppendN(*store, a, 5);
  auto pa = Payloads(3, "a");
  auto pb = Payloads(2, "b");
  auto pa2 = Payloads(2, "a2-");
  auto po = Payloads(1, "o");
  auto ia = Inputs(pa);
  auto ib = Inputs(pb);
  auto ia2 = Inputs(pa2);
  auto io = Inputs(po);
  const std::vector<PartitionAppend> appends = {{a, ia}, {b, ib}, {a, ia2}, {other, io}};
  auto results = AppendMany(*store, appends);
  ASSERT_EQ(results.size(), 4u);
  for (const auto& r : results)
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(results[0]->first, Offset(5));
  EXPECT_EQ(results[0]->count, 3u);
  EXPECT_EQ(results[1]->first, Offset(0));
  EXPECT_EQ(results[2]->first, Offset(8));  // same partition again: follows in order
  EXPECT_EQ(results[3]->first, Offset(0));
  ASSERT_OK_AND_ASSIGN(auto records, store->Read(a, Offset(5)));
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].payload, "a0");
  EXPECT_EQ(records[2].payload, "a2");
  EXPECT_EQ(records[3].payload, "a2-0");
  EXPECT_EQ(records[3].msg_uuid, ia2[0].msg_uuid);
  ASSERT_OK_AND_ASSIGN(auto bounds, store->GetBounds(b));
  EXPECT_EQ(bounds.next, Offset(2));
  ASSERT_OK_AND_ASSIGN(auto other_records, store->Read(other, Offset(0)));
  ASSERT_EQ(other_records.size(), 1u);
  // Survives a reopen like any append.
  store.reset();
  store = OpenStore();
  ASSERT_OK_AND_ASSIGN(bounds, store->GetBounds(a));
  EXPECT_EQ(bounds.next, Offset(10));
}

TEST_F(StoreTest, AppendManyValidatesEachEntryOnItsOwn) {
  options_.max_record_bytes = 1000;
  auto store = OpenStore();
  auto good = Payloads(2, "g");
  auto big = Payloads(1, "big", 2000);
  auto ig = Inputs(good);
  auto ibig = Inputs(big);
  const std::vector<PartitionAppend> appends = {
      {{"bad topic!", PartitionId(0)}, ig},
      {kTp, {}},
      {kTp, ibig},
      {kTp, ig},
  };
  auto results = AppendMany(*store, appends);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(results[1].status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(results[2].status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(results[3].ok()) << results[3].status().ToString();
  EXPECT_EQ(results[3]->first, Offset(0));
  EXPECT_EQ(results[3]->count, 2u);
  // Nothing valid: completes at once, nothing written.
  const std::vector<PartitionAppend> none = {{kTp, {}}};
  results = AppendMany(*store, none);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].ok());
  EXPECT_TRUE(AppendMany(*store, {}).empty());
  ASSERT_OK_AND_ASSIGN(auto bounds, store->GetBounds(kTp));
  EXPECT_EQ(bounds.next, Offset(2));
}

TEST_F(StoreTest, AppendManyFailsEveryValidEntryOnAWriteError) {
  std::atomic<bool> fail{false};
  options_.write_fault_hook = [&fail]() -> Status {
    return fail ? Status::IOError("injected: no space left on device") : Status::Ok();
  };
  auto store = OpenStore();
  const TopicPartition b{"telemetry", PartitionId(9)};
  auto p = Payloads(2, "x");
  auto in = Inputs(p);
  fail = true;
  const std::vector<PartitionAppend> appends = {{kTp, in}, {b, in}, {kTp, {}}};
  auto results = AppendMany(*store, appends);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].status().code(), StatusCode::kIOError);
  EXPECT_EQ(results[1].status().code(), StatusCode::kIOError);
  EXPECT_EQ(results[2].status().code(), StatusCode::kInvalidArgument);
  // Later calls are refused before they are queued.
  results = AppendMany(*store, appends);
  EXPECT_EQ(results[0].status().code(), StatusCode::kIOError);
  EXPECT_EQ(store->GetBounds(kTp).status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, AppendManyReportsFullWhenOverTheDiskBudget) {
  options_.disk_budget_bytes = 64 * 1024;
  auto store = OpenStore();
  const TopicPartition b{"telemetry", PartitionId(9)};
  StatusCode last = StatusCode::kOk;
  for (int i = 0; i < 200 && last == StatusCode::kOk; ++i) {
    auto p = Payloads(5, "big", 4000);
    auto in = Inputs(p);
    const std::vector<PartitionAppend> appends = {{kTp, in}, {b, in}};
    auto results = AppendMany(*store, appends);
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].status().code(), results[1].status().code());
    last = results[0].status().code();
    std::this_thread::sleep_for(std::chrono::milliseconds(25));  // let usage refresh
  }
  EXPECT_EQ(last, StatusCode::kFull);
}

// Many threads mixing multi-partition and single appends: every partition's offsets
// stay disjoint and contiguous per call, and every record lands where it was reported.
// (Records are read back after the threads joined: RocksDB is not built for TSan, so
// its memtable's own synchronisation is invisible to it.)
TEST_F(StoreTest, ConcurrentAppendManyKeepsOffsetsDisjointAndContiguous) {
  for (SyncPolicy sync : {SyncPolicy::kNone, SyncPolicy::kAlways}) {
    SCOPED_TRACE(std::string(SyncPolicyName(sync)));
    options_.sync = sync;
    dir_ = testing::MakeTempDir("wal-store-many-");
    auto store = OpenStore();
    constexpr int kThreads = 6;
    constexpr int kCalls = 30;
    constexpr uint32_t kPartitions = 4;
    struct Appended {
      uint32_t partition;
      Result<AppendResult> result;
      std::vector<std::string> payloads;
    };
    std::vector<std::vector<Appended>> appended(kThreads);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int c = 0; c < kCalls; ++c) {
          const std::string tag = "t" + std::to_string(t) + "c" + std::to_string(c) + "-";
          std::vector<std::vector<std::string>> payloads;
          std::vector<std::vector<RecordInput>> inputs;
          std::vector<PartitionAppend> appends;
          for (uint32_t p = 0; p < kPartitions; ++p)
            payloads.push_back(Payloads(2 + static_cast<int>(p), tag));
          for (uint32_t p = 0; p < kPartitions; ++p)
            inputs.push_back(Inputs(payloads[p]));
          for (uint32_t p = 0; p < kPartitions; ++p)
            appends.push_back({{"telemetry", PartitionId(p)}, inputs[p]});
          if (t % 2 == 1 && !store->Append(appends[0].tp, inputs[0]).ok())
            ++failures;
          auto results = AppendMany(*store, appends);
          for (uint32_t p = 0; p < kPartitions; ++p)
            appended[t].push_back({p, std::move(results[p]), payloads[p]});
        }
      });
    }
    for (auto& th : threads)
      th.join();
    EXPECT_EQ(failures.load(), 0);
    for (const auto& per_thread : appended) {
      for (const Appended& a : per_thread) {
        ASSERT_TRUE(a.result.ok()) << a.result.status().ToString();
        ASSERT_EQ(a.result->count, a.payloads.size());
        ASSERT_OK_AND_ASSIGN(
            auto records,
            store->Read({"telemetry", PartitionId(a.partition)}, a.result->first));
        ASSERT_GE(records.size(), a.payloads.size());
        for (size_t i = 0; i < a.payloads.size(); ++i)
          EXPECT_EQ(records[i].payload, a.payloads[i]);
      }
    }
    for (uint32_t p = 0; p < kPartitions; ++p) {
      ASSERT_OK_AND_ASSIGN(auto bounds, store->GetBounds({"telemetry", PartitionId(p)}));
      uint64_t expected = static_cast<uint64_t>(kThreads) * kCalls * (2 + p);
      if (p == 0)
        expected += static_cast<uint64_t>(kThreads / 2) * kCalls * 2;
      EXPECT_EQ(bounds.next.value(), expected);
    }
  }
}

TEST_F(StoreTest, OpenRejectsNonLogDirectories) {
  auto plain = dir_.path() / "plain";
  std::filesystem::create_directories(plain);
  { std::ofstream(plain / "notes.txt") << "hello"; }
  EXPECT_EQ(Store::Open(options_, plain).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Store::OpenSecondary(dir_.path() / "missing", dir_.path() / "scratch")
                .status()
                .code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Store::OpenSecondary(plain, dir_.path() / "scratch").status().code(),
            StatusCode::kInvalidArgument);
  options_.sync = SyncPolicy::kInterval;
  options_.sync_interval = std::chrono::milliseconds(0);
  EXPECT_EQ(Store::Open(options_, dir_.path() / "x").status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, SecondarySeesPrimaryWritesAfterCatchUp) {
  auto primary = OpenStore();
  AppendN(*primary, kTp, 3);
  ASSERT_OK_AND_ASSIGN(
      auto secondary, Store::OpenSecondary(dir_.path() / "log", dir_.path() / "scratch"));
  ASSERT_OK_AND_ASSIGN(auto records, secondary->Read(kTp, Offset(0)));
  EXPECT_EQ(records.size(), 3u);
  AppendN(*primary, kTp, 2);
  ASSERT_OK(secondary->CatchUp());
  ASSERT_OK_AND_ASSIGN(records, secondary->Read(kTp, Offset(0)));
  EXPECT_EQ(records.size(), 5u);
  EXPECT_EQ(secondary->Append(kTp, Inputs(Payloads(1, "x"))).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(secondary->TrimTo(kTp, Offset(1)).code(), StatusCode::kFailedPrecondition);
}

TEST_F(StoreTest, SyncPoliciesAllPersistAcrossReopen) {
  for (SyncPolicy policy :
       {SyncPolicy::kAlways, SyncPolicy::kInterval, SyncPolicy::kNone}) {
    options_.sync = policy;
    auto path = dir_.path() / std::string(SyncPolicyName(policy));
    {
      auto store = Store::Open(options_, path);
      ASSERT_TRUE(store.ok());
      AppendN(**store, kTp, 4);
    }
    auto store = Store::Open(options_, path);
    ASSERT_TRUE(store.ok());
    ASSERT_OK_AND_ASSIGN(PartitionStats stats, (*store)->Stats(kTp));
    EXPECT_EQ(stats.next, Offset(4)) << SyncPolicyName(policy);
  }
  EXPECT_EQ(ParseSyncPolicy("sometimes").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tp::wal
