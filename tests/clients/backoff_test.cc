#include "clients/backoff.h"

#include <gtest/gtest.h>

namespace tp::clients {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, FullJitterStaysUnderTheExponentialCeiling) {
  BackoffOptions options{milliseconds(10), milliseconds(100)};
  for (int attempt = 0; attempt < 10; ++attempt) {
    const auto ceiling = std::min<int64_t>(100, int64_t{10} << attempt);
    for (int i = 0; i < 50; ++i) {
      const auto d = FullJitterBackoff(options, attempt);
      EXPECT_GE(d.count(), 0);
      EXPECT_LE(d.count(), ceiling);
    }
  }
}

TEST(BackoffTest, ParsesDeltaSecondsOnly) {
  EXPECT_EQ(ParseRetryAfter("3"), milliseconds(3000));
  EXPECT_EQ(ParseRetryAfter(" 0 "), milliseconds(0));
  EXPECT_EQ(ParseRetryAfter("99999"), milliseconds(3600 * 1000));
  EXPECT_FALSE(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"));
  EXPECT_FALSE(ParseRetryAfter("-1"));
  EXPECT_FALSE(ParseRetryAfter(""));
  EXPECT_FALSE(ParseRetryAfter("1.5"));
}

}  // namespace
}  // namespace tp::clients
