// StrongType<T, Tag>: a value that cannot be mixed up with another of the same
// representation (an Offset is not a PartitionId), after Redpanda's named_type.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <ostream>

namespace tp {

template <typename T, typename Tag>
class StrongType {
 public:
  using ValueType = T;
  constexpr StrongType() = default;
  constexpr explicit StrongType(T v) : value_(v) {}
  constexpr T value() const { return value_; }
  constexpr auto operator<=>(const StrongType&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const StrongType& v) {
    return os << v.value_;
  }

 private:
  T value_{};
};

}  // namespace tp

template <typename T, typename Tag>
struct std::hash<tp::StrongType<T, Tag>> {
  std::size_t operator()(const tp::StrongType<T, Tag>& v) const noexcept {
    return std::hash<T>{}(v.value());
  }
};
