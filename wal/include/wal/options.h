// Options of the log store, validated once by Store::Open.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

#include "tp/status.h"

namespace tp::wal {

// What an acknowledged append survives.
enum class SyncPolicy {
  // Every group commit is fsync'd before any of its appends return: survives process
  // kill and machine crash.
  kAlways,
  // Group commits are written to the OS before returning and fsync'd every
  // sync_interval: survives process kill; a machine crash loses up to one interval.
  kInterval,
  // Written to the OS before returning, never fsync'd by the store: survives process
  // kill; a machine crash loses what the OS had not written back.
  kNone,
};

Result<SyncPolicy> ParseSyncPolicy(std::string_view text);
std::string_view SyncPolicyName(SyncPolicy policy);

struct Options {
  SyncPolicy sync = SyncPolicy::kAlways;
  std::chrono::milliseconds sync_interval{100};  // only for kInterval

  // Appends fail with Full while the store's files (SST + WAL) exceed this; 0 = no limit.
  uint64_t disk_budget_bytes = 0;

  // Retention, independent of commits: the oldest records of a partition are trimmed
  // while the partition holds more than retention_bytes, and records older than
  // retention_age are trimmed. 0 disables each.
  uint64_t retention_bytes = 0;
  std::chrono::seconds retention_age{0};

  // Trim each partition below the lowest offset committed by any consumer group.
  bool trim_committed = true;

  // How often the background pass trims and applies retention; 0 = only when
  // RunMaintenance() is called. Trimming soon after consumers commit lets a memtable's
  // flush drop consumed records instead of writing them to disk.
  std::chrono::milliseconds maintenance_interval{1000};

  // A maintenance pass forces a compaction of trimmed records when the SST files exceed
  // twice the untrimmed bytes plus this (or the store is above half of
  // disk_budget_bytes and an eighth of the budget is trimmed records); otherwise
  // RocksDB's own flushes and compactions drop them.
  uint64_t reclaim_slack_bytes = 64 << 20;

  // Largest accepted record (payload + key + headers).
  uint64_t max_record_bytes = 4 << 20;

  // Most records one group commit takes from the queue: bounds the write batch size.
  uint32_t max_group_commit_records = 16384;

  // Testing only: called on the writer thread before each RocksDB write; a non-OK status
  // is treated exactly as if RocksDB had returned it (IOError makes the store refuse
  // writes). Lets tests inject storage faults without a faulty disk.
  std::function<Status()> write_fault_hook;

  Status Validate() const;
};

// Limits of one Read call. At least one record is returned if any is available, even if
// it alone exceeds max_bytes.
struct ReadOptions {
  uint32_t max_records = 1000;
  uint64_t max_bytes = 4 << 20;
};

}  // namespace tp::wal
