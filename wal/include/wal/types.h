// Value types of the log's public API. No RocksDB type appears here.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tp/strong_type.h"
#include "tp/uuid.h"

namespace tp::wal {

using PartitionId = StrongType<uint32_t, struct PartitionIdTag>;
// Position of a record in its partition. Offsets are dense: 0, 1, 2, ... with no gaps.
using Offset = StrongType<uint64_t, struct OffsetTag>;
using PublishTime = std::chrono::sys_time<std::chrono::microseconds>;

struct TopicPartition {
  std::string topic;
  PartitionId partition;

  auto operator<=>(const TopicPartition&) const = default;
  // "telemetry/17"
  std::string ToString() const;
};

struct Header {
  std::string key;
  std::string value;
  auto operator<=>(const Header&) const = default;
};

// A record to append. Views must stay valid until Append/AppendAsync returns (the store
// encodes them before returning).
struct RecordInput {
  Uuid msg_uuid;
  std::string_view key;
  std::string_view payload;
  std::span<const Header> headers;
};

// A record read back from the log.
struct Record {
  Offset offset;
  Uuid msg_uuid;
  std::string key;
  PublishTime publish_time;
  std::string payload;
  std::vector<Header> headers;
  // Bytes the record occupies in the log (envelope + encoded table).
  uint64_t stored_bytes = 0;
};

struct AppendResult {
  Offset first;  // offset of the first appended record
  uint32_t count = 0;
};

// Returns InvalidArgument unless `topic` is 1..200 characters of [A-Za-z0-9._-].
bool IsValidTopicName(std::string_view topic);

}  // namespace tp::wal
