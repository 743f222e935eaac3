// A token bucket limiting how many messages per second the streamer emits.
//
// Tokens accrue at `rate` per second up to `burst`; each message takes one. The clock is
// injected so tests can move time by hand instead of sleeping.
#pragma once

#include <chrono>

#include "tp/status.h"

namespace tp::streamer {

// A monotonic time source. Implementations must be thread-safe.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// std::chrono::steady_clock.
class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  // A process-wide instance (stateless, so sharing is free).
  static const SteadyClock* Get();
};

struct RateLimiterOptions {
  // Messages per second; 0 means unlimited.
  double rate = 0;
  // Most tokens that can accumulate while idle: how many messages may go out back to
  // back after a pause. 0 means max(1, rate / 10), a tenth of a second's worth, so
  // output stays smooth.
  double burst = 0;
};

class RateLimiter {
 public:
  // InvalidArgument for a negative or non-finite rate or burst. `clock` must outlive the
  // limiter. The bucket starts full.
  static Result<RateLimiter> Create(const RateLimiterOptions& options,
                                    const Clock* clock);

  // Takes `n` tokens if available now; false (and nothing taken) otherwise.
  bool TryAcquire(double n = 1);

  // Takes `n` tokens unconditionally, letting the balance go negative, and returns how
  // long the caller must wait before sending (zero when tokens were available). Callers
  // sleep for the result: sleep_for(limiter.Reserve(batch.size())). Reserving more than
  // `burst` at once is fine; later reservations wait for the debt to be paid.
  std::chrono::nanoseconds Reserve(double n = 1);

  bool unlimited() const { return rate_ <= 0; }
  double rate() const { return rate_; }
  double burst() const { return burst_; }

  // Not thread-safe: one limiter per emitting loop.

 private:
  RateLimiter(double rate, double burst, const Clock* clock);
  void Refill();

  double rate_;
  double burst_;
  const Clock* clock_;
  double tokens_;
  Clock::TimePoint last_;
};

}  // namespace tp::streamer
