// Retry timing shared by the Publisher, the Consumer and the collector: exponential
// backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"),
// and the Retry-After header of 429/503 answers.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace tp::clients {

struct BackoffOptions {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{10'000};
};

// Full jitter: a uniformly random wait in [0, min(max, initial * 2^attempt)].
// `attempt` is 0 for the first retry. Thread-safe.
std::chrono::milliseconds FullJitterBackoff(const BackoffOptions& options, int attempt);

// Parses a Retry-After value given as delta-seconds ("3", "0"). HTTP-dates and junk
// give nullopt (the caller then uses its own backoff). Values are capped at one hour.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value);

}  // namespace tp::clients
