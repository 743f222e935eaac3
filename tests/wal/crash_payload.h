// Verifiable records of the crash test, shared by the writer child (crash_writer.cc)
// and the checking parent (crash_test.cc, walctl_process_test.cc).
//
// Owned partitions 0..kOwnedPartitions-1 each have exactly one writer thread, which
// therefore knows the offset a record will get: every field of the record at (p, o) is
// a function of (p, o), so the parent can check any stored record byte for byte, acked
// or not. The shared partition gets appends from every thread at once (group commits
// mixing threads); its offsets are not known in advance, so each payload names its
// writer (run, thread, batch, index, count) and the rest of the payload is a function
// of that name: a parent can check a record is intact and that batches are whole.
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "tp/uuid.h"

namespace tp::wal::crashtest {

inline constexpr char kTopic[] = "crash";
inline constexpr uint32_t kOwnedPartitions = 4;
inline constexpr uint32_t kSharedPartition = 100;

inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// `size` pseudo-random bytes (any byte value) determined by `seed`.
inline std::string Bytes(uint64_t seed, size_t size) {
  std::string out;
  out.reserve(size + 8);
  while (out.size() < size) {
    const uint64_t v = SplitMix64(seed);
    for (int i = 0; i < 8 && out.size() < size; ++i)
      out.push_back(static_cast<char>(v >> (8 * i)));
  }
  return out;
}

inline uint64_t OwnedSeed(uint32_t partition, uint64_t offset) {
  uint64_t s = (uint64_t{partition} << 48) ^ offset ^ 0x5eedf00dULL;
  return SplitMix64(s);
}

// 0..300 random bytes after a readable prefix.
inline std::string OwnedPayload(uint32_t partition, uint64_t offset) {
  const uint64_t seed = OwnedSeed(partition, offset);
  return "p=" + std::to_string(partition) + " o=" + std::to_string(offset) + " " +
         Bytes(seed, seed % 301);
}

inline Uuid OwnedUuid(uint32_t partition, uint64_t offset) {
  uint64_t s = OwnedSeed(partition, offset) ^ 0xa5a5a5a5ULL;
  std::array<uint8_t, 16> b{};
  const uint64_t hi = SplitMix64(s);
  const uint64_t lo = SplitMix64(s);
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<uint8_t>(hi >> (8 * i));
    b[8 + i] = static_cast<uint8_t>(lo >> (8 * i));
  }
  return Uuid(b);
}

inline std::string OwnedKey(uint32_t partition, uint64_t offset) {
  return "gpu-" + std::to_string(partition) + "-" + std::to_string(offset % 7);
}

inline std::string OwnedHeaderValue(uint64_t offset) {
  return std::to_string(offset);
}

// Who wrote a shared-partition record.
struct SharedId {
  uint32_t run = 0;
  uint32_t thread = 0;
  uint64_t batch = 0;
  uint32_t index = 0;
  uint32_t count = 0;
};

inline std::string SharedPayload(const SharedId& id) {
  char prefix[96];
  std::snprintf(prefix,
                sizeof(prefix),
                "s r=%u t=%u b=%llu i=%u n=%u|",
                id.run,
                id.thread,
                static_cast<unsigned long long>(id.batch),
                id.index,
                id.count);
  uint64_t s =
      (uint64_t{id.run} << 40) ^ (uint64_t{id.thread} << 32) ^ (id.batch << 8) ^ id.index;
  const uint64_t seed = SplitMix64(s);
  return prefix + Bytes(seed, seed % 257);
}

// The writer of an intact shared-partition payload; nullopt if it is damaged.
inline std::optional<SharedId> ParseSharedPayload(std::string_view payload) {
  SharedId id;
  unsigned long long batch = 0;
  const std::string head(payload.substr(0, std::min<size_t>(payload.size(), 95)));
  if (std::sscanf(head.c_str(),
                  "s r=%u t=%u b=%llu i=%u n=%u|",
                  &id.run,
                  &id.thread,
                  &batch,
                  &id.index,
                  &id.count) != 5) {
    return std::nullopt;
  }
  id.batch = batch;
  if (SharedPayload(id) != payload)
    return std::nullopt;
  return id;
}

}  // namespace tp::wal::crashtest
