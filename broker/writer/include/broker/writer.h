// The broker writer: publishes go into the local wal, partitioned by a stable hash of the
// message key; readers fetch records from offsets and commit offsets back.
//
// LogService is the transport-independent core. Per-partition state (the recent
// msg_uuid window used to answer retries as duplicates) is owned by one strand; each
// strand owns a fixed set of partitions. A publish posts its partitions' shares to their
// strands (one hop per strand touched), then appends every share in one wal group-commit
// entry, and answers only after the records are durable.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "broker/log_source.h"
#include "tp/http/router.h"
#include "tp/status.h"
#include "tp/uuid.h"
#include "wal/options.h"

namespace tp::metrics {
class Registry;
}  // namespace tp::metrics

namespace tp::broker {

struct TopicConfig {
  std::string name;
  uint32_t partitions = 256;
};

// "telemetry:256,other:16" -> topics. InvalidArgument names the bad entry.
Result<std::vector<TopicConfig>> ParseTopics(std::string_view text);

struct WriterOptions {
  std::vector<TopicConfig> topics = {{"telemetry", 256}};
  wal::Options wal;
  // Bytes of publishes accepted but not yet durable; beyond it publishes get 429.
  uint64_t max_inflight_bytes = 64 << 20;
  std::chrono::seconds retry_after{1};
  uint32_t max_messages_per_publish = 10000;
  uint32_t max_key_bytes = 256;
  // msg_uuids remembered per partition to answer retries as duplicates.
  uint32_t dedup_window_per_partition = 8192;
  // Strands that own the partitions' dedup state (partition i on strand i mod this).
  // A publish costs two hops per strand its messages touch, so fewer strands mean fewer
  // hops; more let more publishes deduplicate in parallel.
  uint32_t partition_strands = 4;
  std::chrono::milliseconds max_fetch_wait{30000};

  Status Validate() const;
};

// Partition of `key` among `partitions`: FNV-1a 64 of the key's bytes modulo the count.
// Stable across processes, builds and platforms (unlike std::hash). Keyless messages
// hash their msg_uuid's 16 bytes.
uint32_t PartitionForKey(std::string_view key, uint32_t partitions);

// One message of a publish request; key and payload view bytes that the PublishBatch
// holding the message owns.
struct PublishMessage {
  std::string_view key;
  std::optional<Uuid> msg_uuid;  // assigned (UUIDv7) when absent
  std::string_view payload;      // JSON text of the message object
};

// A publish request: its messages and the bytes their keys and payloads view (the
// flatbuffers body as it arrived, or what the JSON parser wrote out), so that decoding
// copies nothing per message. The bytes live on the heap: moving a batch keeps every
// view valid.
struct PublishBatch {
  std::string topic;
  std::vector<PublishMessage> messages;
  std::unique_ptr<const std::string> bytes;
};

// InvalidArgument naming the field when a publish holds no message or more than
// `max_messages`; OK otherwise. Checked as soon as a body's message count is known,
// before its messages are decoded.
Status CheckMessageCount(size_t count, uint32_t max_messages);

struct PublishResult {
  uint32_t accepted = 0;
  uint32_t duplicates = 0;
};

class LogService {
 public:
  // Opens the wal in `data_dir`. The executor runs the per-partition strands.
  static Result<std::unique_ptr<LogService>> Open(const WriterOptions& options,
                                                  const std::filesystem::path& data_dir,
                                                  boost::asio::any_io_executor executor,
                                                  metrics::Registry* registry);
  ~LogService();

  // Appends the batch and completes when it is durable. Errors: InvalidArgument (bad
  // message), NotFound (unknown topic), Full (in-flight or disk budget: answer 429),
  // Unavailable (draining), IOError (storage failed).
  boost::asio::awaitable<Result<PublishResult>> Publish(PublishBatch batch);
  uint32_t max_messages_per_publish() const;

  // Fetch for readers. Waits up to min(request.wait, max_fetch_wait) when nothing is
  // available, polling without blocking the io thread.
  boost::asio::awaitable<Result<FetchResponse>> FetchAsync(FetchRequest request);

  // Commit and dead-letter append for handlers: complete once durable, without
  // blocking the io thread.
  boost::asio::awaitable<Result<std::map<uint32_t, uint64_t>>> CommitAsync(
      std::string topic, std::string group, std::map<uint32_t, uint64_t> offsets);
  boost::asio::awaitable<Status> AppendDeadLetterAsync(DeadLetter letter);

  // Blocking equivalents for the in-process LogSource (never on an io thread).
  Result<FetchResponse> Fetch(const FetchRequest& request);
  Result<std::map<uint32_t, uint64_t>> Commit(
      const std::string& topic,
      const std::string& group,
      const std::map<uint32_t, uint64_t>& offsets);
  Result<std::map<uint32_t, uint64_t>> Committed(const std::string& topic,
                                                 const std::string& group) const;
  Status AppendDeadLetter(const DeadLetter& letter);
  Result<uint32_t> PartitionCount(const std::string& topic) const;

  // JSON documents for GET /v1/partitions and GET /v1/deadletters.
  std::string PartitionsJson() const;
  Result<std::string> DeadLettersJson(const std::string& topic, uint32_t limit) const;

  // Draining: publishes are refused (Unavailable) from now on.
  void BeginDrain();
  bool draining() const;
  // True when every partition holding records has been committed up to its end by every
  // group that ever committed on it (and at least one group did).
  bool FullyCommitted() const;

  // OK while the store is open and writable.
  Status Ready() const;

  // The in-process LogSource over this service (broker standalone).
  std::unique_ptr<LogSource> MakeLocalSource();

  class Impl;

 private:
  explicit LogService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Mounts POST /v1/publish, GET /v1/partitions, POST /v1/fetch, POST /v1/commit,
// GET /v1/offsets, POST /v1/deadletters and GET /v1/deadletters.
Status InstallWriterRoutes(http::Router& router, LogService& service);

// A LogSource talking to a remote writer at `base_url` ("http://host:port").
Result<std::unique_ptr<LogSource>> MakeHttpLogSource(const std::string& base_url);

}  // namespace tp::broker
