// One (topic, group) pipeline of the reader: buffered messages of the owned partitions,
// leases, commit points. Every member below "strand-owned state" is touched only on
// strand(): HTTP handlers co_spawn onto it, blocking threads post to it and wait on a
// future (they are never io threads). Reader-wide counters are atomics (Shared).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "broker/log_source.h"
#include "broker/membership.h"
#include "broker/reader.h"
#include "tp/metrics/metrics.h"
#include "tp/uuid.h"

namespace tp::broker::internal {

namespace net = boost::asio;
using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;
using Strand = net::strand<net::io_context::executor_type>;

// Reader-wide state shared by every pipeline: immutable after creation, or atomic.
// The writer table is not here: it belongs to the Reader's control strand, and each
// pipeline learns of writers joining and leaving by AddWriter/RemoveWriter on its own
// strand.
struct Shared {
  ReaderOptions options;
  std::atomic<uint64_t> buffered_bytes{0};
  metrics::Gauge* buffer_bytes_gauge = nullptr;
  metrics::Gauge* utilisation_gauge = nullptr;

  void AddBytes(int64_t delta);
};

// Counters of one pipeline, resolved once at creation (labels topic, group).
struct PipelineMetrics {
  metrics::Counter* leases = nullptr;
  metrics::Counter* leased = nullptr;
  metrics::Counter* acked = nullptr;
  metrics::Counter* nacked = nullptr;
  metrics::Counter* redelivered = nullptr;
  metrics::Counter* dead_lettered = nullptr;
  metrics::Gauge* outstanding_leases = nullptr;
};

struct LeaseParams {
  std::string consumer_id;
  uint32_t max = 1;
  std::chrono::seconds lease{30};
  std::chrono::milliseconds wait{0};
};

struct LeasedView {
  std::string msg_uuid;
  uint32_t partition = 0;
  uint64_t offset = 0;
  uint32_t attempt = 0;
  std::shared_ptr<const std::string> payload;
  bool payload_is_json = true;
};

struct LeaseOutcome {
  int status = 200;  // 200, 429 or 503
  std::string detail;
  std::string lease_id;  // empty when no message was ready within wait
  SystemClock::time_point expires_at{};
  std::vector<LeasedView> messages;
};

struct SettleParams {
  std::string lease_id;
  std::optional<std::vector<Uuid>> msg_uuids;  // nullopt: every message of the lease
  std::chrono::milliseconds delay{0};          // nack
  std::chrono::seconds lease{30};              // extend
};

struct SettleOutcome {
  int status = 200;  // 200, 404 or 409
  std::string detail;
  std::size_t count = 0;
  SystemClock::time_point expires_at{};
};

// A writer as a pipeline is told of it: its slot in the Reader's writer table (a slot
// never passes to another address, and RemoveWriter drops a writer's partition state, so
// state under (slot, partition) never mixes two writers' offsets) and the epoch of its
// current activation (replay threads of an earlier one stop).
struct WriterRef {
  std::size_t slot = 0;
  uint64_t epoch = 0;
};

// What a replay thread should do next for one writer.
struct FetchPlan {
  bool stop = false;
  bool need_partition_count = false;
  std::vector<std::pair<uint32_t, uint64_t>> need_init;  // partition, generation
  FetchRequest request;                                  // empty partitions: idle
  std::vector<uint64_t> generations;                     // per request partition
};

struct IncomingRecord {
  uint64_t offset = 0;
  Uuid msg_uuid;
  std::string key;
  int64_t publish_time_us = 0;
  std::shared_ptr<const std::string> payload;
  bool payload_is_json = true;
};

struct IncomingPartition {
  uint32_t partition = 0;
  uint64_t generation = 0;
  uint64_t from = 0;
  uint64_t next_from = 0;
  std::vector<IncomingRecord> records;
};

struct DeadLetterWork {
  std::size_t writer = 0;
  uint32_t partition = 0;
  uint64_t offset = 0;
  DeadLetter letter;
};

class Pipeline : public std::enable_shared_from_this<Pipeline> {
 public:
  Pipeline(Shared* shared,
           net::io_context& ioc,
           std::string topic,
           std::string group,
           uint32_t index,
           PipelineMetrics metrics,
           const std::vector<WriterRef>& writers);

  const std::string& topic() const { return topic_; }
  const std::string& group() const { return group_; }
  uint32_t index() const { return index_; }
  Strand& strand() { return strand_; }

  // ---- Everything below runs on strand(). ----

  // Long-polls up to params.wait for ready messages, then grants one lease.
  static net::awaitable<LeaseOutcome> Lease(std::shared_ptr<Pipeline> self,
                                            LeaseParams params);
  // Expires leases and releases delayed nacks every expiry_scan_interval until Shutdown.
  static net::awaitable<void> ScanLoop(std::shared_ptr<Pipeline> self);

  SettleOutcome Ack(const SettleParams& params);
  SettleOutcome Nack(const SettleParams& params);
  SettleOutcome Extend(const SettleParams& params);

  void SetAssignment(std::optional<Assignment> assignment);
  // A writer joined (or came back): its partitions in range are owned once its
  // partition count is known, and start from the group's committed offsets.
  void AddWriter(WriterRef writer);
  // A writer left: all state of its partitions is dropped, leased messages included
  // (a lease naming them can still be acked, to no effect), so nothing more is
  // committed to it; its replay threads stop. Invariant: a writer that is not active
  // has no partition state here.
  void RemoveWriter(std::size_t writer);
  // Ignored when `epoch` is not the writer's current activation.
  void SetPartitionCount(std::size_t writer, uint64_t epoch, uint32_t count);
  // stop = true once the pipeline stops or `epoch` is no longer the writer's current
  // activation.
  FetchPlan PlanFetch(std::size_t writer, uint64_t epoch);
  void OnInit(std::size_t writer,
              const std::map<uint32_t, uint64_t>& committed,
              const std::vector<std::pair<uint32_t, uint64_t>>& partitions);
  void OnFetched(std::size_t writer, std::vector<IncomingPartition> batch);
  // Commit points above the last committed offset, per writer.
  std::map<std::size_t, std::map<uint32_t, uint64_t>> CollectCommits();
  void OnCommitted(std::size_t writer, const std::map<uint32_t, uint64_t>& committed);
  std::vector<DeadLetterWork> TakeDeadLetters();
  void OnDeadLettered(const std::vector<DeadLetterWork>& work,
                      const std::vector<bool>& ok);
  void StartDrain();
  void Shutdown();
  std::size_t OutstandingLeases() const { return leases_.size(); }
  // Runs one scan now (tests, drain).
  void Scan();

 private:
  using PartKey = std::pair<std::size_t, uint32_t>;  // writer, partition
  enum class MsgState { kReady, kLeased, kDelayed, kDeadPending, kDeadSending };
  struct Msg {
    Uuid msg_uuid;
    std::string key;
    int64_t publish_time_us = 0;
    std::shared_ptr<const std::string> payload;
    bool payload_is_json = true;
    uint32_t attempt = 0;  // times leased
    MsgState state = MsgState::kReady;
    std::size_t bytes = 0;
    SteadyClock::time_point due{};  // kDelayed
  };
  struct PartState {
    bool owned = false;
    bool initialized = false;
    uint64_t generation = 0;
    uint64_t next_fetch = 0;
    uint64_t committed = 0;
    std::map<uint64_t, Msg> msgs;  // fetched, not done
    std::set<uint64_t> ready;
  };
  struct WriterState {
    bool active = false;
    uint64_t epoch = 0;
    std::optional<uint32_t> partition_count;
  };
  struct LeaseItem {
    PartKey part;
    uint64_t offset = 0;
    Uuid msg_uuid;
    bool settled = false;
  };
  struct LeaseEntry {
    std::string consumer_id;
    SteadyClock::time_point deadline;
    SystemClock::time_point expires_at;
    std::vector<LeaseItem> items;
    std::size_t unsettled = 0;
  };
  enum class Tombstone { kExpired, kFinished };
  using LeaseMap = std::unordered_map<std::string, LeaseEntry>;

  LeaseOutcome Grant(const LeaseParams& params,
                     const std::vector<std::pair<PartKey, uint64_t>>& taken);
  std::vector<std::pair<PartKey, uint64_t>> TakeReady(uint32_t max);
  // Looks up a live lease; expires it first if its deadline passed. On failure fills
  // `out` (404/409) and returns end().
  LeaseMap::iterator FindLive(const std::string& lease_id, SettleOutcome& out);
  void ExpireLease(LeaseMap::iterator it);
  void Finish(LeaseMap::iterator it, Tombstone kind);
  // Marks the lease's unsettled items that `params` names (all of them when it names
  // none) settled, counts them in out->count and hands each to `settle`.
  void SettleSelected(LeaseEntry& lease,
                      const SettleParams& params,
                      SettleOutcome* out,
                      const std::function<void(LeaseItem&)>& settle);
  // Puts a leased message back (now or after `delay`), or dead-letters it once it was
  // leased max_attempts times, or drops it when the partition is no longer owned.
  void Return(const PartKey& part,
              uint64_t offset,
              std::chrono::milliseconds delay,
              const std::string& reason);
  void MakeReady(const PartKey& part, PartState& ps, uint64_t offset);
  void Done(PartState& ps, std::map<uint64_t, Msg>::iterator it);
  void Drop(PartState& ps, std::map<uint64_t, Msg>::iterator it);
  void Recompute(std::size_t writer);
  bool WriterActive(std::size_t writer) const {
    return writer < writers_.size() && writers_[writer].active;
  }
  void Wake();
  void UpdateGauges();

  Shared* shared_;
  Strand strand_;
  const std::string topic_;
  const std::string group_;
  const uint32_t index_;
  PipelineMetrics metrics_;

  // ---- strand-owned state ----
  std::optional<Assignment> assignment_;
  std::vector<WriterState> writers_;  // by slot
  std::map<PartKey, PartState> parts_;
  std::set<PartKey> ready_parts_;  // partitions with ready messages (round-robin)
  std::optional<PartKey> rr_cursor_;
  LeaseMap leases_;
  std::multimap<SteadyClock::time_point, std::pair<PartKey, uint64_t>> delayed_;
  std::vector<std::pair<PartKey, uint64_t>> dead_pending_;
  std::unordered_map<std::string, Tombstone> tombstones_;
  std::deque<std::pair<SteadyClock::time_point, std::string>> tombstone_order_;
  std::vector<net::steady_timer*> waiters_;
  net::steady_timer* scan_timer_ = nullptr;
  bool draining_ = false;
  bool stopping_ = false;
};

// Builds one lease id "<pipeline index>-<uuid>" and parses it back.
std::string MakeLeaseId(uint32_t index);
std::optional<uint32_t> PipelineIndexOf(const std::string& lease_id);

// "2024-05-01T12:00:00.123Z"
std::string FormatRfc3339(SystemClock::time_point t);

}  // namespace tp::broker::internal
