#include "streamer/rate_limiter.h"

#include <limits>

#include <gtest/gtest.h>

#include "tp/testing/testing.h"

namespace tp::streamer {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

class FakeClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  void Advance(nanoseconds d) { now_ += d; }

 private:
  TimePoint now_{std::chrono::seconds(1000)};
};

class RateLimiterTest : public ::testing::Test {
 protected:
  RateLimiter Make(double rate, double burst) {
    auto r = RateLimiter::Create({.rate = rate, .burst = burst}, &clock_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }
  FakeClock clock_;
};

TEST_F(RateLimiterTest, StartsFullThenRefillsAtRate) {
  RateLimiter limiter = Make(10, 5);
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(limiter.TryAcquire()) << i;
  EXPECT_FALSE(limiter.TryAcquire());
  clock_.Advance(milliseconds(99));
  EXPECT_FALSE(limiter.TryAcquire());
  clock_.Advance(milliseconds(1));
  EXPECT_TRUE(limiter.TryAcquire());
  EXPECT_FALSE(limiter.TryAcquire());
}

TEST_F(RateLimiterTest, IdleTimeIsCappedAtBurst) {
  RateLimiter limiter = Make(100, 3);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(limiter.TryAcquire());
  clock_.Advance(std::chrono::hours(1));
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(limiter.TryAcquire()) << i;
  EXPECT_FALSE(limiter.TryAcquire());
}

TEST_F(RateLimiterTest, ReserveReturnsTheWait) {
  RateLimiter limiter = Make(1000, 1);
  EXPECT_EQ(limiter.Reserve(), nanoseconds(0));
  EXPECT_EQ(limiter.Reserve(), milliseconds(1));
  EXPECT_EQ(limiter.Reserve(), milliseconds(2));
  clock_.Advance(milliseconds(2));
  EXPECT_EQ(limiter.Reserve(), milliseconds(1));
  // A batch larger than the burst is allowed; the debt delays later callers.
  clock_.Advance(milliseconds(10));
  EXPECT_EQ(limiter.Reserve(100), milliseconds(99));
  EXPECT_FALSE(limiter.TryAcquire());
  clock_.Advance(milliseconds(100));
  EXPECT_TRUE(limiter.TryAcquire());
}

TEST_F(RateLimiterTest, SustainedRateMatches) {
  RateLimiter limiter = Make(250, 0);
  EXPECT_DOUBLE_EQ(limiter.burst(), 25);
  int sent = 0;
  // Ten simulated seconds in 1 ms steps.
  for (int step = 0; step < 10000; ++step) {
    while (limiter.TryAcquire())
      ++sent;
    clock_.Advance(milliseconds(1));
  }
  EXPECT_GE(sent, 2500);
  EXPECT_LE(sent, 2500 + 25 + 1);
}

TEST_F(RateLimiterTest, ZeroRateIsUnlimited) {
  RateLimiter limiter = Make(0, 0);
  EXPECT_TRUE(limiter.unlimited());
  for (int i = 0; i < 100000; ++i)
    ASSERT_TRUE(limiter.TryAcquire());
  EXPECT_EQ(limiter.Reserve(1e9), nanoseconds(0));
}

TEST_F(RateLimiterTest, DefaultBurstIsAtLeastOne) {
  EXPECT_DOUBLE_EQ(Make(2, 0).burst(), 1);
  EXPECT_DOUBLE_EQ(Make(5000, 0).burst(), 500);
}

TEST_F(RateLimiterTest, RejectsBadOptions) {
  for (double bad : {-1.0,
                     std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::quiet_NaN()}) {
    auto r = RateLimiter::Create({.rate = bad}, &clock_);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("rate"), std::string::npos);
    auto b = RateLimiter::Create({.rate = 1, .burst = bad}, &clock_);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find("burst"), std::string::npos);
  }
}

TEST_F(RateLimiterTest, ClockGoingBackwardsDoesNotMint) {
  RateLimiter limiter = Make(10, 1);
  ASSERT_TRUE(limiter.TryAcquire());
  clock_.Advance(-std::chrono::seconds(5));
  EXPECT_FALSE(limiter.TryAcquire());
}

TEST(SteadyClockTest, IsMonotonic) {
  const Clock* clock = SteadyClock::Get();
  const auto a = clock->Now();
  EXPECT_LE(a, clock->Now());
}

}  // namespace
}  // namespace tp::streamer
