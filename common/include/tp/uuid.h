// 128-bit identifiers in RFC 9562 text form, and UUIDv7 generation (time-ordered, so
// message ids sort roughly by creation time and index well).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "tp/status.h"

namespace tp {

class Uuid {
 public:
  constexpr Uuid() = default;
  explicit constexpr Uuid(const std::array<uint8_t, 16>& bytes) : bytes_(bytes) {}

  // Accepts the canonical 8-4-4-4-12 hex form, either case.
  static Result<Uuid> Parse(std::string_view text);
  // A new version 7 UUID: 48-bit Unix milliseconds, then random bits. Thread-safe.
  static Uuid NewV7();

  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  bool IsNil() const;
  int version() const { return bytes_[6] >> 4; }
  // Lower-case canonical form.
  std::string ToString() const;

  auto operator<=>(const Uuid&) const = default;

 private:
  std::array<uint8_t, 16> bytes_{};
};

}  // namespace tp

template <>
struct std::hash<tp::Uuid> {
  std::size_t operator()(const tp::Uuid& u) const noexcept {
    std::size_t h = 0;
    for (uint8_t b : u.bytes())
      h = h * 131 + b;
    return h;
  }
};
