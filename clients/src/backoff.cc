#include "clients/backoff.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <random>

namespace tp::clients {

std::chrono::milliseconds FullJitterBackoff(const BackoffOptions& options, int attempt) {
  const int64_t initial = std::max<int64_t>(1, options.initial.count());
  const int64_t cap = std::max<int64_t>(initial, options.max.count());
  int64_t ceiling = initial;
  for (int i = 0; i < attempt && ceiling < cap; ++i) {
    ceiling *= 2;
  }
  ceiling = std::min(ceiling, cap);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> dist(0, ceiling);
  return std::chrono::milliseconds(dist(rng));
}

std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  if (value.empty()) {
    return std::nullopt;
  }
  int64_t seconds = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || ptr != value.data() + value.size() || seconds < 0) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(std::min<int64_t>(seconds, 3600) * 1000);
}

}  // namespace tp::clients
