// CRC32C (Castagnoli), the checksum of stored records. Uses the SSE4.2 instruction when
// the CPU has it and a table otherwise; both give identical results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tp::wal {

// Extends `crc` (0 to start) over `data`.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);

inline uint32_t Crc32c(std::string_view data) {
  return Crc32cExtend(0, data.data(), data.size());
}

}  // namespace tp::wal
