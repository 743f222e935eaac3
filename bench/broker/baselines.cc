#include "baselines.h"

#include <algorithm>
#include <future>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

#include <rocksdb/db.h>
#include <unistd.h>

#include "broker/writer.h"
#include "wal/store.h"

namespace tp::bench {
namespace {

constexpr std::string_view kTopic = "telemetry";

// One batch through the wal, as configured. Returns the batch's outcome.
Status AppendBatch(wal::Store& store,
                   const WalLoad& load,
                   uint32_t own_partition,
                   std::vector<wal::RecordInput>& records) {
  for (auto& r : records)
    r.msg_uuid = Uuid::NewV7();
  if (!load.split_by_partition) {
    return store.Append({std::string(kTopic), wal::PartitionId(own_partition)}, records)
        .status();
  }
  // As the writer appends a publish: ordered by partition (stable, so each partition
  // keeps the request's order), every partition's share in one multi-partition append.
  std::vector<std::pair<uint32_t, std::size_t>> order;
  for (std::size_t i = 0; i < records.size(); ++i)
    order.emplace_back(broker::PartitionForKey(records[i].key, load.partitions), i);
  std::stable_sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
    return x.first < y.first;
  });
  std::vector<wal::RecordInput> sorted;
  sorted.reserve(records.size());  // never reallocates: the spans below point into it
  std::vector<wal::PartitionAppend> appends;
  for (std::size_t k = 0; k < order.size();) {
    std::size_t end = k;
    for (; end < order.size() && order[end].first == order[k].first; ++end)
      sorted.push_back(records[order[end].second]);
    appends.push_back({{std::string(kTopic), wal::PartitionId(order[k].first)},
                       std::span<const wal::RecordInput>(sorted.data() + k, end - k)});
    k = end;
  }
  std::promise<Status> outcome;
  store.AppendManyAsync(appends, [&](std::vector<Result<wal::AppendResult>> results) {
    Status first;
    for (const auto& r : results) {
      if (!r.ok()) {
        first = r.status();
        break;
      }
    }
    outcome.set_value(first);
  });
  return outcome.get_future().get();
}

}  // namespace

Result<PhaseResult> RunWalAppend(const WalLoad& load,
                                 const MessageBodies& bodies,
                                 const Budget& budget,
                                 const std::filesystem::path& dir) {
  wal::Options options;
  options.sync = load.sync ? wal::SyncPolicy::kAlways : wal::SyncPolicy::kNone;
  TP_ASSIGN_OR_RETURN(auto store, wal::Store::Open(options, dir));

  struct Worker {
    std::vector<double> ms;
    uint64_t messages = 0;
    uint64_t errors = 0;
    Status error;
  };
  std::vector<Worker> workers(static_cast<std::size_t>(load.threads));
  std::latch warmed(load.threads);
  std::latch go(1);
  std::unique_ptr<Quota> quota;
  const auto warmup_end = budget.WarmupEnd();
  std::vector<std::thread> threads;
  for (int t = 0; t < load.threads; ++t) {
    threads.emplace_back([&, t] {
      Worker& w = workers[static_cast<std::size_t>(t)];
      // Each thread walks the rows from its own starting point, like a publisher.
      std::size_t next_row = static_cast<std::size_t>(t) * bodies.size() /
                             static_cast<std::size_t>(load.threads);
      std::vector<wal::RecordInput> records(load.batch);
      auto fill = [&] {
        for (auto& r : records) {
          const auto& row = bodies.row(next_row++);
          r.key = row.key;
          r.payload = row.json;
        }
      };
      const auto own = static_cast<uint32_t>(t) % load.partitions;
      do {  // warm-up, not counted
        fill();
        w.error = AppendBatch(*store, load, own, records);
      } while (w.error.ok() && Clock::now() < warmup_end);
      warmed.count_down();
      go.wait();
      while (w.error.ok() && quota->Claim(load.batch)) {
        fill();
        const auto t0 = Clock::now();
        Status s = AppendBatch(*store, load, own, records);
        if (!s.ok()) {
          w.errors += load.batch;
          w.error = s;
          break;
        }
        w.ms.push_back(Millis(Clock::now() - t0));
        w.messages += load.batch;
      }
    });
  }
  warmed.wait();
  const double cpu0 = SelfCpuSeconds();
  const auto writer0 = ThreadSchedOf(::getpid(), kWriterThread);
  const auto start = Clock::now();
  quota = std::make_unique<Quota>(budget.count, start + budget.duration);
  go.count_down();
  for (auto& t : threads)
    t.join();
  PhaseResult r;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.loadgen_cpu_seconds = SelfCpuSeconds() - cpu0;
  r.writer = WriterShares(writer0, ThreadSchedOf(::getpid(), kWriterThread), r.seconds);
  std::vector<double> all;
  for (const Worker& w : workers) {
    if (!w.error.ok())
      return w.error.WithContext("wal append");
    r.messages += w.messages;
    r.errors += w.errors;
    r.requests += w.ms.size();
    all.insert(all.end(), w.ms.begin(), w.ms.end());
  }
  r.latency = Summarize(std::move(all));
  return r;
}

Result<PhaseResult> RunRocksDbPuts(const MessageBodies& bodies,
                                   const Budget& budget,
                                   const std::filesystem::path& dir,
                                   bool sync) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.write_buffer_size = 64 << 20;  // as the log's records column family
  options.max_background_jobs = 2;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir.string(), &raw);
  if (!s.ok())
    return Status::IOError("rocksdb open " + dir.string() + ": " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  // The log's key shape: prefix byte, partition, big-endian offset.
  std::string key(17, '\0');
  key[0] = 'r';
  uint64_t offset = 0;
  auto put = [&](std::size_t row) {
    for (int b = 0; b < 8; ++b)
      key[9 + b] = static_cast<char>(offset >> (56 - 8 * b));
    ++offset;
    const std::string& value = bodies.row(row).json;
    return db->Put(write_options, key, rocksdb::Slice(value.data(), value.size()));
  };
  std::size_t row = 0;
  const auto warmup_end = budget.WarmupEnd();
  do {  // warm-up, not counted
    s = put(row++);
    if (!s.ok())
      return Status::IOError("rocksdb put: " + s.ToString());
  } while (Clock::now() < warmup_end);

  const double cpu0 = SelfCpuSeconds();
  const auto start = Clock::now();
  Quota quota(budget.count, start + budget.duration);
  std::vector<double> ms;
  PhaseResult r;
  for (; quota.Claim(1); ++row) {
    const auto t0 = Clock::now();
    s = put(row);
    if (!s.ok())
      return Status::IOError("rocksdb put: " + s.ToString());
    ms.push_back(Millis(Clock::now() - t0));
    ++r.messages;
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.loadgen_cpu_seconds = SelfCpuSeconds() - cpu0;
  r.requests = r.messages;
  r.latency = Summarize(std::move(ms));
  return r;
}

}  // namespace tp::bench
