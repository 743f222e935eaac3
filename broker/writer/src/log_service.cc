// LogService: the writer's core over the wal.
//
// Publish path: the handler validates and groups a batch by partition, and the
// partitions' shares by the strand that owns them (partition_strands strands, each
// owning a fixed set of partitions). One task per strand touched deduplicates that
// strand's shares against each partition's window of recent msg_uuids (no lock): it
// drops messages already stored (a client retry after a lost answer), refuses ones whose
// first copy is still being written (the client will retry and then see a duplicate),
// and marks the rest in flight. The last strand task hands all partitions' fresh
// messages to the wal as ONE multi-partition append (one group-commit entry, one
// wake-up, one callback). The wal's callback answers the handler and posts the
// bookkeeping (uuids leave the in-flight set and join the stored window) to the strands
// whose partitions had fresh messages, without waiting for it. A request therefore costs
// at most two hops per strand instead of two per partition (only the first on the
// answer's path), and one wal queue entry instead of one per partition.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <span>
#include <unordered_map>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "broker/writer.h"
#include "tp/log.h"
#include "tp/metrics/metrics.h"
#include "tp/uuid_set.h"
#include "wal/store.h"

namespace tp::broker {
namespace asio = boost::asio;

namespace {

constexpr std::string_view kDeadLetterSuffix = ".deadletter";
constexpr auto kFetchPollInterval = std::chrono::milliseconds(5);

// Turns a callback-style operation into an awaitable that resumes on the caller's
// executor. `start` receives the completion function and may call it from any thread.
// Deliberately not a coroutine itself: GCC 12 destroys by-value lambda parameters of
// coroutines twice, so the lambda lives in the initiation object instead.
template <typename T, typename Start>
asio::awaitable<T> AwaitCallback(Start start) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(T)>(
      [](auto handler, Start start) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start([shared](T value) mutable {
          auto executor = asio::get_associated_executor(*shared);
          asio::post(executor, [shared, value = std::move(value)]() mutable {
            std::move (*shared)(std::move(value));
          });
        });
      },
      asio::use_awaitable,
      std::move(start));
}

uint64_t MessageBytes(const PublishMessage& m) {
  return m.key.size() + m.payload.size();
}

}  // namespace

Status CheckMessageCount(size_t count, uint32_t max_messages) {
  if (count == 0)
    return Status::InvalidArgument("messages: must not be empty");
  if (count > max_messages) {
    return Status::InvalidArgument("messages: at most " + std::to_string(max_messages) +
                                   " per request, got " + std::to_string(count));
  }
  return Status::Ok();
}

uint32_t PartitionForKey(std::string_view key, uint32_t partitions) {
  uint64_t hash = 14695981039346656037ULL;  // FNV-1a 64 offset basis
  for (char c : key) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 1099511628211ULL;  // FNV prime
  }
  return static_cast<uint32_t>(hash % partitions);
}

Result<std::vector<TopicConfig>> ParseTopics(std::string_view text) {
  std::vector<TopicConfig> topics;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view entry = text.substr(start, end - start);
    TopicConfig topic;
    size_t colon = entry.find(':');
    topic.name = std::string(entry.substr(0, colon));
    if (colon != std::string_view::npos) {
      std::string count(entry.substr(colon + 1));
      char* parse_end = nullptr;
      unsigned long n = std::strtoul(count.c_str(), &parse_end, 10);
      if (count.empty() || *parse_end != '\0' || n == 0 || n > 65536) {
        return Status::InvalidArgument("topic '" + std::string(entry) +
                                       "': partition count must be 1..65536");
      }
      topic.partitions = static_cast<uint32_t>(n);
    }
    if (!wal::IsValidTopicName(topic.name) || topic.name.ends_with(kDeadLetterSuffix)) {
      return Status::InvalidArgument(
          "topic '" + topic.name +
          "': names are 1..200 characters of [A-Za-z0-9._-] and "
          "may not end in .deadletter");
    }
    for (const auto& t : topics) {
      if (t.name == topic.name) {
        return Status::InvalidArgument("topic '" + topic.name + "' is declared twice");
      }
    }
    topics.push_back(std::move(topic));
    start = end + 1;
  }
  return topics;
}

Status WriterOptions::Validate() const {
  if (topics.empty())
    return Status::InvalidArgument("at least one topic must be declared");
  if (max_inflight_bytes == 0)
    return Status::InvalidArgument("max_inflight_bytes must be > 0");
  if (partition_strands == 0 || partition_strands > 1024)
    return Status::InvalidArgument("partition_strands must be 1..1024");
  if (max_messages_per_publish == 0) {
    return Status::InvalidArgument("max_messages_per_publish must be > 0");
  }
  return wal.Validate();
}

class LogService::Impl {
 public:
  // One partition's dedup state, owned by strand shards_[shard] (no lock).
  struct PartitionOwner {
    explicit PartitionOwner(uint32_t s) : shard(s) {}
    const uint32_t shard;
    UuidSet stored;                 // recently stored msg_uuids
    std::deque<Uuid> stored_order;  // eviction order of `stored`
    UuidSet in_flight;              // being written now
  };
  struct Topic {
    TopicConfig config;
    std::vector<std::unique_ptr<PartitionOwner>> partitions;
  };

  // One partition's messages in a publish: order[begin, end).
  struct Share {
    uint32_t partition = 0;
    PartitionOwner* owner = nullptr;
    uint32_t begin = 0;
    uint32_t end = 0;
    uint32_t fresh = 0;         // messages handed to the wal (set on the strand)
    uint32_t append_index = 0;  // its entry in the wal append
    bool stored = false;        // the wal stored them
  };
  // The consecutive shares owned by one strand: shares[begin, end).
  struct ShardGroup {
    uint32_t shard = 0;
    uint32_t begin = 0;
    uint32_t end = 0;
    bool fresh = false;  // some share has fresh messages: the strand must hear back
  };

  // One publish request, shared by its strand tasks and the wal callback. The dedupe
  // phase hands over to the append by the `pending` countdown (acq_rel) and the wal
  // callback to the settle tasks by posting them, so plain fields written in one phase
  // are read in the next without locks.
  struct PublishJoin {
    const Topic* topic = nullptr;
    std::vector<PublishMessage> messages;
    std::unique_ptr<const std::string> message_bytes;  // what `messages` view
    std::vector<uint32_t> order;  // message indexes by (strand, partition, arrival)
    std::vector<uint8_t> fresh;   // per message: handed to the wal
    std::vector<Share> shares;
    std::vector<ShardGroup> groups;
    std::atomic<int> pending{0};  // groups still to deduplicate
    std::atomic<uint32_t> accepted{0};
    std::atomic<uint32_t> duplicates{0};
    std::mutex error_mu;
    Status error;  // REQUIRES: error_mu held
    uint64_t bytes = 0;
    std::chrono::steady_clock::time_point started;
    std::function<void(Result<PublishResult>)> done;

    void SetError(Status s) {
      std::lock_guard lock(error_mu);
      if (error.ok())
        error = std::move(s);
    }
  };

  Impl(WriterOptions options, asio::any_io_executor executor, metrics::Registry* registry)
      : options_(std::move(options)), executor_(std::move(executor)) {
    for (uint32_t i = 0; i < options_.partition_strands; ++i)
      shards_.push_back(asio::make_strand(executor_));
    uint32_t next_shard = 0;
    for (const auto& config : options_.topics) {
      Topic topic;
      topic.config = config;
      for (uint32_t p = 0; p < config.partitions; ++p) {
        topic.partitions.push_back(std::make_unique<PartitionOwner>(next_shard));
        next_shard = (next_shard + 1) % options_.partition_strands;
      }
      topics_.emplace(config.name, std::move(topic));
    }
    if (registry)
      RegisterMetrics(*registry);
  }

  Status Open(const std::filesystem::path& dir) {
    TP_ASSIGN_OR_RETURN(store_, wal::Store::Open(options_.wal, dir));
    return Status::Ok();
  }

  void RegisterMetrics(metrics::Registry& r) {
    published_ = &r.AddCounter("tp_broker_publish_messages_total",
                               "Messages accepted and stored by publish requests");
    duplicates_ =
        &r.AddCounter("tp_broker_publish_duplicates_total",
                      "Published messages answered as duplicates of stored ones");
    rejected_ = &r.AddCounterFamily("tp_broker_publish_rejected_total",
                                    "Publish requests refused, by reason",
                                    {"reason"});
    append_latency_ = &r.AddHistogram("tp_broker_append_seconds",
                                      "Time from handing a batch to the log until it is "
                                      "durable (group commit incl. fsync)");
    commits_ = &r.AddCounter("tp_broker_commits_total", "Partition offsets committed");
    dead_letters_ = &r.AddCounter("tp_broker_dead_letters_total",
                                  "Messages appended to a dead-letter log");
    r.AddCallbackGauge("tp_broker_publish_buffer_bytes",
                       "Bytes of publishes accepted but not yet durable",
                       [this] { return static_cast<double>(inflight_bytes_.load()); });
    r.AddCallbackGauge("tp_broker_publish_buffer_utilisation",
                       "Publish buffer use, 0..1 (429 at 1)",
                       [this] {
                         return static_cast<double>(inflight_bytes_.load()) /
                                static_cast<double>(options_.max_inflight_bytes);
                       });
    r.AddCallbackGauge(
        "tp_broker_log_disk_bytes", "Bytes of the log's files on disk", [this] {
          return store_ ? static_cast<double>(store_->GetStoreStats().disk_usage_bytes)
                        : 0.0;
        });
  }

  void Reject(std::string_view reason) {
    if (rejected_)
      rejected_->WithLabels({reason}).Inc();
  }

  const WriterOptions& options() const { return options_; }

  const Topic* FindTopic(const std::string& name) const {
    auto it = topics_.find(name);
    return it == topics_.end() ? nullptr : &it->second;
  }

  Result<const Topic*> TopicOrError(const std::string& name) const {
    const Topic* topic = FindTopic(name);
    if (!topic)
      return Status::NotFound("unknown topic '" + name + "'");
    return topic;
  }

  // ---- publish ----

  Status Admit(const std::string& topic_name,
               std::vector<PublishMessage>& messages,
               const Topic** topic,
               uint64_t* bytes) {
    if (draining_.load()) {
      Reject("draining");
      return Status::Unavailable("writer is draining and takes no publishes");
    }
    TP_ASSIGN_OR_RETURN(*topic, TopicOrError(topic_name));
    TP_RETURN_IF_ERROR(
        CheckMessageCount(messages.size(), options_.max_messages_per_publish));
    *bytes = 0;
    for (size_t i = 0; i < messages.size(); ++i) {
      if (messages[i].key.size() > options_.max_key_bytes) {
        return Status::InvalidArgument("messages[" + std::to_string(i) +
                                       "].key: longer than " +
                                       std::to_string(options_.max_key_bytes) + " bytes");
      }
      if (!messages[i].msg_uuid)
        messages[i].msg_uuid = Uuid::NewV7();
      *bytes += MessageBytes(messages[i]);
    }
    const auto store_stats = store_->GetStoreStats();
    if (store_stats.failure)
      return *store_stats.failure;
    if (store_stats.full) {
      Reject("disk_full");
      return Status::Full("log disk budget exceeded");
    }
    uint64_t current = inflight_bytes_.load();
    do {
      if (current + *bytes > options_.max_inflight_bytes && current > 0) {
        Reject("buffer_full");
        return Status::Full("publish buffer full (" + std::to_string(current) +
                            " bytes in flight)");
      }
    } while (!inflight_bytes_.compare_exchange_weak(current, current + *bytes));
    return Status::Ok();
  }

  // Builds the request's shares (one per partition, grouped by owning strand) and posts
  // each group to its strand: one hop per strand touched, not per partition.
  void StartPublish(const Topic& topic,
                    PublishBatch batch,
                    uint64_t bytes,
                    std::function<void(Result<PublishResult>)> done) {
    auto join = std::make_shared<PublishJoin>();
    join->topic = &topic;
    join->messages = std::move(batch.messages);
    join->message_bytes = std::move(batch.bytes);
    join->bytes = bytes;
    join->done = std::move(done);
    join->started = std::chrono::steady_clock::now();
    const size_t n = join->messages.size();
    const uint32_t partitions = topic.config.partitions;
    std::vector<uint32_t> partition_of(n);
    for (size_t i = 0; i < n; ++i) {
      const PublishMessage& m = join->messages[i];
      partition_of[i] =
          m.key.empty()
              ? PartitionForKey(
                    {reinterpret_cast<const char*>(m.msg_uuid->bytes().data()), 16},
                    partitions)
              : PartitionForKey(m.key, partitions);
    }
    // Order by (strand, partition, arrival): a stable sort keeps each partition's
    // messages in request order, so their offsets follow it.
    join->order.resize(n);
    for (size_t i = 0; i < n; ++i)
      join->order[i] = static_cast<uint32_t>(i);
    auto rank = [&](uint32_t i) {
      const uint32_t p = partition_of[i];
      return std::pair(topic.partitions[p]->shard, p);
    };
    std::stable_sort(join->order.begin(), join->order.end(), [&](uint32_t a, uint32_t b) {
      return rank(a) < rank(b);
    });
    for (uint32_t k = 0; k < n; ++k) {
      const uint32_t p = partition_of[join->order[k]];
      if (join->shares.empty() || join->shares.back().partition != p) {
        Share& share = join->shares.emplace_back();
        share.partition = p;
        share.owner = topic.partitions[p].get();
        share.begin = k;
      }
      join->shares.back().end = k + 1;
    }
    for (uint32_t k = 0; k < join->shares.size(); ++k) {
      const uint32_t shard = join->shares[k].owner->shard;
      if (join->groups.empty() || join->groups.back().shard != shard)
        join->groups.push_back({shard, k, k});
      join->groups.back().end = k + 1;
    }
    join->fresh.assign(n, 0);
    join->pending = static_cast<int>(join->groups.size());
    for (const ShardGroup& group : join->groups) {
      asio::post(shards_[group.shard],
                 [this, join, group] { DedupeOnStrand(join, group); });
    }
  }

  // Runs on the group's strand: drops messages already stored, refuses ones whose first
  // copy is still being written, and marks the rest in flight. The last group to finish
  // hands every partition's fresh messages to the wal in one append.
  void DedupeOnStrand(const std::shared_ptr<PublishJoin>& join, ShardGroup group) {
    uint32_t duplicates = 0;
    for (uint32_t k = group.begin; k < group.end; ++k) {
      Share& share = join->shares[k];
      PartitionOwner& owner = *share.owner;
      bool refused = false;
      for (uint32_t j = share.begin; j < share.end && !refused; ++j) {
        const Uuid& id = *join->messages[join->order[j]].msg_uuid;
        if (owner.in_flight.contains(id)) {
          refused = true;
          join->SetError(
              Status::Unavailable("message " + id.ToString() +
                                  " is still being stored by an earlier request; retry"));
        }
      }
      if (refused)
        continue;  // nothing of this partition is written
      for (uint32_t j = share.begin; j < share.end; ++j) {
        const uint32_t i = join->order[j];
        const Uuid& id = *join->messages[i].msg_uuid;
        if (owner.stored.contains(id) || !owner.in_flight.insert(id)) {
          ++duplicates;  // stored, or earlier in this same request
        } else {
          join->fresh[i] = 1;
          ++share.fresh;
        }
      }
    }
    join->duplicates += duplicates;
    if (join->pending.fetch_sub(1, std::memory_order_acq_rel) == 1)
      AppendFresh(join);
  }

  // Runs once per request, after every group was deduplicated (the acq_rel countdown
  // publishes their writes to `fresh` and the shares).
  void AppendFresh(const std::shared_ptr<PublishJoin>& join) {
    std::vector<wal::RecordInput> inputs;
    inputs.reserve(join->messages.size());
    std::vector<wal::PartitionAppend> appends;
    for (uint32_t k = 0; k < join->shares.size(); ++k) {
      Share& share = join->shares[k];
      if (share.fresh == 0)
        continue;
      const size_t first = inputs.size();
      for (uint32_t j = share.begin; j < share.end; ++j) {
        const uint32_t i = join->order[j];
        if (!join->fresh[i])
          continue;
        const PublishMessage& m = join->messages[i];
        inputs.push_back({*m.msg_uuid, m.key, m.payload, {}});
      }
      share.append_index = static_cast<uint32_t>(appends.size());
      appends.push_back(
          {{join->topic->config.name, wal::PartitionId(share.partition)},
           std::span<const wal::RecordInput>(inputs.data() + first, share.fresh)});
    }
    if (appends.empty())
      return Finish(join);  // nothing in flight: no strand needs to hear back
    store_->AppendManyAsync(appends,
                            [this, join](std::vector<Result<wal::AppendResult>> results) {
                              OnAppended(join, std::move(results));
                            });
  }

  // On the wal's thread: one callback per request. The records are durable, so the
  // request is answered from here; the in-flight bookkeeping is posted to the strands
  // whose partitions had fresh messages (only those) without waiting for it. Those posts
  // precede the answer, and a strand runs its tasks in order, so any request the
  // answer could cause reaches a strand only after the bookkeeping there is done.
  void OnAppended(const std::shared_ptr<PublishJoin>& join,
                  std::vector<Result<wal::AppendResult>> results) {
    bool any_ok = false;
    uint32_t accepted = 0;
    for (Share& share : join->shares) {
      if (share.fresh == 0)
        continue;
      const auto& r = results[share.append_index];
      share.stored = r.ok();
      if (r.ok()) {
        any_ok = true;
        accepted += share.fresh;
      } else {
        join->SetError(r.status());
      }
    }
    join->accepted = accepted;
    if (any_ok) {
      append_seq_.fetch_add(1);
      wake_cv_.notify_all();
      if (append_latency_) {
        append_latency_->ObserveDuration(std::chrono::steady_clock::now() -
                                         join->started);
      }
    }
    for (ShardGroup& group : join->groups) {
      for (uint32_t k = group.begin; k < group.end && !group.fresh; ++k)
        group.fresh = join->shares[k].fresh > 0;
      if (group.fresh) {
        asio::post(shards_[group.shard],
                   [this, join, group] { SettleOnStrand(*join, group); });
      }
    }
    Finish(join);
  }

  // On the group's strand: the appended messages leave the in-flight set; stored ones
  // join the window that answers retries as duplicates. Reads only what OnAppended
  // wrote before posting this.
  void SettleOnStrand(const PublishJoin& join, ShardGroup group) {
    for (uint32_t k = group.begin; k < group.end; ++k) {
      const Share& share = join.shares[k];
      if (share.fresh == 0)
        continue;
      PartitionOwner& owner = *share.owner;
      for (uint32_t j = share.begin; j < share.end; ++j) {
        const uint32_t i = join.order[j];
        if (!join.fresh[i])
          continue;
        const Uuid& id = *join.messages[i].msg_uuid;
        owner.in_flight.erase(id);
        if (share.stored)
          Remember(owner, id);
      }
    }
  }

  void Remember(PartitionOwner& owner, const Uuid& id) {
    if (!owner.stored.insert(id))
      return;
    owner.stored_order.push_back(id);
    if (owner.stored_order.size() > options_.dedup_window_per_partition) {
      owner.stored.erase(owner.stored_order.front());
      owner.stored_order.pop_front();
    }
  }

  void Finish(const std::shared_ptr<PublishJoin>& join) {
    inflight_bytes_.fetch_sub(join->bytes);
    Status error;
    {
      std::lock_guard lock(join->error_mu);
      error = join->error;
    }
    if (published_)
      published_->Inc(join->accepted.load());
    if (duplicates_)
      duplicates_->Inc(join->duplicates.load());
    if (!error.ok()) {
      // Partitions that succeeded are stored: a retry of the whole batch answers them
      // as duplicates, so reporting the error loses nothing.
      if (error.code() == StatusCode::kFull)
        Reject("disk_full");
      join->done(error);
      return;
    }
    join->done(PublishResult{join->accepted.load(), join->duplicates.load()});
  }

  // ---- fetch ----

  Result<FetchResponse> FetchNow(const FetchRequest& request) const {
    TP_ASSIGN_OR_RETURN(const Topic* topic, TopicOrError(request.topic));
    FetchResponse response;
    uint64_t bytes_left = request.max_bytes == 0 ? 1 : request.max_bytes;
    for (const FetchPartition& fp : request.partitions) {
      if (fp.partition >= topic->config.partitions) {
        return Status::InvalidArgument("partition " + std::to_string(fp.partition) +
                                       " does not exist in topic '" + request.topic +
                                       "' (" + std::to_string(topic->config.partitions) +
                                       " partitions)");
      }
      FetchedPartition out;
      out.partition = fp.partition;
      const wal::TopicPartition tp{request.topic, wal::PartitionId(fp.partition)};
      auto bounds = store_->GetBounds(tp);
      if (!bounds.ok()) {  // never written: empty partition
        response.partitions.push_back(std::move(out));
        continue;
      }
      out.first = bounds->first.value();
      out.next = bounds->next.value();
      if (bytes_left > 0 && fp.from < out.next && request.max_records_per_partition > 0) {
        auto records = store_->Read(
            tp,
            wal::Offset(fp.from),
            {.max_records = request.max_records_per_partition, .max_bytes = bytes_left});
        if (!records.ok()) {
          out.error = records.status().ToString();
          out.error_offset = std::max(fp.from, out.first);
        } else {
          for (wal::Record& r : *records) {
            bytes_left -= std::min<uint64_t>(bytes_left, r.stored_bytes);
            out.records.push_back({r.offset.value(),
                                   r.msg_uuid,
                                   std::move(r.key),
                                   r.publish_time.time_since_epoch().count(),
                                   std::move(r.payload)});
          }
        }
      } else if (fp.from > out.next) {
        out.error = "offset " + std::to_string(fp.from) + " is beyond the end of the log";
        out.error_offset = fp.from;
      }
      response.partitions.push_back(std::move(out));
    }
    return response;
  }

  static bool HasRecords(const FetchResponse& r) {
    for (const auto& p : r.partitions) {
      if (!p.records.empty() || !p.error.empty())
        return true;
    }
    return false;
  }

  std::chrono::milliseconds WaitBound(std::chrono::milliseconds wait) const {
    return std::clamp(wait, std::chrono::milliseconds(0), options_.max_fetch_wait);
  }

  asio::awaitable<Result<FetchResponse>> FetchAsync(FetchRequest request) {
    const auto deadline = std::chrono::steady_clock::now() + WaitBound(request.wait);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
      const uint64_t seq = append_seq_.load();
      auto response = FetchNow(request);
      if (!response.ok() || HasRecords(*response) ||
          std::chrono::steady_clock::now() >= deadline || draining_.load()) {
        co_return response;
      }
      // Poll the append sequence rather than register waiters: one fetch per reader
      // per writer is in flight, so a 5 ms tick costs nothing and needs no shared list.
      while (append_seq_.load() == seq && std::chrono::steady_clock::now() < deadline) {
        timer.expires_after(kFetchPollInterval);
        co_await timer.async_wait(asio::use_awaitable);
      }
    }
  }

  Result<FetchResponse> FetchBlocking(const FetchRequest& request) {
    const auto deadline = std::chrono::steady_clock::now() + WaitBound(request.wait);
    for (;;) {
      const uint64_t seq = append_seq_.load();
      auto response = FetchNow(request);
      if (!response.ok() || HasRecords(*response) ||
          std::chrono::steady_clock::now() >= deadline) {
        return response;
      }
      std::unique_lock lock(wake_mu_);
      wake_cv_.wait_until(lock, deadline, [&] { return append_seq_.load() != seq; });
    }
  }

  // ---- commit, offsets, dead letters ----

  void StartCommit(const std::string& topic_name,
                   const std::string& group,
                   const std::map<uint32_t, uint64_t>& offsets,
                   std::function<void(Result<std::map<uint32_t, uint64_t>>)> done) {
    auto topic = TopicOrError(topic_name);
    if (!topic.ok())
      return done(topic.status());
    if (offsets.empty())
      return done(std::map<uint32_t, uint64_t>{});
    for (const auto& [partition, offset] : offsets) {
      if (partition >= (*topic)->config.partitions) {
        return done(Status::InvalidArgument("partition " + std::to_string(partition) +
                                            " does not exist in topic '" + topic_name +
                                            "'"));
      }
    }
    struct Join {
      std::mutex mu;
      std::map<uint32_t, uint64_t> result;  // REQUIRES: mu
      Status error;                         // REQUIRES: mu
      size_t remaining = 0;                 // REQUIRES: mu
      std::function<void(Result<std::map<uint32_t, uint64_t>>)> done;
    };
    auto join = std::make_shared<Join>();
    join->remaining = offsets.size();
    join->done = std::move(done);
    for (const auto& [partition, offset] : offsets) {
      const uint32_t p = partition;
      // All commits queued together land in one group commit of the wal.
      store_->CommitAsync({topic_name, wal::PartitionId(p)},
                          group,
                          wal::Offset(offset),
                          [this, join, p](Result<wal::Offset> r) {
                            std::unique_lock lock(join->mu);
                            if (r.ok()) {
                              join->result[p] = r->value();
                              if (commits_)
                                commits_->Inc();
                            } else if (r.status().code() == StatusCode::kNotFound) {
                              join->result[p] = 0;  // nothing written there yet
                            } else if (join->error.ok()) {
                              join->error = r.status();
                            }
                            if (--join->remaining > 0)
                              return;
                            auto result =
                                join->error.ok()
                                    ? Result<std::map<uint32_t, uint64_t>>(join->result)
                                    : Result<std::map<uint32_t, uint64_t>>(join->error);
                            lock.unlock();
                            join->done(std::move(result));
                          });
    }
  }

  Result<std::map<uint32_t, uint64_t>> Committed(const std::string& topic_name,
                                                 const std::string& group) const {
    TP_ASSIGN_OR_RETURN(const Topic* topic, TopicOrError(topic_name));
    std::map<uint32_t, uint64_t> out;
    for (uint32_t p = 0; p < topic->config.partitions; ++p) {
      auto stats = store_->Stats({topic_name, wal::PartitionId(p)});
      if (!stats.ok())
        continue;
      for (const auto& g : stats->groups) {
        if (g.group == group)
          out[p] = g.committed.value();
      }
    }
    return out;
  }

  void StartDeadLetter(const DeadLetter& letter, std::function<void(Status)> done) {
    auto topic = TopicOrError(letter.topic);
    if (!topic.ok())
      return done(topic.status());
    if (letter.partition >= (*topic)->config.partitions) {
      return done(
          Status::InvalidArgument("partition " + std::to_string(letter.partition) +
                                  " does not exist in topic '" + letter.topic + "'"));
    }
    auto headers = std::make_shared<std::vector<wal::Header>>(
        std::vector<wal::Header>{{"group", letter.group},
                                 {"attempts", std::to_string(letter.attempts)},
                                 {"reason", letter.reason},
                                 {"source_offset", std::to_string(letter.offset)}});
    wal::RecordInput input{letter.msg_uuid, letter.key, letter.payload, *headers};
    store_->AppendAsync(
        {letter.topic + std::string(kDeadLetterSuffix),
         wal::PartitionId(letter.partition)},
        std::span<const wal::RecordInput>(&input, 1),
        [this, headers, done = std::move(done)](Result<wal::AppendResult> r) {
          if (r.ok() && dead_letters_)
            dead_letters_->Inc();
          done(r.ok() ? Status::Ok() : r.status());
        });
  }

  Result<std::string> DeadLettersJson(const std::string& topic_name,
                                      uint32_t limit) const {
    TP_ASSIGN_OR_RETURN(const Topic* topic, TopicOrError(topic_name));
    nlohmann::json items = nlohmann::json::array();
    const std::string dl_topic = topic_name + std::string(kDeadLetterSuffix);
    for (uint32_t p = 0; p < topic->config.partitions && items.size() < limit; ++p) {
      const wal::TopicPartition tp{dl_topic, wal::PartitionId(p)};
      auto records =
          store_->Read(tp,
                       wal::Offset(0),
                       {.max_records = static_cast<uint32_t>(limit - items.size())});
      if (!records.ok()) {
        if (records.status().code() == StatusCode::kNotFound)
          continue;
        return records.status();
      }
      for (const wal::Record& r : *records) {
        nlohmann::json item = {
            {"topic", topic_name},
            {"partition", p},
            {"dead_letter_offset", r.offset.value()},
            {"msg_uuid", r.msg_uuid.ToString()},
            {"key", r.key},
            {"dead_lettered_at_us", r.publish_time.time_since_epoch().count()}};
        for (const auto& h : r.headers) {
          if (h.key == "attempts" || h.key == "source_offset") {
            item[h.key == "source_offset" ? "offset" : h.key] = std::stoull(h.value);
          } else {
            item[h.key] = h.value;
          }
        }
        auto payload =
            nlohmann::json::parse(r.payload, nullptr, /*allow_exceptions=*/false);
        item["payload"] = payload.is_discarded() ? nlohmann::json(r.payload) : payload;
        items.push_back(std::move(item));
      }
    }
    return nlohmann::json{{"items", items}}.dump();
  }

  std::string PartitionsJson() const {
    nlohmann::json partitions = nlohmann::json::array();
    for (const wal::PartitionStats& s : store_->AllStats()) {
      nlohmann::json groups = nlohmann::json::object();
      for (const auto& g : s.groups) {
        groups[g.group] = {{"committed", g.committed.value()},
                           {"backlog_records", g.backlog_records},
                           {"backlog_bytes", g.backlog_bytes}};
      }
      partitions.push_back({{"topic", s.tp.topic},
                            {"partition", s.tp.partition.value()},
                            {"first", s.first.value()},
                            {"next", s.next.value()},
                            {"bytes", s.bytes},
                            {"backlog_records", s.backlog_records},
                            {"backlog_bytes", s.backlog_bytes},
                            {"groups", groups}});
    }
    nlohmann::json topics = nlohmann::json::array();
    for (const auto& [name, topic] : topics_) {
      topics.push_back({{"name", name}, {"partitions", topic.config.partitions}});
    }
    const auto store = store_->GetStoreStats();
    return nlohmann::json{{"topics", topics},
                          {"partitions", partitions},
                          {"disk_usage_bytes", store.disk_usage_bytes},
                          {"disk_budget_bytes", store.disk_budget_bytes},
                          {"full", store.full},
                          {"draining", draining_.load()}}
        .dump();
  }

  bool FullyCommitted() const {
    for (const wal::PartitionStats& s : store_->AllStats()) {
      if (!FindTopic(s.tp.topic) || s.next == s.first)
        continue;
      if (s.groups.empty())
        return false;
      for (const auto& g : s.groups) {
        if (g.committed < s.next)
          return false;
      }
    }
    return true;
  }

  Status Ready() const {
    if (draining_.load())
      return Status::Unavailable("draining");
    const auto stats = store_->GetStoreStats();
    if (stats.failure)
      return *stats.failure;
    return Status::Ok();
  }

  const WriterOptions options_;
  asio::any_io_executor executor_;
  std::unique_ptr<wal::Store> store_;
  // Strands owning the partitions' dedup state, partition i of all topics on strand
  // i mod partition_strands; immutable after construction.
  std::vector<asio::strand<asio::any_io_executor>> shards_;
  std::map<std::string, Topic> topics_;  // immutable after construction
  std::atomic<uint64_t> inflight_bytes_{0};
  std::atomic<bool> draining_{false};
  // Bumped after every durable append; fetches wait for it to change.
  std::atomic<uint64_t> append_seq_{0};
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;

  metrics::Counter* published_ = nullptr;
  metrics::Counter* duplicates_ = nullptr;
  metrics::CounterFamily* rejected_ = nullptr;
  metrics::Histogram* append_latency_ = nullptr;
  metrics::Counter* commits_ = nullptr;
  metrics::Counter* dead_letters_ = nullptr;
};

// ---- LogService ----

LogService::LogService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LogService::~LogService() = default;

Result<std::unique_ptr<LogService>> LogService::Open(
    const WriterOptions& options,
    const std::filesystem::path& data_dir,
    asio::any_io_executor executor,
    metrics::Registry* registry) {
  TP_RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>(options, std::move(executor), registry);
  TP_RETURN_IF_ERROR(impl->Open(data_dir));
  return std::unique_ptr<LogService>(new LogService(std::move(impl)));
}

asio::awaitable<Result<PublishResult>> LogService::Publish(PublishBatch batch) {
  // Not a coroutine (see AwaitCallback): admission runs inside the initiation.
  return AwaitCallback<Result<PublishResult>>(
      [this, batch = std::move(batch)](auto done) mutable {
        const Impl::Topic* t = nullptr;
        uint64_t bytes = 0;
        if (Status s = impl_->Admit(batch.topic, batch.messages, &t, &bytes); !s.ok())
          return done(s);
        impl_->StartPublish(*t, std::move(batch), bytes, std::move(done));
      });
}

uint32_t LogService::max_messages_per_publish() const {
  return impl_->options().max_messages_per_publish;
}

asio::awaitable<Result<FetchResponse>> LogService::FetchAsync(FetchRequest request) {
  return impl_->FetchAsync(std::move(request));
}

Result<FetchResponse> LogService::Fetch(const FetchRequest& request) {
  return impl_->FetchBlocking(request);
}

Result<std::map<uint32_t, uint64_t>> LogService::Commit(
    const std::string& topic,
    const std::string& group,
    const std::map<uint32_t, uint64_t>& offsets) {
  std::promise<Result<std::map<uint32_t, uint64_t>>> promise;
  impl_->StartCommit(
      topic, group, offsets, [&promise](auto r) { promise.set_value(std::move(r)); });
  return promise.get_future().get();
}

asio::awaitable<Result<std::map<uint32_t, uint64_t>>> LogService::CommitAsync(
    std::string topic, std::string group, std::map<uint32_t, uint64_t> offsets) {
  return AwaitCallback<Result<std::map<uint32_t, uint64_t>>>(
      [this,
       topic = std::move(topic),
       group = std::move(group),
       offsets = std::move(offsets)](auto done) {
        impl_->StartCommit(topic, group, offsets, std::move(done));
      });
}

asio::awaitable<Status> LogService::AppendDeadLetterAsync(DeadLetter letter) {
  return AwaitCallback<Status>([this, letter = std::move(letter)](auto done) {
    impl_->StartDeadLetter(letter, std::move(done));
  });
}

Result<std::map<uint32_t, uint64_t>> LogService::Committed(
    const std::string& topic, const std::string& group) const {
  return impl_->Committed(topic, group);
}

Status LogService::AppendDeadLetter(const DeadLetter& letter) {
  std::promise<Status> promise;
  impl_->StartDeadLetter(letter,
                         [&promise](Status s) { promise.set_value(std::move(s)); });
  return promise.get_future().get();
}

Result<uint32_t> LogService::PartitionCount(const std::string& topic) const {
  TP_ASSIGN_OR_RETURN(const Impl::Topic* t, impl_->TopicOrError(topic));
  return t->config.partitions;
}

std::string LogService::PartitionsJson() const {
  return impl_->PartitionsJson();
}
Result<std::string> LogService::DeadLettersJson(const std::string& topic,
                                                uint32_t limit) const {
  return impl_->DeadLettersJson(topic, limit);
}
void LogService::BeginDrain() {
  impl_->draining_ = true;
}
bool LogService::draining() const {
  return impl_->draining_.load();
}
bool LogService::FullyCommitted() const {
  return impl_->FullyCommitted();
}
Status LogService::Ready() const {
  return impl_->Ready();
}

namespace {

class LocalLogSource : public LogSource {
 public:
  explicit LocalLogSource(LogService& service) : service_(service) {}
  const std::string& id() const override { return id_; }
  Result<FetchResponse> Fetch(const FetchRequest& request) override {
    return service_.Fetch(request);
  }
  Result<std::map<uint32_t, uint64_t>> Commit(
      const std::string& topic,
      const std::string& group,
      const std::map<uint32_t, uint64_t>& offsets) override {
    return service_.Commit(topic, group, offsets);
  }
  Result<std::map<uint32_t, uint64_t>> Committed(const std::string& topic,
                                                 const std::string& group) override {
    return service_.Committed(topic, group);
  }
  Status AppendDeadLetter(const DeadLetter& letter) override {
    return service_.AppendDeadLetter(letter);
  }
  Result<uint32_t> PartitionCount(const std::string& topic) override {
    return service_.PartitionCount(topic);
  }

 private:
  LogService& service_;
  const std::string id_ = "local";
};

}  // namespace

std::unique_ptr<LogSource> LogService::MakeLocalSource() {
  return std::make_unique<LocalLogSource>(*this);
}

}  // namespace tp::broker
