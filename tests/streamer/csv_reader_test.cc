#include "streamer/csv_reader.h"

#include <cctype>
#include <fstream>
#include <ostream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "tp/testing/testing.h"

namespace tp::streamer {
namespace {

using Rows = std::vector<std::vector<std::string>>;

using ::tp::testing::TestLabel;

struct CsvCase {
  const char* name;
  std::string input;
  Rows rows;
  std::vector<int64_t> lines;  // line of each record
};

void PrintTo(const CsvCase& c, std::ostream* os) {
  *os << TestLabel(c.name);
}

// Reads everything, failing the test on an error.
void ReadAll(CsvReader& reader, Rows* rows, std::vector<int64_t>* lines) {
  CsvRecord record;
  for (;;) {
    auto got = reader.Next(&record);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    if (!*got)
      return;
    rows->push_back(record.fields);
    lines->push_back(record.line);
  }
}

class CsvReaderTableTest : public ::testing::TestWithParam<CsvCase> {};

TEST_P(CsvReaderTableTest, ParsesRecords) {
  const CsvCase& c = GetParam();
  auto reader = CsvReader::FromString(c.input);
  Rows rows;
  std::vector<int64_t> lines;
  ReadAll(*reader, &rows, &lines);
  EXPECT_EQ(rows, c.rows);
  EXPECT_EQ(lines, c.lines);
}

INSTANTIATE_TEST_SUITE_P(
    Table,
    CsvReaderTableTest,
    ::testing::Values(
        CsvCase{"Empty", "", {}, {}},
        CsvCase{"Unquoted", "a,b,c\n1,2,3\n", {{"a", "b", "c"}, {"1", "2", "3"}}, {1, 2}},
        CsvCase{"NoFinalNewline", "a,b\n1,2", {{"a", "b"}, {"1", "2"}}, {1, 2}},
        CsvCase{"Quoted",
                R"("a","b c")"
                "\n",
                {{"a", "b c"}},
                {1}},
        CsvCase{"QuotedComma", "\"x,y\",z\n", {{"x,y", "z"}}, {1}},
        CsvCase{"DoubledQuotes",
                "\"say \"\"hi\"\"\",\"\"\"\"\n",
                {{"say \"hi\"", "\""}},
                {1}},
        CsvCase{"NewlineInQuotes",
                "\"line1\nline2\",b\nnext,row\n",
                {{"line1\nline2", "b"}, {"next", "row"}},
                {1, 3}},
        CsvCase{"CrlfInQuotesKept",
                "\"a\r\nb\",c\r\nd,e\r\n",
                {{"a\r\nb", "c"}, {"d", "e"}},
                {1, 3}},
        CsvCase{"Crlf", "a,b\r\n1,2\r\n", {{"a", "b"}, {"1", "2"}}, {1, 2}},
        CsvCase{"LoneCr", "a,b\r1,2\r", {{"a", "b"}, {"1", "2"}}, {1, 2}},
        CsvCase{"Bom",
                "\xEF\xBB\xBFtimestamp,x\n1,2\n",
                {{"timestamp", "x"}, {"1", "2"}},
                {1, 2}},
        CsvCase{"BomOnly", "\xEF\xBB\xBF", {}, {}},
        CsvCase{"BomNotAtStartKept",
                "a\n\xEF\xBB\xBF"
                "b\n",
                {{"a"},
                 {"\xEF\xBB\xBF"
                  "b"}},
                {1, 2}},
        CsvCase{"EmptyFields", ",,\n\"\",x,\n", {{"", "", ""}, {"", "x", ""}}, {1, 2}},
        CsvCase{"BlankLinesSkipped", "\na\n\r\n\nb\n\n", {{"a"}, {"b"}}, {2, 5}},
        CsvCase{"QuoteInsideUnquotedKept", "ab\"c,d\n", {{"ab\"c", "d"}}, {1}},
        CsvCase{"Mixed", "1,\"two\",3\n", {{"1", "two", "3"}}, {1}},
        CsvCase{
            "DcgmLabels",
            "\"x\",\"DCGM_FI_DRIVER_VERSION=\"\"535.129.03\"\",Hostname=\"\"h\"\"\"\n",
            {{"x", R"(DCGM_FI_DRIVER_VERSION="535.129.03",Hostname="h")"}},
            {1}}));

TEST(CsvReaderTest, FieldsLargerThanTheBufferStream) {
  // One field bigger than the 64 KiB read buffer, then a normal row.
  const std::string big(200 * 1024, 'x');
  auto reader = CsvReader::FromString("\"" + big + "\",1\n2,3\n");
  Rows rows;
  std::vector<int64_t> lines;
  ReadAll(*reader, &rows, &lines);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0], big);
  EXPECT_EQ(rows[1], (std::vector<std::string>{"2", "3"}));
}

TEST(CsvReaderTest, JunkAfterClosingQuoteSkipsThatLineOnly) {
  auto reader = CsvReader::FromString("a,b\n\"x\"y,z\n1,2\n");
  CsvRecord record;
  ASSERT_OK_AND_ASSIGN(bool got, reader->Next(&record));
  ASSERT_TRUE(got);
  auto bad = reader->Next(&record);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("after the closing quote"), std::string::npos);
  EXPECT_EQ(record.line, 2);
  ASSERT_OK_AND_ASSIGN(got, reader->Next(&record));
  ASSERT_TRUE(got);
  EXPECT_EQ(record.fields, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(record.line, 3);
}

TEST(CsvReaderTest, UnterminatedQuoteIsFinalCorruption) {
  auto reader = CsvReader::FromString("a,b\n\"open,1\n2,3\n");
  CsvRecord record;
  ASSERT_OK_AND_ASSIGN(bool got, reader->Next(&record));
  ASSERT_TRUE(got);
  auto bad = reader->Next(&record);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.status().message().find("line 2: quoted field not closed"),
            std::string::npos)
      << bad.status().message();
  ASSERT_OK_AND_ASSIGN(got, reader->Next(&record));
  EXPECT_FALSE(got);
}

TEST(CsvReaderTest, OversizedRecordIsCorruption) {
  CsvOptions options;
  options.max_record_bytes = 10;
  auto reader = CsvReader::FromString("short\n\"0123456789abcdef\n", options);
  CsvRecord record;
  ASSERT_OK_AND_ASSIGN(bool got, reader->Next(&record));
  ASSERT_TRUE(got);
  auto bad = reader->Next(&record);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.status().message().find("longer than 10 bytes"), std::string::npos);
}

TEST(CsvReaderTest, OpenMissingFileIsNotFound) {
  auto r = CsvReader::Open("/nonexistent/dir/file.csv");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/dir/file.csv"), std::string::npos);
}

TEST(CsvReaderTest, ReadsPlainFile) {
  auto dir = tp::testing::MakeTempDir();
  const auto path = dir.path() / "plain.csv";
  std::ofstream(path, std::ios::binary) << "\xEF\xBB\xBFh1,h2\r\n\"a\nb\",c\r\n";
  ASSERT_OK_AND_ASSIGN(auto reader, CsvReader::Open(path));
  Rows rows;
  std::vector<int64_t> lines;
  ReadAll(*reader, &rows, &lines);
  EXPECT_EQ(rows, (Rows{{"h1", "h2"}, {"a\nb", "c"}}));
  EXPECT_EQ(lines, (std::vector<int64_t>{1, 2}));
}

}  // namespace
}  // namespace tp::streamer
