#include "streamer/shard.h"

#include <cctype>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "tp/testing/testing.h"

namespace tp::streamer {
namespace {

using ::tp::testing::TestLabel;

TEST(ShardTest, ParsesValidSpecs) {
  ASSERT_OK_AND_ASSIGN(ShardSpec a, ParseShard("0/1"));
  EXPECT_EQ(a, (ShardSpec{0, 1}));
  ASSERT_OK_AND_ASSIGN(ShardSpec b, ParseShard("2/4"));
  EXPECT_EQ(b, (ShardSpec{2, 4}));
  EXPECT_EQ(b.ToString(), "2/4");
  ASSERT_OK_AND_ASSIGN(ShardSpec c, ParseShard("0/4294967295"));
  EXPECT_EQ(c.count, 4294967295u);
}

struct BadShard {
  const char* text;
  const char* why;
};

void PrintTo(const BadShard& c, std::ostream* os) {
  *os << TestLabel(c.text);
}

class ShardRejectTest : public ::testing::TestWithParam<BadShard> {};

TEST_P(ShardRejectTest, SaysWhatIsWrong) {
  auto r = ParseShard(GetParam().text);
  ASSERT_FALSE(r.ok()) << GetParam().text;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(GetParam().why), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find(std::string("'") + GetParam().text + "'"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Table,
                         ShardRejectTest,
                         ::testing::Values(BadShard{"", "expected i/N"},
                                           BadShard{"3", "expected i/N"},
                                           BadShard{"/4", "index must be"},
                                           BadShard{"-1/4", "index must be"},
                                           BadShard{"a/4", "index must be"},
                                           BadShard{" 1/4", "index must be"},
                                           BadShard{"1/", "count must be a positive"},
                                           BadShard{"1/x", "count must be a positive"},
                                           BadShard{"1/4/5", "count must be a positive"},
                                           BadShard{"1/4 ", "count must be a positive"},
                                           BadShard{"0/0", "count must be >= 1"},
                                           BadShard{"4/4", "index must be < count 4"},
                                           BadShard{"9/2", "index must be < count 2"},
                                           BadShard{"1/99999999999", "count must be"}));

TEST(ShardTest, EveryRowHasExactlyOneOwner) {
  const uint32_t n = 5;
  for (uint64_t row = 0; row < 1000; ++row) {
    int owners = 0;
    for (uint32_t i = 0; i < n; ++i)
      owners += ShardSpec{i, n}.Owns(row) ? 1 : 0;
    EXPECT_EQ(owners, 1) << row;
  }
  EXPECT_TRUE((ShardSpec{0, 1}.Owns(12345)));
  EXPECT_TRUE((ShardSpec{1, 3}.Owns(4)));
  EXPECT_FALSE((ShardSpec{1, 3}.Owns(5)));
}

}  // namespace
}  // namespace tp::streamer
