#include "streamer/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace tp::streamer {

const SteadyClock* SteadyClock::Get() {
  static const SteadyClock kClock;
  return &kClock;
}

Result<RateLimiter> RateLimiter::Create(const RateLimiterOptions& options,
                                        const Clock* clock) {
  if (!std::isfinite(options.rate) || options.rate < 0) {
    return Status::InvalidArgument(
        "rate: must be a finite number >= 0 (0 = unlimited), got " +
        std::to_string(options.rate));
  }
  if (!std::isfinite(options.burst) || options.burst < 0) {
    return Status::InvalidArgument("burst: must be a finite number >= 0, got " +
                                   std::to_string(options.burst));
  }
  const double burst =
      options.burst > 0 ? options.burst : std::max(1.0, options.rate / 10);
  return RateLimiter(options.rate, burst, clock);
}

RateLimiter::RateLimiter(double rate, double burst, const Clock* clock)
    : rate_(rate), burst_(burst), clock_(clock), tokens_(burst), last_(clock->Now()) {}

void RateLimiter::Refill() {
  const auto now = clock_->Now();
  if (now <= last_)
    return;
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  last_ = now;
}

bool RateLimiter::TryAcquire(double n) {
  if (unlimited())
    return true;
  Refill();
  if (tokens_ < n)
    return false;
  tokens_ -= n;
  return true;
}

std::chrono::nanoseconds RateLimiter::Reserve(double n) {
  if (unlimited())
    return std::chrono::nanoseconds(0);
  Refill();
  tokens_ -= n;
  if (tokens_ >= 0)
    return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(
      static_cast<int64_t>(std::ceil(-tokens_ / rate_ * 1e9)));
}

}  // namespace tp::streamer
