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
#include <vector>

#include "tp/status.h"
#include "wal/types.h"

namespace tp::wal {

inline constexpr uint8_t kEnvelopeVersion = 1;
inline constexpr size_t kEnvelopeHeaderSize = 17;

// The records of one append, encoded back to back in one buffer: an append costs one
// allocation, not one per record. The appending thread adds (and checksums) each
// record's table; the writer thread seals each envelope once the record's cumulative
// byte position is known.
class EncodedRecords {
 public:
  void Reserve(size_t records, size_t payload_bytes);
  void Add(const RecordInput& record, PublishTime publish_time);
  size_t size() const { return starts_.size(); }
  // Completes record `i`'s header with its cumulative byte position and returns its
  // stored value, which stays valid until this object changes.
  std::string_view Seal(size_t i, uint64_t bytes_before);

 private:
  std::string bytes_;
  std::vector<size_t> starts_;
};

// Checks the envelope header only; returns the cumulative byte position.
Result<uint64_t> DecodeBytesBefore(std::string_view value);

// Fully checks and decodes a stored value; `out->offset` is left to the caller.
Status DecodeRecord(std::string_view value, Record* out);

}  // namespace tp::wal
