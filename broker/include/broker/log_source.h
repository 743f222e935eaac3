// How a reader sees one writer's log: fetch records of many partitions at once
// (long-poll), commit offsets, learn committed offsets, and hand over dead letters. Two
// implementations: over HTTP to a remote writer (broker reader), and in-process
// (broker standalone, no HTTP hop).
//
// Thread-safety: every method may be called from any thread concurrently. Calls block
// (network or a bounded wait); never call them on an io thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tp/status.h"
#include "tp/uuid.h"

namespace tp::broker {

struct FetchPartition {
  uint32_t partition = 0;
  uint64_t from = 0;  // next offset wanted
};

struct FetchRequest {
  std::string topic;
  std::vector<FetchPartition> partitions;
  uint32_t max_records_per_partition = 500;
  uint64_t max_bytes = 4 << 20;  // whole response; at least one record if any
  // Wait up to this long when no requested partition has records at or after `from`.
  std::chrono::milliseconds wait{0};
};

struct FetchedRecord {
  uint64_t offset = 0;
  Uuid msg_uuid;
  std::string key;
  int64_t publish_time_us = 0;
  std::string payload;
};

struct FetchedPartition {
  uint32_t partition = 0;
  uint64_t first = 0;  // lowest readable offset (records below were trimmed)
  uint64_t next = 0;   // writer's next offset (end of the log)
  std::vector<FetchedRecord> records;
  // Set when the partition could not be read (e.g. a corrupt record at `from`): the
  // reader dead-letters the offset named in the message or skips as documented.
  std::string error;
  uint64_t error_offset = 0;
};

struct FetchResponse {
  std::vector<FetchedPartition> partitions;
};

struct DeadLetter {
  std::string topic;
  uint32_t partition = 0;
  uint64_t offset = 0;
  Uuid msg_uuid;
  std::string group;
  uint32_t attempts = 0;
  std::string reason;
  std::string key;
  std::string payload;
};

class LogSource {
 public:
  virtual ~LogSource() = default;

  // Stable identity of the writer ("http://broker-writer-0:8081" or "local"); commits
  // are kept per (writer, partition).
  virtual const std::string& id() const = 0;

  // Unknown topic -> NotFound; writer unreachable -> Unavailable.
  virtual Result<FetchResponse> Fetch(const FetchRequest& request) = 0;

  // Commits per partition (monotonic on the writer: a lower offset is ignored). Returns
  // the committed offset per partition after the call. Durable when it returns OK.
  virtual Result<std::map<uint32_t, uint64_t>> Commit(
      const std::string& topic,
      const std::string& group,
      const std::map<uint32_t, uint64_t>& offsets) = 0;

  // Committed offsets of `group` for every partition of `topic` that has one.
  virtual Result<std::map<uint32_t, uint64_t>> Committed(const std::string& topic,
                                                         const std::string& group) = 0;

  // Appends to the writer's dead-letter log (topic "<topic>.deadletter", same partition).
  // Durable when it returns OK.
  virtual Status AppendDeadLetter(const DeadLetter& letter) = 0;

  // Partition count of `topic` on this writer. NotFound for an unknown topic.
  virtual Result<uint32_t> PartitionCount(const std::string& topic) = 0;
};

}  // namespace tp::broker
