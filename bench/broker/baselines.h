// In-process baselines the broker's figures are divided by, measured in the same run on
// the same disk:
//   - the wal append ceiling: tp::wal::Store with sync always, N threads each appending
//     batches of B records to a partition of its own (what the log can do at that batch
//     size without HTTP, JSON or partitioning in the way);
//   - the wal as the broker writes a publish (diagnostic): each batch split by
//     tp::broker::PartitionForKey into one AppendAsync per partition share, the caller
//     waiting for all of them;
//   - one thread doing one synced RocksDB Put per message (raw rocksdb::DB,
//     WriteOptions::sync), the naive way to make every message durable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "load_stats.h"
#include "messages.h"
#include "tp/status.h"

namespace tp::bench {

struct WalLoad {
  int threads = 4;
  std::size_t batch = 100;
  // false: every append goes to the thread's own partition. true: a batch is split by
  // message key over `partitions` and appended as one multi-partition entry, as the
  // broker's writer appends a publish.
  bool split_by_partition = false;
  uint32_t partitions = 256;
  bool sync = true;  // SyncPolicy::kAlways; false: kNone (diagnostics only)
};

// Opens a wal in `dir` and appends from `load.threads` threads until the
// budget is spent. One request = one batch; latency per batch.
Result<PhaseResult> RunWalAppend(const WalLoad& load,
                                 const MessageBodies& bodies,
                                 const Budget& budget,
                                 const std::filesystem::path& dir);

// One thread, one rocksdb::DB::Put per message (WriteOptions::sync = `sync`), in `dir`.
Result<PhaseResult> RunRocksDbPuts(const MessageBodies& bodies,
                                   const Budget& budget,
                                   const std::filesystem::path& dir,
                                   bool sync = true);

}  // namespace tp::bench
