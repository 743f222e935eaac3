#include "tp/telemetry/time.h"

#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tp/testing/testing.h"

namespace tp::telemetry {
namespace {

using std::chrono::microseconds;

using ::tp::testing::TestLabel;

struct ParseCase {
  const char* text;
  const char* canonical;  // FormatRfc3339 of the parsed time
};

void PrintTo(const ParseCase& c, std::ostream* os) {
  *os << TestLabel(c.text);
}

class Rfc3339ParseTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(Rfc3339ParseTest, ParsesToUtc) {
  const ParseCase& c = GetParam();
  ASSERT_OK_AND_ASSIGN(Timestamp t, ParseRfc3339(c.text));
  EXPECT_EQ(FormatRfc3339(t), c.canonical) << c.text;
  // The canonical form parses back to the same instant.
  ASSERT_OK_AND_ASSIGN(Timestamp again, ParseRfc3339(FormatRfc3339(t)));
  EXPECT_EQ(again, t);
}

INSTANTIATE_TEST_SUITE_P(
    Table,
    Rfc3339ParseTest,
    ::testing::Values(
        ParseCase{"2025-07-18T20:42:34Z", "2025-07-18T20:42:34.000000Z"},
        ParseCase{"2025-07-18t20:42:34z", "2025-07-18T20:42:34.000000Z"},
        ParseCase{"2025-07-18 20:42:34Z", "2025-07-18T20:42:34.000000Z"},
        ParseCase{"2025-07-18T20:42:34.5Z", "2025-07-18T20:42:34.500000Z"},
        ParseCase{"2025-07-18T20:42:34.123456Z", "2025-07-18T20:42:34.123456Z"},
        // Beyond microseconds: truncated, never rounded up.
        ParseCase{"2025-07-18T20:42:34.123456999Z", "2025-07-18T20:42:34.123456Z"},
        ParseCase{"2025-07-18T20:42:34.9999999Z", "2025-07-18T20:42:34.999999Z"},
        ParseCase{"2025-07-18T22:42:34+02:00", "2025-07-18T20:42:34.000000Z"},
        ParseCase{"2025-07-18T15:12:34.25-05:30", "2025-07-18T20:42:34.250000Z"},
        ParseCase{"2025-07-18T20:42:34+00:00", "2025-07-18T20:42:34.000000Z"},
        ParseCase{"2025-07-18T20:42:34-00:00", "2025-07-18T20:42:34.000000Z"},
        // Offsets that cross a day, a month and a year.
        ParseCase{"2025-01-01T00:30:00+01:00", "2024-12-31T23:30:00.000000Z"},
        ParseCase{"2024-02-28T23:00:00-02:00", "2024-02-29T01:00:00.000000Z"},
        // Leap years: 2024 and 2000 have 29 February.
        ParseCase{"2024-02-29T12:00:00Z", "2024-02-29T12:00:00.000000Z"},
        ParseCase{"2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000000Z"},
        ParseCase{"1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000Z"},
        ParseCase{"1969-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z"},
        ParseCase{"0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"},
        ParseCase{"9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"}));

struct BadCase {
  const char* text;
  const char* why;  // substring of the error message
};

void PrintTo(const BadCase& c, std::ostream* os) {
  *os << TestLabel(c.text);
}

class Rfc3339RejectTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(Rfc3339RejectTest, NamesTheProblem) {
  const BadCase& c = GetParam();
  auto r = ParseRfc3339(c.text);
  ASSERT_FALSE(r.ok()) << c.text;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(c.why), std::string::npos)
      << c.text << " -> " << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Table,
    Rfc3339RejectTest,
    ::testing::Values(BadCase{"", "too short"},
                      BadCase{"2025-07-18", "too short"},
                      BadCase{"2025-07-18T20:42:34", "too short"},
                      BadCase{"2025-07-18T20:42:3Z", "too short"},
                      BadCase{"2025/07/18T20:42:34Z", "date"},
                      BadCase{"25-07-18T20:42:34Z00", "date"},
                      BadCase{"2025-13-01T00:00:00Z", "invalid month 13"},
                      BadCase{"2025-00-01T00:00:00Z", "invalid month 0"},
                      BadCase{"2025-02-29T00:00:00Z", "invalid day 29 for month 2"},
                      BadCase{"1900-02-29T00:00:00Z", "invalid day 29"},
                      BadCase{"2025-04-31T00:00:00Z", "invalid day 31 for month 4"},
                      BadCase{"2025-01-00T00:00:00Z", "invalid day 0"},
                      BadCase{"2025-01-01X00:00:00Z", "'T'"},
                      BadCase{"2025-01-01T24:00:00Z", "invalid hour"},
                      BadCase{"2025-01-01T23:60:00Z", "invalid minute"},
                      BadCase{"2025-01-01T23:59:61Z", "invalid second"},
                      BadCase{"2016-12-31T23:59:60Z", "leap second"},
                      BadCase{"2025-01-01T00:00:00.Z", "digits after '.'"},
                      BadCase{"2025-01-01T00:00:00.1234567890Z", "more than 9"},
                      BadCase{"2025-01-01T00:00:00", "too short"},
                      BadCase{"2025-01-01T00:00:00.5", "missing UTC offset"},
                      BadCase{"2025-01-01T00:00:00+0200", "offset"},
                      BadCase{"2025-01-01T00:00:00+2", "offset"},
                      BadCase{"2025-01-01T00:00:00+24:00", "invalid UTC offset"},
                      BadCase{"2025-01-01T00:00:00+01:60", "invalid UTC offset"},
                      BadCase{"2025-01-01T00:00:00UTC", "expected 'Z'"},
                      BadCase{"2025-01-01T00:00:00Zjunk", "trailing"},
                      BadCase{"2025-01-01T00:00:00Z ", "trailing"},
                      BadCase{"+025-01-01T00:00:00Z", "date"}));

TEST(Rfc3339FormatTest, AlwaysSixDigitsAndZ) {
  const Timestamp t{microseconds(1752871354000001)};
  EXPECT_EQ(FormatRfc3339(t), "2025-07-18T20:42:34.000001Z");
  EXPECT_EQ(FormatRfc3339(Timestamp{}), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatRfc3339(Timestamp{microseconds(-1)}), "1969-12-31T23:59:59.999999Z");
}

TEST(Rfc3339FormatTest, FormattedStringsSortLikeTimes) {
  const Timestamp a{microseconds(1752871354000000)};
  const Timestamp b = a + microseconds(1);
  const Timestamp c = a + std::chrono::hours(24 * 400);
  EXPECT_LT(FormatRfc3339(a), FormatRfc3339(b));
  EXPECT_LT(FormatRfc3339(b), FormatRfc3339(c));
}

// Every field at both ends of its range, and years outside 0..9999 (which take the
// general formatter), read back as the same time.
TEST(Rfc3339FormatTest, EveryFieldRoundTrips) {
  const std::vector<std::pair<Timestamp, std::string>> cases = {
      {Timestamp{microseconds(-62135596800000000)}, "0001-01-01T00:00:00.000000Z"},
      {Timestamp{microseconds(253402300799999999)}, "9999-12-31T23:59:59.999999Z"},
      {Timestamp{microseconds(951782400123456)}, "2000-02-29T00:00:00.123456Z"},
      {Timestamp{microseconds(1767225599999999)}, "2025-12-31T23:59:59.999999Z"},
      {Timestamp{microseconds(1000000000987654)}, "2001-09-09T01:46:40.987654Z"},
  };
  for (const auto& [time, text] : cases) {
    EXPECT_EQ(FormatRfc3339(time), text);
    ASSERT_OK_AND_ASSIGN(Timestamp parsed, ParseRfc3339(text));
    EXPECT_EQ(parsed, time) << text;
  }
  EXPECT_EQ(FormatRfc3339(Timestamp{microseconds(253402300800000000)}),
            "10000-01-01T00:00:00.000000Z");
}

TEST(Rfc3339FormatTest, NowIsWholeMicroseconds) {
  const Timestamp now = NowMicros();
  ASSERT_OK_AND_ASSIGN(Timestamp parsed, ParseRfc3339(FormatRfc3339(now)));
  EXPECT_EQ(parsed, now);
}

}  // namespace
}  // namespace tp::telemetry
