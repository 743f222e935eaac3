#include "tp/uuid.h"

#include <set>

#include <gtest/gtest.h>

#include "tp/testing/testing.h"

namespace tp {
namespace {

TEST(UuidTest, ParseRoundTrips) {
  ASSERT_OK_AND_ASSIGN(Uuid u, Uuid::Parse("0190F0A4-1B2C-7D3E-8F40-123456789ABC"));
  EXPECT_EQ(u.ToString(), "0190f0a4-1b2c-7d3e-8f40-123456789abc");
  EXPECT_EQ(u.version(), 7);
}

TEST(UuidTest, ParseRejectsMalformed) {
  for (const char* bad : {"",
                          "not-a-uuid",
                          "0190f0a4-1b2c-7d3e-8f40-123456789ab",
                          "0190f0a4x1b2c-7d3e-8f40-123456789abc",
                          "0190f0a4-1b2c-7d3e-8f40-123456789abg"}) {
    EXPECT_EQ(Uuid::Parse(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(UuidTest, NewV7IsVersionedUniqueAndTimeOrdered) {
  std::set<Uuid> seen;
  Uuid prev = Uuid::NewV7();
  for (int i = 0; i < 1000; ++i) {
    Uuid u = Uuid::NewV7();
    EXPECT_EQ(u.version(), 7);
    EXPECT_EQ(u.bytes()[8] & 0xc0, 0x80);
    // The 48-bit millisecond prefix never goes backwards.
    EXPECT_GE(std::string(reinterpret_cast<const char*>(u.bytes().data()), 6),
              std::string(reinterpret_cast<const char*>(prev.bytes().data()), 6));
    EXPECT_TRUE(seen.insert(u).second);
    prev = u;
  }
}

}  // namespace
}  // namespace tp
