// Key layout of the log's RocksDB database.
//
// Two column families. "records" holds only records, so a range delete or a compaction
// of trimmed ranges never touches metadata. "meta" holds everything else.
//
// records CF (17-byte keys, so RocksDB order = (topic id, partition, offset)):
//   +-----+----------------+----------------+--------------------------------+
//   | 'r' | topic id BE32  | partition BE32 | offset BE64                    |
//   +-----+----------------+----------------+--------------------------------+
//   value: a record envelope (record_codec.h)
//
// meta CF:
//   'V'                                  -> format version, BE32 (written at creation)
//   'T' | topic name                     -> topic id, BE32
//   'p' | topic id | partition           -> trim point: first offset BE64, then the
//                                           cumulative bytes before it BE64
//   'c' | topic id | partition | group   -> committed offset BE64
//
// Topic ids keep record keys fixed-size and short; they are assigned in creation order
// and written in the same batch as the first record of the topic.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tp::wal::keys {

inline constexpr uint32_t kFormatVersion = 1;

inline constexpr char kRecordPrefix = 'r';
inline constexpr char kFormatVersionKey = 'V';
inline constexpr char kTopicPrefix = 'T';
inline constexpr char kTrimPointPrefix = 'p';
inline constexpr char kCommitPrefix = 'c';

// Every prefix, for the test that proves they are distinct.
inline constexpr std::array<char, 5> kAllPrefixes = {
    kRecordPrefix, kFormatVersionKey, kTopicPrefix, kTrimPointPrefix, kCommitPrefix};

// Prefix, topic id and partition: what every key of one partition starts with.
inline constexpr size_t kPartitionKeyPrefixSize = 1 + 4 + 4;
inline constexpr size_t kRecordKeySize = kPartitionKeyPrefixSize + 8;

void PutBE32(std::string* out, uint32_t v);
void PutBE64(std::string* out, uint64_t v);
uint32_t GetBE32(const char* p);
uint64_t GetBE64(const char* p);

std::string RecordKey(uint32_t topic_id, uint32_t partition, uint64_t offset);
// Turns a RecordKey into the key of `offset` of the same partition, in place.
void SetRecordKeyOffset(std::string* record_key, uint64_t offset);
struct DecodedRecordKey {
  uint32_t topic_id;
  uint32_t partition;
  uint64_t offset;
};
std::optional<DecodedRecordKey> DecodeRecordKey(std::string_view key);

std::string FormatVersionKey();
std::string TopicKey(std::string_view topic);
std::string TrimPointKey(uint32_t topic_id, uint32_t partition);
std::string CommitKey(uint32_t topic_id, uint32_t partition, std::string_view group);

}  // namespace tp::wal::keys
