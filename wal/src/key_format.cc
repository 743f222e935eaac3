#include "key_format.h"

namespace tp::wal::keys {

void PutBE32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>(v >> shift));
}

void PutBE64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>(v >> shift));
}

uint32_t GetBE32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

uint64_t GetBE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

namespace {
std::string PartitionKey(char prefix, uint32_t topic_id, uint32_t partition) {
  std::string key;
  key.reserve(kRecordKeySize);
  key.push_back(prefix);
  PutBE32(&key, topic_id);
  PutBE32(&key, partition);
  return key;
}
}  // namespace

std::string RecordKey(uint32_t topic_id, uint32_t partition, uint64_t offset) {
  std::string key = PartitionKey(kRecordPrefix, topic_id, partition);
  PutBE64(&key, offset);
  return key;
}

void SetRecordKeyOffset(std::string* record_key, uint64_t offset) {
  record_key->resize(kPartitionKeyPrefixSize);
  PutBE64(record_key, offset);
}

std::optional<DecodedRecordKey> DecodeRecordKey(std::string_view key) {
  if (key.size() != kRecordKeySize || key[0] != kRecordPrefix)
    return std::nullopt;
  return DecodedRecordKey{
      GetBE32(key.data() + 1), GetBE32(key.data() + 5), GetBE64(key.data() + 9)};
}

std::string FormatVersionKey() {
  return std::string(1, kFormatVersionKey);
}

std::string TopicKey(std::string_view topic) {
  std::string key(1, kTopicPrefix);
  key.append(topic);
  return key;
}

std::string TrimPointKey(uint32_t topic_id, uint32_t partition) {
  return PartitionKey(kTrimPointPrefix, topic_id, partition);
}

std::string CommitKey(uint32_t topic_id, uint32_t partition, std::string_view group) {
  std::string key = PartitionKey(kCommitPrefix, topic_id, partition);
  key.append(group);
  return key;
}

}  // namespace tp::wal::keys
