// The stored value of one record: a fixed envelope followed by a flatbuffers table.
//
//   byte 0      envelope version (1)
//   bytes 1-4   CRC32C of bytes 5..16, little-endian
//   bytes 5-12  bytes stored in the partition before this record, little-endian
//   bytes 13-16 CRC32C of the table, little-endian
//   bytes 17-   tp.wal.fb.Record (schema/record.fbs)
//
// The table checksum is computed by the appending thread; the cumulative byte count is
// only known on the writer thread, so it has its own small checksum and the writer never
// re-reads the payload. The cumulative count makes "bytes in [a, b)" two point reads,
// which retention and backlog statistics need, without any extra index.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tp/status.h"
#include "wal/types.h"

namespace tp::wal {

inline constexpr uint8_t kEnvelopeVersion = 1;
inline constexpr size_t kEnvelopeHeaderSize = 17;

// Encodes `record` with a header to be completed by SealEnvelope.
std::string EncodeRecord(const RecordInput& record, PublishTime publish_time);

// Completes the header of an encoded record with its cumulative byte position.
void SealEnvelope(std::string* value, uint64_t bytes_before);

// Checks the envelope header only; returns the cumulative byte position.
Result<uint64_t> DecodeBytesBefore(std::string_view value);

// Fully checks and decodes a stored value; `out->offset` is left to the caller.
Status DecodeRecord(std::string_view value, Record* out);

}  // namespace tp::wal
