// The broker's durable log: one ordered log per (topic, partition) in one RocksDB
// database, with per-consumer-group committed offsets, trimming and retention.
//
// Thread-safety: every method may be called from any thread. Appends, commits and trims
// are executed one group at a time: a writer thread coalesces everything queued into one
// RocksDB WriteBatch (group commit), so many concurrent callers share one fsync; a
// blocking Append or Commit that finds the store idle writes on the caller's thread.
// Reads run on the caller's thread and only ever see records whose write has returned
// (durable under the sync policy).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tp/status.h"
#include "wal/options.h"
#include "wal/types.h"

namespace tp::wal {

struct GroupStats {
  std::string group;
  Offset committed;  // next offset the group will consume
  uint64_t backlog_records = 0;
  uint64_t backlog_bytes = 0;
};

struct PartitionStats {
  TopicPartition tp;
  Offset first;        // lowest readable offset (everything below was trimmed)
  Offset next;         // offset the next append gets
  uint64_t bytes = 0;  // stored bytes of [first, next)
  std::vector<GroupStats> groups;
  // Against the lowest committed offset of any group, or `first` when none committed.
  uint64_t backlog_records = 0;
  uint64_t backlog_bytes = 0;
};

struct StoreStats {
  uint64_t disk_usage_bytes = 0;
  uint64_t disk_budget_bytes = 0;  // 0 = unlimited
  bool full = false;
  std::optional<Status> failure;  // set once a permanent write error happened
};

// A corrupt record found by Verify.
struct CorruptRecord {
  TopicPartition tp;
  Offset offset;
  std::string reason;
};

struct VerifyReport {
  uint64_t records_checked = 0;
  std::vector<CorruptRecord> corrupt;
  // Structural problems that are not one record: missing offsets, bad meta entries.
  std::vector<std::string> problems;
  bool ok() const { return corrupt.empty() && problems.empty(); }
};

using AppendCallback = std::function<void(Result<AppendResult>)>;

// One partition's share of a multi-partition append (Store::AppendManyAsync).
struct PartitionAppend {
  TopicPartition tp;
  std::span<const RecordInput> records;
};
// Outcomes in the order of the PartitionAppends.
using AppendManyCallback = std::function<void(std::vector<Result<AppendResult>>)>;

class Store {
 public:
  // Opens the log in `dir`, creating it if missing. Creating, reopening and recovering
  // after a crash are the same path: state is rebuilt from what RocksDB recovered.
  // Errors: InvalidArgument (bad options), FailedPrecondition (unsupported format
  // version), IOError/Corruption from RocksDB.
  static Result<std::unique_ptr<Store>> Open(const Options& options,
                                             const std::filesystem::path& dir);

  // Opens an existing log read-only as a RocksDB secondary instance, which works while
  // another process has it open for writing. `scratch_dir` holds the secondary's own
  // info logs. Writes fail with FailedPrecondition. Errors: NotFound (no such dir),
  // InvalidArgument (not a log directory).
  static Result<std::unique_ptr<Store>> OpenSecondary(
      const std::filesystem::path& dir, const std::filesystem::path& scratch_dir);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Appends `records` to `tp` at consecutive offsets and returns the first. Blocks until
  // the group commit holding them was written under the sync policy (kAlways: fsync'd,
  // survives machine crash; kInterval/kNone: survives process kill).
  // Errors: InvalidArgument (bad topic, empty batch, record too large), Full (disk
  // budget exceeded: retry after trimming), IOError (storage failed; the store refuses
  // writes until reopened), Unavailable (store closing), FailedPrecondition (read-only).
  Result<AppendResult> Append(const TopicPartition& tp,
                              std::span<const RecordInput> records);

  // As Append, but returns at once; `done` runs once the outcome is known on the thread
  // that executed the write (the writer thread, or a blocking Append caller's), so it
  // must not block. The records are encoded before this returns.
  void AppendAsync(const TopicPartition& tp,
                   std::span<const RecordInput> records,
                   AppendCallback done);

  // Appends several partitions' records as ONE queued operation: one group-commit entry,
  // one write (fsync'd under kAlways, as Append), one callback. Each entry's records get
  // consecutive offsets of its partition; entries naming the same partition follow each
  // other in order. `done` receives one result per entry, in order, on the thread that
  // executed the write; it must not block. Each entry is validated on its own
  // (InvalidArgument for a bad topic, an empty entry or a record too large fails only
  // that entry); Full, IOError, Unavailable and FailedPrecondition fail every entry
  // that was valid. All records are encoded before this returns. An empty `appends`
  // completes at once with no results.
  void AppendManyAsync(std::span<const PartitionAppend> appends, AppendManyCallback done);

  // Reads records of `tp` starting at `from` (or at the first readable offset if `from`
  // was trimmed; each record carries its offset). Returns an empty vector at the end.
  // A corrupt record ends the batch before it; if it is the first one, the result is a
  // Corruption error naming topic/partition/offset. Errors: NotFound (unknown
  // partition), InvalidArgument (`from` beyond the next offset).
  Result<std::vector<Record>> Read(const TopicPartition& tp,
                                   Offset from,
                                   const ReadOptions& options = {}) const;

  // Sets `group`'s committed offset on `tp` to `offset` (the next offset it will
  // consume) unless it is already higher: committed offsets never move backwards.
  // Returns the committed offset after the call. Durable (fsync'd) before returning.
  // Errors: NotFound (unknown partition), InvalidArgument (offset beyond next, bad group
  // name), IOError, FailedPrecondition (read-only).
  Result<Offset> Commit(const TopicPartition& tp,
                        const std::string& group,
                        Offset offset);
  using CommitCallback = std::function<void(Result<Offset>)>;
  void CommitAsync(const TopicPartition& tp,
                   const std::string& group,
                   Offset offset,
                   CommitCallback done);

  // Deletes every record of `tp` below `offset` (clamped to next): the trim point moves
  // first, so reads stop returning them at once, and the bytes go on the next
  // compaction. Durable before returning. Errors as Commit.
  Status TrimTo(const TopicPartition& tp, Offset offset);

  // One maintenance pass, as the background thread runs it: trims below the lowest
  // committed offset (if Options::trim_committed), applies retention by bytes and age,
  // refreshes disk usage, and compacts trimmed records away when they hold space that is
  // wanted back (see Options::reclaim_slack_bytes). Returns after it finished.
  Status RunMaintenance();

  // First readable and next offsets of `tp`, from memory (cheap: no reads). NotFound
  // for a partition never appended to.
  struct Bounds {
    Offset first;
    Offset next;
  };
  Result<Bounds> GetBounds(const TopicPartition& tp) const;

  // Partitions known to the store, in (topic, partition) order.
  std::vector<TopicPartition> Partitions() const;
  Result<PartitionStats> Stats(const TopicPartition& tp) const;
  std::vector<PartitionStats> AllStats() const;
  StoreStats GetStoreStats() const;

  // Reads and checks every stored record and meta entry.
  VerifyReport Verify() const;

  // Secondary instances only: catches up with the primary's latest writes.
  Status CatchUp();

  class Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tp::wal
