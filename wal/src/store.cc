// Store: RocksDB-backed partitioned log with group commit.
//
// One executor at a time owns every mutation. Callers encode and checksum their records
// on their own thread and queue them; the writer thread turns everything queued into one
// WriteBatch and one (synced) write, publishes the new offsets and leaves the callers'
// callbacks to the delivery thread. A blocking caller that finds the store idle (nothing
// queued, nobody writing, no callback pending) executes its own write on its own thread
// instead: that saves the two thread handoffs that otherwise dominate a small unsynced
// append. Because in-memory offsets move only after the write returned, readers never
// see a record that a crash could take back.
//
// Trimming moves the partition's trim point and range-deletes the records below it in
// one batch. Trimmed records still in a memtable never reach disk (the flush drops what
// a range deletion covers), and RocksDB's own compactions drop the rest; the maintenance
// pass forces a compaction only when trimmed bytes hold space that is wanted back.
#include "wal/store.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>

#include "key_format.h"
#include "record_codec.h"
#include "tp/log.h"
#include "tp/thread_name.h"
#include "wal/rocksdb_tuning.h"

namespace tp::wal {
namespace {

constexpr char kRecordsCf[] = "records";
constexpr char kMetaCf[] = "meta";
constexpr auto kDiskUsageRefresh = std::chrono::milliseconds(200);

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok())
    return Status::Ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption())
    return Status::Corruption(std::move(msg));
  if (s.IsNotFound())
    return Status::NotFound(std::move(msg));
  if (s.IsInvalidArgument() || s.IsNotSupported()) {
    return Status::InvalidArgument(std::move(msg));
  }
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) {
    return Status::Unavailable(std::move(msg));
  }
  return Status::IOError(std::move(msg));
}

// Errors after which the store must stop writing: the on-disk state is unknown.
bool IsPermanent(const Status& s) {
  return s.code() == StatusCode::kIOError || s.code() == StatusCode::kCorruption ||
         s.code() == StatusCode::kInternal;
}

bool IsValidGroupName(std::string_view group) {
  if (group.empty() || group.size() > 200)
    return false;
  for (char c : group) {
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
      return false;
  }
  return true;
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string EncodeTrimPoint(uint64_t first, uint64_t bytes_before) {
  std::string v;
  keys::PutBE64(&v, first);
  keys::PutBE64(&v, bytes_before);
  return v;
}

std::string EncodeU64(uint64_t v) {
  std::string out;
  keys::PutBE64(&out, v);
  return out;
}

// True if `dir` holds nothing but files RocksDB writes before CURRENT exists: a process
// killed during the very first open leaves these behind, and reopening must finish the
// creation instead of refusing the directory.
bool OnlyRocksDbCreationFiles(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool rocksdb_file = name == "LOCK" || name == "IDENTITY" ||
                              name.starts_with("LOG") || name.starts_with("MANIFEST-") ||
                              name.starts_with("OPTIONS-") || name.ends_with(".dbtmp") ||
                              name.ends_with(".log") || name.ends_with(".sst");
    if (!rocksdb_file)
      return false;
  }
  return !ec;
}

using PartitionKey = std::pair<uint32_t, uint32_t>;  // (topic id, partition)

struct PartitionState {
  TopicPartition tp;
  uint32_t topic_id = 0;
  // Published after the write that made them true returned.
  std::atomic<uint64_t> first{0};
  std::atomic<uint64_t> first_bytes{0};  // cumulative bytes before `first`
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> total_bytes{0};  // cumulative bytes before `next`

  mutable std::mutex groups_mu;
  std::map<std::string, uint64_t> committed;  // REQUIRES: groups_mu held
};

struct WriteOp {
  enum class Kind { kAppend, kAppendMany, kCommit, kTrim, kMaintenance };
  // kAppendMany: one partition's encoded, unsealed records and the index of its result.
  struct Part {
    TopicPartition tp;
    EncodedRecords values;
    size_t index = 0;
  };
  Kind kind = Kind::kAppend;
  TopicPartition tp;
  EncodedRecords values;    // kAppend: encoded, unsealed records
  uint32_t records = 0;     // kAppend, kAppendMany: records held
  std::vector<Part> parts;  // kAppendMany: the entries that passed validation
  // kAppendMany: one per requested entry; invalid entries hold their error already.
  std::vector<Result<AppendResult>> results;
  AppendManyCallback many_done;
  std::string group;    // kCommit
  uint64_t offset = 0;  // kCommit, kTrim
  AppendCallback append_done;
  Store::CommitCallback commit_done;
  std::function<void(Status)> status_done;

  // The outcome, set by the executor and handed to the callback by Deliver.
  Status status;
  AppendResult appended;   // kAppend
  uint64_t committed = 0;  // kCommit: the group's committed offset after the write
};

bool IsAppend(const WriteOp& op) {
  return op.kind == WriteOp::Kind::kAppend || op.kind == WriteOp::Kind::kAppendMany;
}

// Completes a kAppendMany op whose valid entries all failed with `s`.
void FailMany(WriteOp* op, const Status& s) {
  for (const WriteOp::Part& part : op->parts)
    op->results[part.index] = s;
  auto done = std::move(op->many_done);
  op->many_done = nullptr;
  done(std::move(op->results));
}

// Hands an executed op's outcome to its caller.
void Deliver(WriteOp& op) {
  const Status& s = op.status;
  switch (op.kind) {
    case WriteOp::Kind::kAppend:
      return s.ok() ? op.append_done(op.appended) : op.append_done(s);
    case WriteOp::Kind::kAppendMany:
      if (!s.ok())
        return FailMany(&op, s);
      return op.many_done(std::move(op.results));
    case WriteOp::Kind::kCommit:
      return s.ok() ? op.commit_done(Offset(op.committed)) : op.commit_done(s);
    case WriteOp::Kind::kTrim:
    case WriteOp::Kind::kMaintenance:
      return op.status_done(s);
  }
}

// Hands the outcome of an op to the blocking caller waiting for it. Cheaper than a
// std::promise when the op ran inline on the caller's own thread: no call_once wake.
template <typename T>
class Completion {
 public:
  std::function<void(T)> Callback() {
    // Notifies under the lock: once the waiter sees the value it may return and
    // destroy this object, so nothing may touch it after the lock is released.
    return [this](T value) {
      std::lock_guard lock(mu_);
      value_.emplace(std::move(value));
      cv_.notify_one();
    };
  }
  T Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return value_.has_value(); });
    return std::move(*value_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<T> value_;
};

}  // namespace

class Store::Impl {
 public:
  Impl(Options options, std::filesystem::path dir, bool secondary)
      : options_(std::move(options)), dir_(std::move(dir)), secondary_(secondary) {}

  ~Impl() { Close(); }

  Status OpenDb(const std::filesystem::path& scratch_dir);
  Status LoadState();
  void StartThreads();
  void Close();

  // kRunInline: the caller blocks until `done` ran anyway, so it may execute the write
  // itself when the store is idle. kQueue: `done` runs on the writer thread.
  enum class Execution { kQueue, kRunInline };
  void EnqueueAppend(const TopicPartition& tp,
                     std::span<const RecordInput> records,
                     AppendCallback done,
                     Execution execution);
  void EnqueueAppendMany(std::span<const PartitionAppend> appends,
                         AppendManyCallback done);
  void Enqueue(std::unique_ptr<WriteOp> op, Execution execution = Execution::kQueue);

  Result<std::vector<Record>> Read(const TopicPartition& tp,
                                   Offset from,
                                   const ReadOptions& options) const;
  Status RunMaintenance();
  std::vector<TopicPartition> Partitions() const;
  Result<Store::Bounds> GetBounds(const TopicPartition& tp) const {
    const PartitionState* ps = Find(tp);
    if (!ps)
      return Status::NotFound("unknown partition " + tp.ToString());
    return Store::Bounds{Offset(ps->first.load(std::memory_order_acquire)),
                         Offset(ps->next.load(std::memory_order_acquire))};
  }
  Result<PartitionStats> Stats(const TopicPartition& tp) const;
  std::vector<PartitionStats> AllStats() const;
  StoreStats GetStoreStats() const;
  VerifyReport Verify() const;
  Status CatchUp();
  // OK, or why writes are refused: read-only instance, or a permanent storage error.
  Status WritableOrError() const;

 private:
  struct Staged {
    PartitionState* ps = nullptr;
    std::unique_ptr<PartitionState> created;  // new partition, not yet visible
    uint64_t next = 0;
    uint64_t total = 0;
    std::map<std::string, uint64_t> commits;
  };
  struct GroupCommit {
    rocksdb::WriteBatch batch;
    std::map<PartitionKey, Staged> staged;
    std::map<std::string, uint32_t> new_topics;
    std::vector<std::pair<WriteOp*, Staged*>> commits;
    uint32_t records = 0;
  };

  PartitionState* Find(const TopicPartition& tp) const;
  PartitionState* FindLocked(const TopicPartition& tp) const;  // REQUIRES: state_mu_

  void WriterLoop();
  void BackgroundLoop();
  // Moves queued ops into `ops`, oldest first, up to max_group_commit_records; with
  // appends_only it stops at the first op that is not an append. REQUIRES: queue_mu_
  void TakeGroup(std::vector<std::unique_ptr<WriteOp>>& ops, bool appends_only);
  // Runs `ops` (appends, commits, trims, maintenance) in order and sets their outcomes;
  // the caller delivers them. Caller is the executor.
  void Execute(std::vector<std::unique_ptr<WriteOp>>& ops);
  // Stages and writes `ops` in one batch; sets each op's outcome, calls no callback.
  void RunGroupCommit(std::span<WriteOp* const> ops, GroupCommit& gc);
  Staged* StagePartition(GroupCommit& gc, const TopicPartition& tp, bool create);
  void StageAppend(GroupCommit& gc, WriteOp* op);
  void StageAppendMany(GroupCommit& gc, WriteOp* op);
  // Seals `values` and puts them at the staged partition's next offsets.
  AppendResult StageRecords(GroupCommit& gc,
                            const TopicPartition& tp,
                            EncodedRecords& values);
  // InvalidArgument naming the problem, or OK. `records` must not be empty.
  Status CheckRecordSizes(std::span<const RecordInput> records) const;
  void StageCommit(GroupCommit& gc, WriteOp* op);
  Status Write(rocksdb::WriteBatch* batch, bool force_sync);
  struct TrimTarget {
    PartitionState* ps;
    uint64_t target;
  };
  // Trims every partition below its target in one synced write batch.
  Status DoTrim(std::span<const TrimTarget> targets);
  Status DoMaintenancePass();
  bool ReclaimDue() const;
  Status Reclaim();
  void RefreshDiskUsage();

  Result<uint64_t> BytesBefore(const PartitionState& ps, uint64_t offset) const;
  Result<PublishTime> PublishTimeAt(const PartitionState& ps, uint64_t offset) const;

  const Options options_;
  const std::filesystem::path dir_;
  const bool secondary_;
  std::shared_ptr<spdlog::logger> log_ = Logger("wal");

  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* records_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;

  // Topic and partition maps. Entries are never removed, so PartitionState pointers
  // stay valid; the writer thread (or CatchUp) inserts under the unique lock.
  mutable std::shared_mutex state_mu_;
  std::map<std::string, uint32_t> topic_ids_;
  std::map<PartitionKey, std::unique_ptr<PartitionState>> partitions_;
  uint32_t next_topic_id_ = 1;  // writer thread only (after LoadState)

  // Set once by the writer thread on a permanent error.
  mutable std::mutex failure_mu_;
  std::optional<Status> failure_;  // REQUIRES: failure_mu_
  std::atomic<bool> failed_{false};

  std::atomic<uint64_t> disk_usage_{0};
  std::atomic<uint64_t> sst_bytes_{0};
  std::atomic<bool> full_{false};
  // Steady-clock ticks; refreshed by the writer and by maintenance passes.
  std::atomic<std::chrono::steady_clock::rep> last_usage_refresh_{0};
  // Partitions trimmed since the last Reclaim (one range deletion each).
  std::atomic<uint64_t> range_deletions_since_reclaim_{0};

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<WriteOp>> queue_;  // REQUIRES: queue_mu_
  bool stopping_ = false;                       // REQUIRES: queue_mu_
  // The writer thread or an inline caller is executing. REQUIRES: queue_mu_
  bool executing_ = false;
  std::thread writer_;

  // Ops the writer executed, waiting for their callbacks: the deliverer runs them, so
  // the writer starts the next group's write instead.
  void DeliveryLoop();
  std::mutex delivery_mu_;
  std::condition_variable delivery_cv_;
  std::deque<std::vector<std::unique_ptr<WriteOp>>>
      deliveries_;                        // REQUIRES: delivery_mu_
  bool delivery_stopping_ = false;        // REQUIRES: delivery_mu_
  std::atomic<uint64_t> undelivered_{0};  // groups executed, callbacks not all run
  std::thread deliverer_;

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool bg_stopping_ = false;  // REQUIRES: bg_mu_
  std::thread background_;
};

// ---- open, load, close ----

Status Store::Impl::OpenDb(const std::filesystem::path& scratch_dir) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(dir_, ec);
  if (exists && !std::filesystem::is_directory(dir_, ec)) {
    return Status::InvalidArgument(dir_.string() + " is not a directory");
  }
  const bool has_current = std::filesystem::exists(dir_ / "CURRENT", ec);
  if (secondary_ && !exists) {
    return Status::NotFound("log directory " + dir_.string() + " does not exist");
  }
  if (exists && !has_current && (secondary_ || !OnlyRocksDbCreationFiles(dir_))) {
    return Status::InvalidArgument(dir_.string() +
                                   " is not a log directory (no RocksDB CURRENT file)");
  }

  rocksdb::Options db_options;
  rocksdb::ColumnFamilyOptions records_options;
  ApplyRecordsTuning(&db_options, &records_options);
  db_options.create_if_missing = !secondary_;
  db_options.create_missing_column_families = !secondary_;
  db_options.keep_log_file_num = 5;
  // A WAL file is deleted once every family with data in it has flushed. Maintenance
  // no longer flushes after each trim, so the meta family's commits, small and rarely
  // flushed on their own, would keep every WAL file since; past this size RocksDB
  // flushes the families that hold the oldest one.
  db_options.max_total_wal_size = 128 << 20;
  if (secondary_)
    db_options.max_open_files = -1;  // required for secondary instances

  rocksdb::ColumnFamilyOptions meta_options;
  meta_options.write_buffer_size = 4 << 20;

  if (secondary_) {
    std::vector<std::string> cf_names;
    auto s = rocksdb::DB::ListColumnFamilies(db_options, dir_.string(), &cf_names);
    if (!s.ok())
      return FromRocks(s, "list column families of " + dir_.string());
    for (const char* needed : {kRecordsCf, kMetaCf}) {
      if (std::find(cf_names.begin(), cf_names.end(), needed) == cf_names.end()) {
        return Status::InvalidArgument(dir_.string() +
                                       " is a RocksDB database but not a log (no '" +
                                       needed + "' column family)");
      }
    }
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kRecordsCf, records_options},
      {kMetaCf, meta_options}};
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (secondary_) {
    std::filesystem::create_directories(scratch_dir, ec);
    s = rocksdb::DB::OpenAsSecondary(
        db_options, dir_.string(), scratch_dir.string(), cfs, &handles_, &raw);
  } else {
    s = rocksdb::DB::Open(db_options, dir_.string(), cfs, &handles_, &raw);
  }
  if (!s.ok())
    return FromRocks(s, "open log " + dir_.string());
  db_.reset(raw);
  records_cf_ = handles_[1];
  meta_cf_ = handles_[2];
  return Status::Ok();
}

Status Store::Impl::LoadState() {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), meta_cf_));
  std::optional<uint32_t> version;
  std::map<std::string, uint32_t> topics;
  std::map<PartitionKey, std::pair<uint64_t, uint64_t>> trim_points;
  std::map<PartitionKey, std::map<std::string, uint64_t>> commits;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    std::string_view value(it->value().data(), it->value().size());
    const char prefix = key[0];
    if (prefix == keys::kFormatVersionKey && key.size() == 1 && value.size() == 4) {
      version = keys::GetBE32(value.data());
    } else if (prefix == keys::kTopicPrefix && value.size() == 4) {
      topics[std::string(key.substr(1))] = keys::GetBE32(value.data());
    } else if (prefix == keys::kTrimPointPrefix && key.size() == 9 &&
               value.size() == 16) {
      trim_points[{keys::GetBE32(key.data() + 1), keys::GetBE32(key.data() + 5)}] = {
          keys::GetBE64(value.data()), keys::GetBE64(value.data() + 8)};
    } else if (prefix == keys::kCommitPrefix && key.size() > 9 && value.size() == 8) {
      commits[{keys::GetBE32(key.data() + 1), keys::GetBE32(key.data() + 5)}]
             [std::string(key.substr(9))] = keys::GetBE64(value.data());
    } else {
      return Status::Corruption("unrecognised meta entry with key prefix '" +
                                std::string(1, prefix) + "' in " + dir_.string());
    }
  }
  TP_RETURN_IF_ERROR(FromRocks(it->status(), "scan meta"));

  if (!version) {
    std::unique_ptr<rocksdb::Iterator> rit(
        db_->NewIterator(rocksdb::ReadOptions(), records_cf_));
    rit->SeekToFirst();
    if (!topics.empty() || rit->Valid()) {
      return Status::Corruption(dir_.string() + " holds log data but no format version");
    }
    if (secondary_) {
      return Status::InvalidArgument(dir_.string() + " is an empty, uninitialised log");
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    std::string v;
    keys::PutBE32(&v, keys::kFormatVersion);
    TP_RETURN_IF_ERROR(FromRocks(db_->Put(wo, meta_cf_, keys::FormatVersionKey(), v),
                                 "write format version"));
    version = keys::kFormatVersion;
  }
  if (*version != keys::kFormatVersion) {
    return Status::FailedPrecondition("log format version " + std::to_string(*version) +
                                      " in " + dir_.string() +
                                      " is not supported (this build reads version " +
                                      std::to_string(keys::kFormatVersion) + ")");
  }

  std::map<uint32_t, std::string> topic_names;
  for (const auto& [name, id] : topics) {
    topic_names[id] = name;
    next_topic_id_ = std::max(next_topic_id_, id + 1);
  }

  std::unique_lock lock(state_mu_);
  topic_ids_ = topics;
  for (const auto& [pkey, trim] : trim_points) {
    auto name = topic_names.find(pkey.first);
    if (name == topic_names.end()) {
      return Status::Corruption("trim point for unknown topic id " +
                                std::to_string(pkey.first));
    }
    auto& slot = partitions_[pkey];
    if (!slot) {
      slot = std::make_unique<PartitionState>();
      slot->tp = TopicPartition{name->second, PartitionId(pkey.second)};
      slot->topic_id = pkey.first;
    }
    PartitionState& ps = *slot;
    uint64_t first = trim.first;
    uint64_t first_bytes = trim.second;
    uint64_t next = first;
    uint64_t total = first_bytes;
    std::unique_ptr<rocksdb::Iterator> rit(
        db_->NewIterator(rocksdb::ReadOptions(), records_cf_));
    rit->SeekForPrev(keys::RecordKey(pkey.first, pkey.second, UINT64_MAX));
    if (rit->Valid()) {
      auto decoded = keys::DecodeRecordKey({rit->key().data(), rit->key().size()});
      if (decoded && decoded->topic_id == pkey.first &&
          decoded->partition == pkey.second && decoded->offset >= first) {
        next = decoded->offset + 1;
        auto before = DecodeBytesBefore({rit->value().data(), rit->value().size()});
        // A damaged last record leaves the byte count an estimate; offsets stay exact.
        total = (before.ok() ? *before : first_bytes) + rit->value().size();
      }
    }
    TP_RETURN_IF_ERROR(FromRocks(rit->status(), "find end of " + ps.tp.ToString()));
    ps.first.store(first, std::memory_order_release);
    ps.first_bytes.store(first_bytes, std::memory_order_release);
    ps.total_bytes.store(total, std::memory_order_release);
    ps.next.store(next, std::memory_order_release);
    std::lock_guard groups(ps.groups_mu);
    ps.committed = commits[pkey];
  }
  return Status::Ok();
}

void Store::Impl::StartThreads() {
  if (secondary_)
    return;
  RefreshDiskUsage();
  deliverer_ = std::thread([this] {
    NameThisThread("wal-delivery");
    DeliveryLoop();
  });
  writer_ = std::thread([this] {
    NameThisThread("wal-writer");
    WriterLoop();
  });
  background_ = std::thread([this] {
    NameThisThread("wal-maintain");
    BackgroundLoop();
  });
}

void Store::Impl::Close() {
  {
    std::lock_guard lock(bg_mu_);
    bg_stopping_ = true;
  }
  bg_cv_.notify_all();
  if (background_.joinable())
    background_.join();
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable())
    writer_.join();
  {
    std::lock_guard lock(delivery_mu_);
    delivery_stopping_ = true;
  }
  delivery_cv_.notify_all();
  if (deliverer_.joinable())
    deliverer_.join();
  if (db_) {
    for (auto* h : handles_)
      db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    handles_.clear();
    db_->Close().PermitUncheckedError();
    db_.reset();
  }
}

// ---- lookups ----

PartitionState* Store::Impl::FindLocked(const TopicPartition& tp) const {
  auto topic = topic_ids_.find(tp.topic);
  if (topic == topic_ids_.end())
    return nullptr;
  auto it = partitions_.find({topic->second, tp.partition.value()});
  return it == partitions_.end() ? nullptr : it->second.get();
}

PartitionState* Store::Impl::Find(const TopicPartition& tp) const {
  std::shared_lock lock(state_mu_);
  return FindLocked(tp);
}

Status Store::Impl::WritableOrError() const {
  if (secondary_)
    return Status::FailedPrecondition("log opened read-only (secondary)");
  if (failed_.load(std::memory_order_acquire)) {
    std::lock_guard lock(failure_mu_);
    return *failure_;
  }
  return Status::Ok();
}

// ---- writer thread ----

Status Store::Impl::CheckRecordSizes(std::span<const RecordInput> records) const {
  for (size_t i = 0; i < records.size(); ++i) {
    const RecordInput& r = records[i];
    uint64_t size = r.key.size() + r.payload.size();
    for (const Header& h : r.headers)
      size += h.key.size() + h.value.size();
    if (size > options_.max_record_bytes) {
      return Status::InvalidArgument("record " + std::to_string(i) + " is " +
                                     std::to_string(size) + " bytes, over the limit of " +
                                     std::to_string(options_.max_record_bytes));
    }
  }
  return Status::Ok();
}

namespace {
Status CheckTopicAndBatch(const TopicPartition& tp,
                          std::span<const RecordInput> records) {
  if (!IsValidTopicName(tp.topic)) {
    return Status::InvalidArgument(
        "topic name must be 1..200 characters of [A-Za-z0-9._-], got '" + tp.topic + "'");
  }
  if (records.empty())
    return Status::InvalidArgument("append of an empty batch");
  return Status::Ok();
}

void EncodeAll(std::span<const RecordInput> records,
               PublishTime now,
               EncodedRecords* values) {
  size_t payload_bytes = 0;
  for (const RecordInput& r : records) {
    payload_bytes += r.payload.size() + r.key.size();
    for (const Header& h : r.headers)
      payload_bytes += h.key.size() + h.value.size() + 32;
  }
  values->Reserve(records.size(), payload_bytes);
  for (const RecordInput& r : records)
    values->Add(r, now);
}
}  // namespace

void Store::Impl::EnqueueAppend(const TopicPartition& tp,
                                std::span<const RecordInput> records,
                                AppendCallback done,
                                Execution execution) {
  if (Status s = WritableOrError(); !s.ok())
    return done(s);
  if (Status s = CheckTopicAndBatch(tp, records); !s.ok())
    return done(s);
  if (Status s = CheckRecordSizes(records); !s.ok())
    return done(s);
  auto op = std::make_unique<WriteOp>();
  op->kind = WriteOp::Kind::kAppend;
  op->tp = tp;
  op->records = static_cast<uint32_t>(records.size());
  EncodeAll(records, PublishTime{std::chrono::microseconds(NowMicros())}, &op->values);
  op->append_done = std::move(done);
  Enqueue(std::move(op), execution);
}

void Store::Impl::EnqueueAppendMany(std::span<const PartitionAppend> appends,
                                    AppendManyCallback done) {
  auto op = std::make_unique<WriteOp>();
  op->kind = WriteOp::Kind::kAppendMany;
  op->results.assign(appends.size(), Result<AppendResult>(AppendResult{}));
  if (Status s = WritableOrError(); !s.ok()) {
    std::fill(op->results.begin(), op->results.end(), Result<AppendResult>(s));
    return done(std::move(op->results));
  }
  op->parts.reserve(appends.size());
  const PublishTime now{std::chrono::microseconds(NowMicros())};
  for (size_t i = 0; i < appends.size(); ++i) {
    const PartitionAppend& a = appends[i];
    Status s = CheckTopicAndBatch(a.tp, a.records);
    if (s.ok())
      s = CheckRecordSizes(a.records);
    if (!s.ok()) {
      op->results[i] = std::move(s);
      continue;
    }
    WriteOp::Part& part = op->parts.emplace_back();
    part.tp = a.tp;
    part.index = i;
    EncodeAll(a.records, now, &part.values);
    op->records += static_cast<uint32_t>(a.records.size());
  }
  if (op->parts.empty())
    return done(std::move(op->results));
  op->many_done = std::move(done);
  Enqueue(std::move(op));
}

void Store::Impl::Enqueue(std::unique_ptr<WriteOp> op, Execution execution) {
  Status refused =
      secondary_ ? WritableOrError() : Status::Unavailable("log store is closing");
  bool run_inline = false;
  {
    std::lock_guard lock(queue_mu_);
    if (!stopping_ && !secondary_) {
      // Only when nothing is queued or waiting for delivery: a queued op of this caller
      // must not be overtaken, nor its callback.
      run_inline = execution == Execution::kRunInline && !executing_ && queue_.empty() &&
                   undelivered_.load() == 0;
      if (run_inline) {
        executing_ = true;
      } else {
        queue_.push_back(std::move(op));
        op = nullptr;
      }
    }
  }
  if (run_inline) {
    std::vector<std::unique_ptr<WriteOp>> ops;
    ops.push_back(std::move(op));
    Execute(ops);
    // An unsynced append takes microseconds: writing the appends that queued up
    // meanwhile costs this caller less than waking the writer thread costs them.
    if (options_.sync != SyncPolicy::kAlways) {
      std::vector<std::unique_ptr<WriteOp>> queued;
      {
        std::lock_guard lock(queue_mu_);
        TakeGroup(queued, /*appends_only=*/true);
      }
      if (!queued.empty()) {
        Execute(queued);
        std::move(queued.begin(), queued.end(), std::back_inserter(ops));
      }
    }
    // Delivered before the writer may run later ops, so each caller's callbacks keep
    // the order of its ops.
    for (auto& executed : ops)
      Deliver(*executed);
    bool wake = false;
    {
      std::lock_guard lock(queue_mu_);
      executing_ = false;
      wake = !queue_.empty() || stopping_;
    }
    if (wake)
      queue_cv_.notify_all();
    return;
  }
  if (op) {
    op->status = std::move(refused);
    return Deliver(*op);
  }
  queue_cv_.notify_all();
}

void Store::Impl::TakeGroup(std::vector<std::unique_ptr<WriteOp>>& ops,
                            bool appends_only) {
  uint32_t records = 0;
  while (!queue_.empty() && (!appends_only || IsAppend(*queue_.front())) &&
         records < options_.max_group_commit_records) {
    records += queue_.front()->records;
    ops.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
}

void Store::Impl::WriterLoop() {
  std::vector<std::unique_ptr<WriteOp>> ops;
  for (;;) {
    ops.clear();
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return !executing_ && (stopping_ || !queue_.empty()); });
      if (queue_.empty())
        return;  // stopping, and everything accepted was done
      executing_ = true;
      TakeGroup(ops, /*appends_only=*/false);
    }
    Execute(ops);
    // Counted before executing_ clears: an inline caller that sees the store idle sees
    // these callbacks pending too.
    undelivered_.fetch_add(1);
    {
      std::lock_guard lock(delivery_mu_);
      deliveries_.push_back(std::move(ops));
    }
    delivery_cv_.notify_one();
    ops.clear();  // moved from
    {
      std::lock_guard lock(queue_mu_);
      executing_ = false;
    }
  }
}

void Store::Impl::DeliveryLoop() {
  std::deque<std::vector<std::unique_ptr<WriteOp>>> batches;
  for (;;) {
    {
      std::unique_lock lock(delivery_mu_);
      delivery_cv_.wait(lock, [&] { return delivery_stopping_ || !deliveries_.empty(); });
      if (deliveries_.empty())
        return;  // stopping, and every executed op was delivered
      batches.swap(deliveries_);
    }
    for (auto& ops : batches) {
      for (auto& op : ops)
        Deliver(*op);
      ops.clear();
      undelivered_.fetch_sub(1);
    }
    batches.clear();
  }
}

void Store::Impl::Execute(std::vector<std::unique_ptr<WriteOp>>& ops) {
  if (std::chrono::steady_clock::now().time_since_epoch().count() -
          last_usage_refresh_.load(std::memory_order_relaxed) >
      std::chrono::steady_clock::duration(kDiskUsageRefresh).count()) {
    RefreshDiskUsage();
  }
  // Appends and commits between two trims/maintenance passes share one write.
  std::vector<WriteOp*> group;
  for (auto& op : ops) {
    if (IsAppend(*op) || op->kind == WriteOp::Kind::kCommit) {
      group.push_back(op.get());
      continue;
    }
    if (!group.empty()) {
      GroupCommit gc;
      RunGroupCommit(group, gc);
      group.clear();
    }
    Status s = WritableOrError();
    if (s.ok()) {
      if (op->kind == WriteOp::Kind::kTrim) {
        PartitionState* ps = Find(op->tp);
        const TrimTarget target{ps, op->offset};
        s = ps ? DoTrim({&target, 1})
               : Status::NotFound("unknown partition " + op->tp.ToString());
      } else {
        s = DoMaintenancePass();
      }
    }
    op->status = std::move(s);
  }
  if (!group.empty()) {
    GroupCommit gc;
    RunGroupCommit(group, gc);
  }
}

Store::Impl::Staged* Store::Impl::StagePartition(GroupCommit& gc,
                                                 const TopicPartition& tp,
                                                 bool create) {
  uint32_t topic_id = 0;
  PartitionState* ps = nullptr;
  {
    std::shared_lock lock(state_mu_);
    if (auto t = topic_ids_.find(tp.topic); t != topic_ids_.end())
      topic_id = t->second;
    ps = FindLocked(tp);
  }
  if (topic_id == 0) {
    if (auto t = gc.new_topics.find(tp.topic); t != gc.new_topics.end()) {
      topic_id = t->second;
    } else if (create) {
      topic_id = next_topic_id_++;
      gc.new_topics[tp.topic] = topic_id;
      std::string id;
      keys::PutBE32(&id, topic_id);
      gc.batch.Put(meta_cf_, keys::TopicKey(tp.topic), id).PermitUncheckedError();
    } else {
      return nullptr;
    }
  }
  const PartitionKey pkey{topic_id, tp.partition.value()};
  if (auto it = gc.staged.find(pkey); it != gc.staged.end())
    return &it->second;
  if (!ps && !create)
    return nullptr;
  Staged& staged = gc.staged[pkey];
  if (ps) {
    staged.ps = ps;
    staged.next = ps->next.load(std::memory_order_relaxed);
    staged.total = ps->total_bytes.load(std::memory_order_relaxed);
  } else {
    staged.created = std::make_unique<PartitionState>();
    staged.created->tp = tp;
    staged.created->topic_id = topic_id;
    staged.ps = staged.created.get();
    gc.batch
        .Put(meta_cf_,
             keys::TrimPointKey(topic_id, tp.partition.value()),
             EncodeTrimPoint(0, 0))
        .PermitUncheckedError();
  }
  return &staged;
}

AppendResult Store::Impl::StageRecords(GroupCommit& gc,
                                       const TopicPartition& tp,
                                       EncodedRecords& values) {
  Staged* staged = StagePartition(gc, tp, /*create=*/true);
  const uint64_t first = staged->next;
  std::string key = keys::RecordKey(staged->ps->topic_id, tp.partition.value(), first);
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string_view value = values.Seal(i, staged->total);
    keys::SetRecordKeyOffset(&key, staged->next);
    gc.batch.Put(records_cf_, key, rocksdb::Slice(value.data(), value.size()))
        .PermitUncheckedError();
    staged->total += value.size();
    ++staged->next;
  }
  gc.records += static_cast<uint32_t>(values.size());
  return AppendResult{Offset(first), static_cast<uint32_t>(values.size())};
}

namespace {
Status FullStatus(uint64_t used, uint64_t budget) {
  return Status::Full("log disk budget exceeded: " + std::to_string(used) + " of " +
                      std::to_string(budget) + " bytes used; retry after trimming");
}
}  // namespace

void Store::Impl::StageAppend(GroupCommit& gc, WriteOp* op) {
  if (full_.load(std::memory_order_acquire)) {
    op->status = FullStatus(disk_usage_.load(), options_.disk_budget_bytes);
    return;
  }
  op->appended = StageRecords(gc, op->tp, op->values);
}

void Store::Impl::StageAppendMany(GroupCommit& gc, WriteOp* op) {
  if (full_.load(std::memory_order_acquire)) {
    op->status = FullStatus(disk_usage_.load(), options_.disk_budget_bytes);
    return;
  }
  for (WriteOp::Part& part : op->parts)
    op->results[part.index] = StageRecords(gc, part.tp, part.values);
}

void Store::Impl::StageCommit(GroupCommit& gc, WriteOp* op) {
  auto fail = [&](Status s) {
    op->status = std::move(s);
  };
  if (!IsValidGroupName(op->group)) {
    return fail(Status::InvalidArgument(
        "consumer group must be 1..200 printable characters without spaces, got '" +
        op->group + "'"));
  }
  Staged* staged = StagePartition(gc, op->tp, /*create=*/false);
  if (!staged)
    return fail(Status::NotFound("unknown partition " + op->tp.ToString()));
  if (op->offset > staged->next) {
    return fail(Status::InvalidArgument(
        "commit of offset " + std::to_string(op->offset) + " on " + op->tp.ToString() +
        " is beyond its next offset " + std::to_string(staged->next)));
  }
  uint64_t current = 0;
  bool known = false;
  if (auto it = staged->commits.find(op->group); it != staged->commits.end()) {
    current = it->second;
    known = true;
  } else {
    std::lock_guard lock(staged->ps->groups_mu);
    if (auto c = staged->ps->committed.find(op->group);
        c != staged->ps->committed.end()) {
      current = c->second;
      known = true;
    }
  }
  if (!known || op->offset > current) {
    const uint64_t value = std::max(op->offset, current);
    staged->commits[op->group] = value;
    gc.batch
        .Put(meta_cf_,
             keys::CommitKey(staged->ps->topic_id, op->tp.partition.value(), op->group),
             EncodeU64(value))
        .PermitUncheckedError();
  }
  gc.commits.emplace_back(op, staged);
}

void Store::Impl::RunGroupCommit(std::span<WriteOp* const> ops, GroupCommit& gc) {
  Status s = WritableOrError();
  if (s.ok()) {
    for (WriteOp* op : ops) {
      if (op->kind == WriteOp::Kind::kAppend) {
        StageAppend(gc, op);
      } else if (op->kind == WriteOp::Kind::kAppendMany) {
        StageAppendMany(gc, op);
      } else {
        StageCommit(gc, op);
      }
    }
    // Commits must be durable before they are reported, whatever the sync policy: a
    // commit that goes backwards after a crash would redeliver acked messages.
    if (gc.batch.Count() > 0)
      s = Write(&gc.batch, /*force_sync=*/!gc.commits.empty());
  }
  if (s.ok()) {
    std::unique_lock lock(state_mu_, std::defer_lock);
    if (!gc.new_topics.empty()) {
      lock.lock();
      for (const auto& [name, id] : gc.new_topics)
        topic_ids_[name] = id;
    }
    for (auto& [pkey, staged] : gc.staged) {
      PartitionState* ps = staged.ps;
      ps->total_bytes.store(staged.total, std::memory_order_release);
      ps->next.store(staged.next, std::memory_order_release);
      if (!staged.commits.empty()) {
        std::lock_guard groups(ps->groups_mu);
        for (const auto& [group, offset] : staged.commits)
          ps->committed[group] = offset;
      }
      if (staged.created) {
        if (!lock.owns_lock())
          lock.lock();
        partitions_[pkey] = std::move(staged.created);
      }
    }
  } else {
    // Nothing of this batch is visible; offsets handed out in staging are reused.
    if (gc.new_topics.size() > 0)
      next_topic_id_ -= static_cast<uint32_t>(gc.new_topics.size());
  }
  if (s.ok()) {
    for (auto& [op, staged] : gc.commits) {
      std::lock_guard groups(staged->ps->groups_mu);
      op->committed = staged->ps->committed[op->group];
    }
  } else {
    // Ops refused while staging keep their own status; none of the rest was written.
    for (WriteOp* op : ops) {
      if (op->status.ok())
        op->status = s;
    }
  }
}

Status Store::Impl::Write(rocksdb::WriteBatch* batch, bool force_sync) {
  Status s;
  if (options_.write_fault_hook)
    s = options_.write_fault_hook();
  if (s.ok()) {
    rocksdb::WriteOptions wo;
    wo.sync = force_sync || options_.sync == SyncPolicy::kAlways;
    s = FromRocks(db_->Write(wo, batch), "write to log");
  }
  if (!s.ok() && IsPermanent(s)) {
    std::lock_guard lock(failure_mu_);
    if (!failure_) {
      failure_ = s.WithContext("log store refuses writes after a storage error");
      failed_.store(true, std::memory_order_release);
      SPDLOG_LOGGER_ERROR(log_, "{}", failure_->ToString());
    }
    return *failure_;
  }
  return s;
}

// ---- trimming, retention, maintenance ----

Result<uint64_t> Store::Impl::BytesBefore(const PartitionState& ps,
                                          uint64_t offset) const {
  if (offset >= ps.next.load(std::memory_order_acquire)) {
    return ps.total_bytes.load(std::memory_order_acquire);
  }
  if (offset <= ps.first.load(std::memory_order_acquire)) {
    return ps.first_bytes.load(std::memory_order_acquire);
  }
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(),
                    records_cf_,
                    keys::RecordKey(ps.topic_id, ps.tp.partition.value(), offset),
                    &value);
  if (!s.ok())
    return FromRocks(s, "read " + ps.tp.ToString() + "@" + std::to_string(offset));
  auto before = DecodeBytesBefore(value);
  if (!before.ok()) {
    return before.status().WithContext(ps.tp.ToString() + "@" + std::to_string(offset));
  }
  return *before;
}

Result<PublishTime> Store::Impl::PublishTimeAt(const PartitionState& ps,
                                               uint64_t offset) const {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(),
                    records_cf_,
                    keys::RecordKey(ps.topic_id, ps.tp.partition.value(), offset),
                    &value);
  if (!s.ok())
    return FromRocks(s, "read " + ps.tp.ToString() + "@" + std::to_string(offset));
  Record record;
  TP_RETURN_IF_ERROR(DecodeRecord(value, &record)
                         .WithContext(ps.tp.ToString() + "@" + std::to_string(offset)));
  return record.publish_time;
}

Status Store::Impl::DoTrim(std::span<const TrimTarget> targets) {
  struct Trim {
    PartitionState* ps;
    uint64_t target;
    uint64_t bytes_before;
  };
  std::vector<Trim> trims;
  rocksdb::WriteBatch batch;
  for (const TrimTarget& t : targets) {
    PartitionState* ps = t.ps;
    const uint64_t first = ps->first.load(std::memory_order_acquire);
    const uint64_t target = std::min(t.target, ps->next.load(std::memory_order_acquire));
    if (target <= first)
      continue;
    auto bytes = BytesBefore(*ps, target);
    // A damaged record at the new trim point only makes byte statistics approximate.
    const uint64_t bytes_before = bytes.ok() ? *bytes : ps->first_bytes.load();
    const uint32_t partition = ps->tp.partition.value();
    trims.push_back(Trim{ps, target, bytes_before});
    batch
        .DeleteRange(records_cf_,
                     keys::RecordKey(ps->topic_id, partition, 0),
                     keys::RecordKey(ps->topic_id, partition, target))
        .PermitUncheckedError();
    batch
        .Put(meta_cf_,
             keys::TrimPointKey(ps->topic_id, partition),
             EncodeTrimPoint(target, bytes_before))
        .PermitUncheckedError();
  }
  if (trims.empty())
    return Status::Ok();
  TP_RETURN_IF_ERROR(Write(&batch, /*force_sync=*/true));
  for (const Trim& trim : trims) {
    trim.ps->first_bytes.store(trim.bytes_before, std::memory_order_release);
    trim.ps->first.store(trim.target, std::memory_order_release);
  }
  range_deletions_since_reclaim_.fetch_add(trims.size(), std::memory_order_relaxed);
  return Status::Ok();
}

Status Store::Impl::DoMaintenancePass() {
  std::vector<PartitionState*> all;
  {
    std::shared_lock lock(state_mu_);
    for (auto& [key, ps] : partitions_)
      all.push_back(ps.get());
  }
  const auto now = std::chrono::system_clock::now();
  std::vector<TrimTarget> targets;
  for (PartitionState* ps : all) {
    const uint64_t first = ps->first.load();
    const uint64_t next = ps->next.load();
    uint64_t target = first;
    if (options_.trim_committed) {
      std::lock_guard lock(ps->groups_mu);
      if (!ps->committed.empty()) {
        uint64_t lowest = UINT64_MAX;
        for (const auto& [group, offset] : ps->committed)
          lowest = std::min(lowest, offset);
        target = std::max(target, lowest);
      }
    }
    if (options_.retention_bytes > 0) {
      const uint64_t total = ps->total_bytes.load();
      auto at_target = BytesBefore(*ps, target);
      if (at_target.ok() && total - *at_target > options_.retention_bytes) {
        // Smallest offset whose suffix fits the limit; bytes-before grows with offset.
        uint64_t lo = target;
        uint64_t hi = next;
        while (lo < hi) {
          const uint64_t mid = lo + (hi - lo) / 2;
          auto b = BytesBefore(*ps, mid);
          if (!b.ok())
            break;
          if (total - *b <= options_.retention_bytes) {
            hi = mid;
          } else {
            lo = mid + 1;
          }
        }
        target = lo;
      }
    }
    if (options_.retention_age.count() > 0) {
      const auto cutoff = now - options_.retention_age;
      while (target < next) {
        auto t = PublishTimeAt(*ps, target);
        if (!t.ok() || *t >= cutoff)
          break;
        ++target;
      }
    }
    if (target > first)
      targets.push_back({ps, target});
  }
  return DoTrim(targets);
}

namespace {

// The partition part of a record key, for the memtable's insert hints. RocksDB 7.8 keeps
// one hint per prefix for both of a memtable's skip lists, the records' and the range
// deletions', and a hint from one list used in the other corrupts the insert (a failed
// assertion in Debian's build). Every range deletion of the log starts at a partition's
// offset 0, so keys at offset 0 are left out of the domain: range deletions never use a
// hint, and neither does a partition's very first record.
class RecordPartitionPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "tp.wal.RecordPartitionPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), keys::kPartitionKeyPrefixSize);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() == keys::kRecordKeySize && key[0] == keys::kRecordPrefix &&
           keys::GetBE64(key.data() + keys::kPartitionKeyPrefixSize) != 0;
  }
};

}  // namespace

void ApplyRecordsTuning(rocksdb::DBOptions* db, rocksdb::ColumnFamilyOptions* records) {
  db->max_background_jobs = 2;
  db->allow_concurrent_memtable_write = false;
  records->write_buffer_size = 64 << 20;
  records->memtable_insert_with_hint_prefix_extractor =
      std::make_shared<RecordPartitionPrefix>();
  // On a small machine a compaction competes for a core with the writer thread waking
  // from its fsync, and every group commit waits for the writer: with the compaction at
  // normal priority the broker's writer spent a quarter of its time runnable but not
  // running (docs/BENCHMARKS.md). Compactions only need to keep up on average, so they
  // run at the lowest priority; flushes stay at normal priority, since a full memtable
  // stalls writes. The setting is the env's (the process's pools) and applies from each
  // pool thread's next job; a failure leaves the default, which only costs speed.
  db->env
      ->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW,
                                   rocksdb::CpuPriority::kLow)
      .PermitUncheckedError();
  // Most records are trimmed soon after their consumers commit, so most bytes only ever
  // pass through the flush and the first compaction: compressing them there was CPU
  // spent on files about to be deleted. Levels below keep RocksDB's default.
  const auto supported = rocksdb::GetSupportedCompressions();
  const bool snappy =
      std::find(supported.begin(), supported.end(), rocksdb::kSnappyCompression) !=
      supported.end();
  records->compression_per_level = {
      rocksdb::kNoCompression,
      rocksdb::kNoCompression,
      snappy ? rocksdb::kSnappyCompression : rocksdb::kNoCompression};
}

Status Store::Impl::RunMaintenance() {
  if (Status s = WritableOrError(); !s.ok())
    return s;
  auto op = std::make_unique<WriteOp>();
  op->kind = WriteOp::Kind::kMaintenance;
  Completion<Status> done;
  op->status_done = done.Callback();
  Enqueue(std::move(op));
  Status s = done.Wait();
  RefreshDiskUsage();
  if (ReclaimDue()) {
    Status r = Reclaim();
    if (s.ok())
      s = r;
    RefreshDiskUsage();
  }
  return s;
}

// Forcing a compaction and a flush after every trim rewrote each record once more
// while its consumers kept up: the compaction thread alone used a tenth of the broker's
// CPU in the pipeline benchmark.
// Left alone, a memtable's flush drops the records its range deletions cover, and
// RocksDB's compactions drop trimmed records in SST files as they merge them. That
// leaves three cases where waiting costs more than it saves: the disk budget is half
// used and much of it is trimmed records, the SST files are mostly trimmed records (a
// burst that consumers worked off after it was flushed, and no compaction since), or so
// many range deletions sit in the memtable that every new iterator pays for fragmenting
// them.
bool Store::Impl::ReclaimDue() const {
  constexpr uint64_t kMaxRangeDeletions = 10000;
  const uint64_t range_deletions = range_deletions_since_reclaim_.load();
  if (range_deletions == 0)
    return false;  // nothing a compaction could drop
  if (range_deletions >= kMaxRangeDeletions)
    return true;
  uint64_t untrimmed = 0;
  {
    std::shared_lock lock(state_mu_);
    for (const auto& [key, ps] : partitions_)
      untrimmed += ps->total_bytes.load() - ps->first_bytes.load();
  }
  // Under a budget: only when an eighth of it would come back, since the compaction
  // rewrites every untrimmed record too.
  const uint64_t usage = disk_usage_.load();
  const uint64_t budget = options_.disk_budget_bytes;
  if (budget > 0 && usage > budget / 2 && usage > untrimmed + budget / 8)
    return true;
  // The WAL is left out here: it holds up to max_total_wal_size of records, consumed or
  // not, whatever the pass does.
  return sst_bytes_.load() > 2 * untrimmed + options_.reclaim_slack_bytes;
}

// Runs here, not on the writer thread, so appends continue meanwhile. One compaction of
// the whole records family: partitions' keys interleave in every SST file, and what is
// left after trimming is the small untrimmed tail.
Status Store::Impl::Reclaim() {
  range_deletions_since_reclaim_.store(0);
  rocksdb::CompactRangeOptions cro;
  cro.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  Status s = FromRocks(db_->CompactRange(cro, records_cf_, nullptr, nullptr),
                       "compact trimmed records");
  // Old WAL files are only released once every column family with data in them has
  // flushed; commits live in the meta family.
  Status fs =
      FromRocks(db_->Flush(rocksdb::FlushOptions(), handles_), "flush after trim");
  return s.ok() ? fs : s;
}

void Store::Impl::RefreshDiskUsage() {
  uint64_t sst = 0;
  db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &sst);
  uint64_t wal = 0;
  rocksdb::VectorLogPtr files;
  if (db_->GetSortedWalFiles(files).ok()) {
    for (const auto& f : files)
      wal += f->SizeFileBytes();
  }
  const uint64_t usage = sst + wal;
  sst_bytes_.store(sst, std::memory_order_release);
  disk_usage_.store(usage, std::memory_order_release);
  full_.store(options_.disk_budget_bytes > 0 && usage > options_.disk_budget_bytes,
              std::memory_order_release);
  last_usage_refresh_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                            std::memory_order_relaxed);
}

void Store::Impl::BackgroundLoop() {
  using Clock = std::chrono::steady_clock;
  const bool syncing = options_.sync == SyncPolicy::kInterval;
  const bool maintaining = options_.maintenance_interval.count() > 0;
  if (!syncing && !maintaining)
    return;
  auto next_sync = Clock::now() + options_.sync_interval;
  auto next_maintenance = Clock::now() + options_.maintenance_interval;
  auto last_error_log = Clock::time_point{};
  std::unique_lock lock(bg_mu_);
  while (!bg_stopping_) {
    auto wake = maintaining ? next_maintenance : next_sync;
    if (syncing)
      wake = std::min(wake, next_sync);
    bg_cv_.wait_until(lock, wake, [&] { return bg_stopping_; });
    if (bg_stopping_)
      break;
    lock.unlock();
    Status s;
    if (syncing && Clock::now() >= next_sync) {
      s = FromRocks(db_->SyncWAL(), "periodic WAL sync");
      next_sync = Clock::now() + options_.sync_interval;
    }
    if (maintaining && Clock::now() >= next_maintenance) {
      Status m = RunMaintenance();
      if (s.ok())
        s = m;
      next_maintenance = Clock::now() + options_.maintenance_interval;
    }
    // One line a minute at most: a failing disk would otherwise flood the log.
    if (!s.ok() && Clock::now() - last_error_log > std::chrono::minutes(1)) {
      SPDLOG_LOGGER_ERROR(
          log_, "background log maintenance in {}: {}", dir_.string(), s.ToString());
      last_error_log = Clock::now();
    }
    lock.lock();
  }
}

// ---- reads ----

Result<std::vector<Record>> Store::Impl::Read(const TopicPartition& tp,
                                              Offset from,
                                              const ReadOptions& options) const {
  const PartitionState* ps = Find(tp);
  if (!ps)
    return Status::NotFound("unknown partition " + tp.ToString());
  const uint64_t next = ps->next.load(std::memory_order_acquire);
  const uint64_t first = ps->first.load(std::memory_order_acquire);
  if (from.value() > next) {
    return Status::InvalidArgument("read of " + tp.ToString() + " from offset " +
                                   std::to_string(from.value()) +
                                   " is beyond its next offset " + std::to_string(next));
  }
  std::vector<Record> out;
  const uint64_t start = std::max(from.value(), first);
  if (start >= next || options.max_records == 0)
    return out;

  const std::string upper = keys::RecordKey(ps->topic_id, tp.partition.value(), next);
  const std::string lower = keys::RecordKey(ps->topic_id, tp.partition.value(), start);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  // A reader that keeps up asks for records written moments ago, still in the
  // memtables; a memtable-only iterator finds them without a seek into every level-0
  // file (each of which reads a data block there). A partition's offsets are written in
  // order, so when `start` is in the memtables every later record is too.
  ro.read_tier = rocksdb::kMemtableTier;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, records_cf_));
  it->Seek(lower);
  if (!it->Valid() || it->key() != rocksdb::Slice(lower)) {
    ro.read_tier = rocksdb::kReadAllTier;
    it.reset(db_->NewIterator(ro, records_cf_));
    it->Seek(lower);
  }
  uint64_t bytes = 0;
  for (; it->Valid(); it->Next()) {
    auto key = keys::DecodeRecordKey({it->key().data(), it->key().size()});
    if (!key)
      break;
    const uint64_t expected = start + out.size();
    Record record;
    Status s = key->offset == expected
                   ? DecodeRecord({it->value().data(), it->value().size()}, &record)
                   : Status::Corruption("missing from the log");
    if (!s.ok()) {
      if (!out.empty())
        break;  // hand out the good prefix; the next read reports it
      return Status::Corruption("record " + tp.ToString() + "@" +
                                std::to_string(expected) + ": " + s.message());
    }
    record.offset = Offset(key->offset);
    bytes += record.stored_bytes;
    out.push_back(std::move(record));
    if (out.size() >= options.max_records || bytes >= options.max_bytes)
      break;
  }
  TP_RETURN_IF_ERROR(FromRocks(it->status(), "read " + tp.ToString()));
  if (out.empty()) {  // offsets are dense: below `next` a record must exist
    return Status::Corruption("record " + tp.ToString() + "@" + std::to_string(start) +
                              ": missing from the log");
  }
  return out;
}

std::vector<TopicPartition> Store::Impl::Partitions() const {
  std::shared_lock lock(state_mu_);
  std::vector<TopicPartition> out;
  for (const auto& [key, ps] : partitions_)
    out.push_back(ps->tp);
  std::sort(out.begin(), out.end());
  return out;
}

Result<PartitionStats> Store::Impl::Stats(const TopicPartition& tp) const {
  const PartitionState* ps = Find(tp);
  if (!ps)
    return Status::NotFound("unknown partition " + tp.ToString());
  PartitionStats stats;
  stats.tp = ps->tp;
  const uint64_t first = ps->first.load(std::memory_order_acquire);
  const uint64_t next = ps->next.load(std::memory_order_acquire);
  const uint64_t total = ps->total_bytes.load(std::memory_order_acquire);
  stats.first = Offset(first);
  stats.next = Offset(next);
  stats.bytes = total - ps->first_bytes.load(std::memory_order_acquire);
  std::map<std::string, uint64_t> committed;
  {
    std::lock_guard lock(ps->groups_mu);
    committed = ps->committed;
  }
  uint64_t lowest = committed.empty() ? first : UINT64_MAX;
  for (const auto& [group, offset] : committed) {
    GroupStats g;
    g.group = group;
    g.committed = Offset(offset);
    const uint64_t from = std::clamp(offset, first, next);
    g.backlog_records = next - from;
    auto before = BytesBefore(*ps, from);
    g.backlog_bytes = before.ok() ? total - *before : 0;
    lowest = std::min(lowest, from);
    stats.groups.push_back(std::move(g));
  }
  lowest = std::clamp(lowest, first, next);
  stats.backlog_records = next - lowest;
  auto before = BytesBefore(*ps, lowest);
  stats.backlog_bytes = before.ok() ? total - *before : 0;
  return stats;
}

std::vector<PartitionStats> Store::Impl::AllStats() const {
  std::vector<PartitionStats> out;
  for (const auto& tp : Partitions()) {
    if (auto s = Stats(tp); s.ok())
      out.push_back(std::move(s).value());
  }
  return out;
}

StoreStats Store::Impl::GetStoreStats() const {
  StoreStats stats;
  stats.disk_usage_bytes = disk_usage_.load(std::memory_order_acquire);
  stats.disk_budget_bytes = options_.disk_budget_bytes;
  stats.full = full_.load(std::memory_order_acquire);
  if (failed_.load(std::memory_order_acquire)) {
    std::lock_guard lock(failure_mu_);
    stats.failure = failure_;
  }
  return stats;
}

VerifyReport Store::Impl::Verify() const {
  VerifyReport report;
  std::map<PartitionKey, const PartitionState*> known;
  {
    std::shared_lock lock(state_mu_);
    for (const auto& [key, ps] : partitions_)
      known[key] = ps.get();
  }
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), records_cf_));
  const PartitionState* current = nullptr;
  uint64_t expected_offset = 0;
  uint64_t expected_bytes = 0;
  bool bytes_known = false;
  auto finish_partition = [&] {
    if (current && expected_offset != current->next.load()) {
      report.problems.push_back(current->tp.ToString() + ": records end at offset " +
                                std::to_string(expected_offset) + " but next offset is " +
                                std::to_string(current->next.load()));
    }
  };
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto key = keys::DecodeRecordKey({it->key().data(), it->key().size()});
    if (!key) {
      report.problems.push_back("malformed record key of " +
                                std::to_string(it->key().size()) + " bytes");
      continue;
    }
    auto k = known.find({key->topic_id, key->partition});
    if (k == known.end()) {
      report.problems.push_back("record for unknown topic id " +
                                std::to_string(key->topic_id) + " partition " +
                                std::to_string(key->partition));
      continue;
    }
    const PartitionState* ps = k->second;
    if (ps != current) {
      finish_partition();
      current = ps;
      expected_offset = ps->first.load();
      expected_bytes = ps->first_bytes.load();
      bytes_known = true;
    }
    if (key->offset < ps->first.load() || key->offset >= ps->next.load()) {
      continue;  // below the trim point (awaiting compaction) or written after the scan
                 // began
    }
    if (key->offset != expected_offset) {
      report.problems.push_back(ps->tp.ToString() + ": offsets " +
                                std::to_string(expected_offset) + ".." +
                                std::to_string(key->offset - 1) + " are missing");
    }
    ++report.records_checked;
    std::string_view value(it->value().data(), it->value().size());
    Record record;
    Status s = DecodeRecord(value, &record);
    if (!s.ok()) {
      report.corrupt.push_back({ps->tp, Offset(key->offset), s.message()});
      bytes_known = false;
    } else {
      auto before = DecodeBytesBefore(value);
      if (bytes_known && before.ok() && *before != expected_bytes) {
        report.problems.push_back(ps->tp.ToString() + "@" + std::to_string(key->offset) +
                                  ": byte position " + std::to_string(*before) +
                                  ", expected " + std::to_string(expected_bytes));
      }
      expected_bytes = (before.ok() ? *before : expected_bytes) + value.size();
      bytes_known = true;
    }
    expected_offset = key->offset + 1;
  }
  finish_partition();
  if (!it->status().ok())
    report.problems.push_back("scan failed: " + it->status().ToString());
  return report;
}

Status Store::Impl::CatchUp() {
  if (!secondary_)
    return Status::FailedPrecondition("CatchUp is for secondary instances");
  TP_RETURN_IF_ERROR(FromRocks(db_->TryCatchUpWithPrimary(), "catch up with primary"));
  return LoadState();
}

// ---- Store ----

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const Options& options,
                                           const std::filesystem::path& dir) {
  TP_RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>(options, dir, /*secondary=*/false);
  TP_RETURN_IF_ERROR(impl->OpenDb({}));
  TP_RETURN_IF_ERROR(impl->LoadState());
  impl->StartThreads();
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<std::unique_ptr<Store>> Store::OpenSecondary(
    const std::filesystem::path& dir, const std::filesystem::path& scratch_dir) {
  auto impl = std::make_unique<Impl>(Options{}, dir, /*secondary=*/true);
  TP_RETURN_IF_ERROR(impl->OpenDb(scratch_dir));
  TP_RETURN_IF_ERROR(impl->LoadState());
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<AppendResult> Store::Append(const TopicPartition& tp,
                                   std::span<const RecordInput> records) {
  Completion<Result<AppendResult>> done;
  impl_->EnqueueAppend(tp, records, done.Callback(), Impl::Execution::kRunInline);
  return done.Wait();
}

void Store::AppendAsync(const TopicPartition& tp,
                        std::span<const RecordInput> records,
                        AppendCallback done) {
  impl_->EnqueueAppend(tp, records, std::move(done), Impl::Execution::kQueue);
}

void Store::AppendManyAsync(std::span<const PartitionAppend> appends,
                            AppendManyCallback done) {
  impl_->EnqueueAppendMany(appends, std::move(done));
}

Result<std::vector<Record>> Store::Read(const TopicPartition& tp,
                                        Offset from,
                                        const ReadOptions& options) const {
  return impl_->Read(tp, from, options);
}

namespace {
std::unique_ptr<WriteOp> CommitOp(const TopicPartition& tp,
                                  const std::string& group,
                                  Offset offset,
                                  Store::CommitCallback done) {
  auto op = std::make_unique<WriteOp>();
  op->kind = WriteOp::Kind::kCommit;
  op->tp = tp;
  op->group = group;
  op->offset = offset.value();
  op->commit_done = std::move(done);
  return op;
}
}  // namespace

void Store::CommitAsync(const TopicPartition& tp,
                        const std::string& group,
                        Offset offset,
                        CommitCallback done) {
  impl_->Enqueue(CommitOp(tp, group, offset, std::move(done)));
}

Result<Offset> Store::Commit(const TopicPartition& tp,
                             const std::string& group,
                             Offset offset) {
  Completion<Result<Offset>> done;
  impl_->Enqueue(CommitOp(tp, group, offset, done.Callback()),
                 Impl::Execution::kRunInline);
  return done.Wait();
}

Status Store::TrimTo(const TopicPartition& tp, Offset offset) {
  auto op = std::make_unique<WriteOp>();
  op->kind = WriteOp::Kind::kTrim;
  op->tp = tp;
  op->offset = offset.value();
  Completion<Status> done;
  op->status_done = done.Callback();
  impl_->Enqueue(std::move(op));
  return done.Wait();
}

Status Store::RunMaintenance() {
  return impl_->RunMaintenance();
}
std::vector<TopicPartition> Store::Partitions() const {
  return impl_->Partitions();
}
Result<Store::Bounds> Store::GetBounds(const TopicPartition& tp) const {
  return impl_->GetBounds(tp);
}
Result<PartitionStats> Store::Stats(const TopicPartition& tp) const {
  return impl_->Stats(tp);
}
std::vector<PartitionStats> Store::AllStats() const {
  return impl_->AllStats();
}
StoreStats Store::GetStoreStats() const {
  return impl_->GetStoreStats();
}
VerifyReport Store::Verify() const {
  return impl_->Verify();
}
Status Store::CatchUp() {
  return impl_->CatchUp();
}

}  // namespace tp::wal
