#include "record_codec.h"

#include <cstring>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "crc32c.h"
#include "record_generated.h"

namespace tp::wal {
namespace {

void PutLE32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<char>(v >> (8 * i));
}
void PutLE64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<char>(v >> (8 * i));
}
uint32_t GetLE32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i)
    v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}
uint64_t GetLE64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

Status CheckHeader(std::string_view value) {
  if (value.size() < kEnvelopeHeaderSize) {
    return Status::Corruption("record is " + std::to_string(value.size()) +
                              " bytes, shorter than its envelope");
  }
  if (static_cast<uint8_t>(value[0]) != kEnvelopeVersion) {
    return Status::Corruption("unknown record envelope version " +
                              std::to_string(static_cast<uint8_t>(value[0])));
  }
  if (Crc32c(value.substr(5, 12)) != GetLE32(value.data() + 1)) {
    return Status::Corruption("record envelope checksum mismatch");
  }
  return Status::Ok();
}

const uint8_t* Bytes(std::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

}  // namespace

void EncodedRecords::Reserve(size_t records, size_t payload_bytes) {
  // The table adds the uuid, key, offsets and alignment: ~100 bytes over the payload.
  bytes_.reserve(payload_bytes + records * (kEnvelopeHeaderSize + 128));
  starts_.reserve(records);
}

void EncodedRecords::Add(const RecordInput& record, PublishTime publish_time) {
  thread_local flatbuffers::FlatBufferBuilder builder(1024);
  builder.Clear();
  std::vector<flatbuffers::Offset<fb::Header>> headers;
  headers.reserve(record.headers.size());
  for (const Header& h : record.headers) {
    auto key = builder.CreateString(h.key);
    auto value = builder.CreateVector(Bytes(h.value), h.value.size());
    headers.push_back(fb::CreateHeader(builder, key, value));
  }
  auto headers_vec = record.headers.empty() ? 0 : builder.CreateVector(headers);
  auto uuid = builder.CreateVector(record.msg_uuid.bytes().data(), 16);
  auto key = builder.CreateString(record.key.data(), record.key.size());
  auto payload = builder.CreateVector(Bytes(record.payload), record.payload.size());
  fb::RecordBuilder rb(builder);
  rb.add_format_version(1);
  rb.add_msg_uuid(uuid);
  rb.add_key(key);
  rb.add_publish_time_us(publish_time.time_since_epoch().count());
  rb.add_payload(payload);
  if (!record.headers.empty())
    rb.add_headers(headers_vec);
  builder.Finish(rb.Finish());

  const auto* table = reinterpret_cast<const char*>(builder.GetBufferPointer());
  const size_t start = bytes_.size();
  starts_.push_back(start);
  bytes_.append(kEnvelopeHeaderSize, '\0');
  bytes_.append(table, builder.GetSize());
  PutLE32(bytes_.data() + start + 13, Crc32cExtend(0, table, builder.GetSize()));
}

std::string_view EncodedRecords::Seal(size_t i, uint64_t bytes_before) {
  const size_t start = starts_[i];
  const size_t end = i + 1 < starts_.size() ? starts_[i + 1] : bytes_.size();
  char* p = bytes_.data() + start;
  p[0] = static_cast<char>(kEnvelopeVersion);
  PutLE64(p + 5, bytes_before);
  PutLE32(p + 1, Crc32cExtend(0, p + 5, 12));
  return std::string_view(p, end - start);
}

Result<uint64_t> DecodeBytesBefore(std::string_view value) {
  TP_RETURN_IF_ERROR(CheckHeader(value));
  return GetLE64(value.data() + 5);
}

Status DecodeRecord(std::string_view value, Record* out) {
  TP_RETURN_IF_ERROR(CheckHeader(value));
  std::string_view table = value.substr(kEnvelopeHeaderSize);
  if (Crc32c(table) != GetLE32(value.data() + 13)) {
    return Status::Corruption("record checksum mismatch");
  }
  // The table starts at byte 17 of a value whose own address RocksDB does not align:
  // flatbuffers reads its scalars in place, so decode from an 8-byte aligned copy.
  thread_local std::vector<uint64_t> aligned;
  aligned.resize((table.size() + 7) / 8);
  std::memcpy(aligned.data(), table.data(), table.size());
  const auto* table_bytes = reinterpret_cast<const uint8_t*>(aligned.data());
  flatbuffers::Verifier verifier(table_bytes, table.size());
  if (!fb::VerifyRecordBuffer(verifier)) {
    return Status::Corruption("record table fails flatbuffers verification");
  }
  const fb::Record* rec = fb::GetRecord(table_bytes);
  if (rec->format_version() != 1) {
    return Status::Corruption("unsupported record format version " +
                              std::to_string(rec->format_version()));
  }
  if (rec->msg_uuid() == nullptr || rec->msg_uuid()->size() != 16) {
    return Status::Corruption("record msg_uuid is not 16 bytes");
  }
  std::array<uint8_t, 16> uuid{};
  std::memcpy(uuid.data(), rec->msg_uuid()->data(), 16);
  out->msg_uuid = Uuid(uuid);
  out->key = rec->key() ? rec->key()->str() : std::string();
  out->publish_time = PublishTime(std::chrono::microseconds(rec->publish_time_us()));
  out->payload = rec->payload()
                     ? std::string(reinterpret_cast<const char*>(rec->payload()->data()),
                                   rec->payload()->size())
                     : std::string();
  out->headers.clear();
  if (rec->headers()) {
    for (const fb::Header* h : *rec->headers()) {
      Header header;
      header.key = h->key() ? h->key()->str() : std::string();
      if (h->value()) {
        header.value.assign(reinterpret_cast<const char*>(h->value()->data()),
                            h->value()->size());
      }
      out->headers.push_back(std::move(header));
    }
  }
  out->stored_bytes = value.size();
  return Status::Ok();
}

}  // namespace tp::wal
