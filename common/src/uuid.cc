#include "tp/uuid.h"

#include <chrono>
#include <random>

#include "tp/hex.h"

namespace tp {

Result<Uuid> Uuid::Parse(std::string_view text) {
  constexpr size_t kCanonicalLength = 36;
  if (text.size() != kCanonicalLength) {
    return Status::InvalidArgument("UUID must be 36 characters (8-4-4-4-12 hex), got " +
                                   std::to_string(text.size()));
  }
  std::array<uint8_t, 16> bytes{};
  size_t out = 0;
  for (size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') {
        return Status::InvalidArgument("UUID must have '-' at position " +
                                       std::to_string(i));
      }
      ++i;
      continue;
    }
    int hi = HexValue(text[i]);
    int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument("UUID has a non-hex character near position " +
                                     std::to_string(i));
    }
    bytes[out++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return Uuid(bytes);
}

Uuid Uuid::NewV7() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t ms =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  std::array<uint8_t, 16> b{};
  for (int i = 0; i < 6; ++i)
    b[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  const uint64_t r1 = rng();
  const uint64_t r2 = rng();
  for (int i = 6; i < 16; ++i) {
    b[i] = static_cast<uint8_t>((i < 11 ? r1 : r2) >> (8 * (i % 8)));
  }
  b[6] = static_cast<uint8_t>(0x70 | (b[6] & 0x0f));  // version 7
  b[8] = static_cast<uint8_t>(0x80 | (b[8] & 0x3f));  // RFC 9562 variant
  return Uuid(b);
}

bool Uuid::IsNil() const {
  for (uint8_t b : bytes_) {
    if (b != 0)
      return false;
  }
  return true;
}

std::string Uuid::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < bytes_.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out += '-';
    out += kHex[bytes_[i] >> 4];
    out += kHex[bytes_[i] & 0xf];
  }
  return out;
}

}  // namespace tp
