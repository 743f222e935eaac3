#include "key_format.h"

#include <set>

#include <gtest/gtest.h>

#include "crc32c.h"

namespace tp::wal {
namespace {

TEST(KeyFormatTest, PrefixesAreDistinct) {
  std::set<char> seen(keys::kAllPrefixes.begin(), keys::kAllPrefixes.end());
  EXPECT_EQ(seen.size(), keys::kAllPrefixes.size());
}

TEST(KeyFormatTest, RecordKeysSortByPartitionThenOffset) {
  EXPECT_LT(keys::RecordKey(1, 2, 255), keys::RecordKey(1, 2, 256));
  EXPECT_LT(keys::RecordKey(1, 2, UINT64_MAX), keys::RecordKey(1, 3, 0));
  EXPECT_LT(keys::RecordKey(1, UINT32_MAX, UINT64_MAX), keys::RecordKey(2, 0, 0));
}

TEST(KeyFormatTest, RecordKeyRoundTrips) {
  auto key = keys::RecordKey(7, 300, 123456789012ULL);
  EXPECT_EQ(key.size(), keys::kRecordKeySize);
  auto decoded = keys::DecodeRecordKey(key);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->topic_id, 7u);
  EXPECT_EQ(decoded->partition, 300u);
  EXPECT_EQ(decoded->offset, 123456789012ULL);
  EXPECT_FALSE(keys::DecodeRecordKey(keys::TrimPointKey(7, 300)).has_value());
}

TEST(Crc32cTest, MatchesKnownVectors) {
  // RFC 3720 B.4 test vectors.
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  // Extending in pieces equals one pass.
  std::string text = "the quick brown fox jumps over the lazy dog";
  uint32_t part = Crc32cExtend(0, text.data(), 10);
  EXPECT_EQ(Crc32cExtend(part, text.data() + 10, text.size() - 10), Crc32c(text));
}

}  // namespace
}  // namespace tp::wal
