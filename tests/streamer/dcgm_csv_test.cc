#include "streamer/dcgm_csv.h"

#include <cctype>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <zlib.h>

#include "streamer/shard.h"
#include "tp/telemetry/labels.h"
#include "tp/testing/testing.h"

namespace tp::streamer {
namespace {

using ::tp::testing::TestLabel;

using telemetry::FormatRfc3339;

const std::filesystem::path kRealCsv =
    std::filesystem::path(TP_SOURCE_DIR) / "data" / "dcgm_metrics_20250718_134233.csv";

constexpr const char* kHeader =
    "timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,"
    "value,labels_raw\n";

struct ReadOutcome {
  std::vector<DcgmRow> rows;
  std::vector<RowError> errors;
};

ReadOutcome ReadAll(DcgmCsvReader& reader) {
  ReadOutcome out;
  for (;;) {
    DcgmRow row;
    RowError error;
    auto status = reader.Next(&row, &error);
    EXPECT_TRUE(status.ok()) << status.status().ToString();
    if (!status.ok() || *status == DcgmCsvReader::ReadStatus::kEnd)
      return out;
    if (*status == DcgmCsvReader::ReadStatus::kRow) {
      out.rows.push_back(std::move(row));
    } else {
      out.errors.push_back(std::move(error));
    }
  }
}

Result<std::unique_ptr<DcgmCsvReader>> FromText(std::string text) {
  return DcgmCsvReader::FromCsv(CsvReader::FromString(std::move(text)));
}

TEST(DcgmCsvTest, ReadsEveryRowOfTheRealExport) {
  ASSERT_OK_AND_ASSIGN(auto reader, DcgmCsvReader::Open(kRealCsv));
  const ReadOutcome out = ReadAll(*reader);
  EXPECT_TRUE(out.errors.empty()) << out.errors.front().reason;
  ASSERT_EQ(out.rows.size(), 2470u);

  std::map<std::string, int> per_metric;
  std::set<std::string> uuids;
  for (const DcgmRow& row : out.rows) {
    ++per_metric[row.record.metric_name];
    uuids.insert(row.record.uuid);
    ASSERT_TRUE(row.record.value.has_value()) << "line " << row.line;
    // Every labels_raw in the file is well-formed and agrees with the columns.
    ASSERT_OK_AND_ASSIGN(telemetry::Labels labels,
                         telemetry::ParseLabels(row.record.labels_raw));
    EXPECT_EQ(labels["UUID"], row.record.uuid);
    EXPECT_EQ(labels["__name__"], row.record.metric_name);
    EXPECT_EQ(labels["gpu"], std::to_string(row.record.gpu_id));
  }
  const std::map<std::string, int> expected = {
      {"DCGM_FI_DEV_DEC_UTIL", 247},
      {"DCGM_FI_DEV_ENC_UTIL", 247},
      {"DCGM_FI_DEV_FB_FREE", 247},
      {"DCGM_FI_DEV_FB_USED", 247},
      {"DCGM_FI_DEV_GPU_TEMP", 247},
      {"DCGM_FI_DEV_GPU_UTIL", 247},
      {"DCGM_FI_DEV_MEM_CLOCK", 247},
      {"DCGM_FI_DEV_MEM_COPY_UTIL", 247},
      {"DCGM_FI_DEV_POWER_USAGE", 247},
      {"DCGM_FI_DEV_SM_CLOCK", 247},
  };
  EXPECT_EQ(per_metric, expected);
  EXPECT_EQ(uuids.size(), 247u);

  // Line 496 is the first POWER_USAGE row; the header is line 1, no field spans lines.
  const DcgmRow& row = out.rows[494];
  EXPECT_EQ(row.line, 496);
  EXPECT_EQ(row.index, 494u);
  const telemetry::TelemetryRecord& r = row.record;
  EXPECT_EQ(FormatRfc3339(r.timestamp), "2025-07-18T20:42:34.000000Z");
  EXPECT_EQ(row.source_timestamp, r.timestamp);
  EXPECT_EQ(r.metric_name, "DCGM_FI_DEV_POWER_USAGE");
  EXPECT_EQ(r.gpu_id, 0);
  EXPECT_EQ(r.device, "nvidia0");
  EXPECT_EQ(r.uuid, "GPU-5fd4f087-86f3-7a43-b711-4771313afc50");
  EXPECT_EQ(r.model_name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(r.hostname, "mtv5-dgx1-hgpu-031");
  EXPECT_EQ(r.container, "");
  EXPECT_EQ(r.pod, "");
  EXPECT_EQ(r.namespace_, "");
  EXPECT_EQ(r.value, 156.596);
  EXPECT_EQ(r.labels_raw,
            R"(DCGM_FI_DRIVER_VERSION="535.129.03",Hostname="mtv5-dgx1-hgpu-031",)"
            R"(UUID="GPU-5fd4f087-86f3-7a43-b711-4771313afc50",)"
            R"(__name__="DCGM_FI_DEV_POWER_USAGE",device="nvidia0",gpu="0",)"
            R"(instance="mtv5-dgx1-hgpu-031:9400",job="dgx_dcgm_exporter",)"
            R"(modelName="NVIDIA H100 80GB HBM3")");

  const DcgmRow& last = out.rows.back();
  EXPECT_EQ(last.line, 2471);
  EXPECT_EQ(last.record.metric_name, "DCGM_FI_DEV_MEM_CLOCK");
  EXPECT_EQ(last.record.gpu_id, 6);
  EXPECT_EQ(last.record.value, 2619.0);
  EXPECT_EQ(FormatRfc3339(last.record.timestamp), "2025-07-18T20:42:37.000000Z");
}

TEST(DcgmCsvTest, ShardsPartitionTheRealExport) {
  ASSERT_OK_AND_ASSIGN(auto reader, DcgmCsvReader::Open(kRealCsv));
  const ReadOutcome out = ReadAll(*reader);
  std::vector<int> owners(out.rows.size(), 0);
  for (uint32_t i = 0; i < 3; ++i) {
    const ShardSpec shard{i, 3};
    for (size_t k = 0; k < out.rows.size(); ++k) {
      if (shard.Owns(out.rows[k].index))
        ++owners[k];
    }
  }
  for (int n : owners)
    EXPECT_EQ(n, 1);
}

TEST(DcgmCsvTest, ReadsGzipCompressedExport) {
  // Compress the real file in the test, then read it back through zlib.
  std::ifstream in(kRealCsv, std::ios::binary);
  const std::string content((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
  ASSERT_FALSE(content.empty());
  auto dir = tp::testing::MakeTempDir();
  const auto gz_path = dir.path() / "export.csv.gz";
  gzFile gz = gzopen(gz_path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, content.data(), static_cast<unsigned>(content.size())),
            static_cast<int>(content.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
  ASSERT_LT(std::filesystem::file_size(gz_path), content.size() / 4);

  ASSERT_OK_AND_ASSIGN(auto reader, DcgmCsvReader::Open(gz_path));
  const ReadOutcome out = ReadAll(*reader);
  EXPECT_TRUE(out.errors.empty());
  ASSERT_EQ(out.rows.size(), 2470u);
  EXPECT_EQ(out.rows[494].record.value, 156.596);
}

TEST(DcgmCsvTest, TruncatedGzipIsAnIOError) {
  std::string content = kHeader;
  for (int i = 0; i < 50000; ++i) {
    content += "2025-07-18T20:42:34Z,M," + std::to_string(i % 8) + ",d,GPU-" +
               std::to_string(i) + ",m,h,,,," + std::to_string(i) + ",\n";
  }
  auto dir = tp::testing::MakeTempDir();
  const auto full = dir.path() / "full.csv.gz";
  gzFile gz = gzopen(full.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_GT(gzwrite(gz, content.data(), static_cast<unsigned>(content.size())), 0);
  ASSERT_EQ(gzclose(gz), Z_OK);
  const auto cut = dir.path() / "cut.csv.gz";
  std::filesystem::copy_file(full, cut);
  std::filesystem::resize_file(cut, std::filesystem::file_size(full) / 2);

  ASSERT_OK_AND_ASSIGN(auto reader, DcgmCsvReader::Open(cut));
  Status final_status;
  size_t rows = 0;
  for (;;) {
    DcgmRow row;
    RowError error;
    auto status = reader->Next(&row, &error);
    if (!status.ok()) {
      final_status = status.status();
      break;
    }
    ASSERT_NE(*status, DcgmCsvReader::ReadStatus::kEnd) << "truncation went unnoticed";
    ++rows;
  }
  EXPECT_GT(rows, 0u);  // the good part streamed before the error
  EXPECT_EQ(final_status.code(), StatusCode::kIOError) << final_status.ToString();
  EXPECT_NE(final_status.message().find("unexpected end of file"), std::string::npos)
      << final_status.ToString();
}

struct HeaderCase {
  const char* name;
  std::string header;
  const char* why;  // empty: accepted
};

void PrintTo(const HeaderCase& c, std::ostream* os) {
  *os << TestLabel(c.name);
}

class DcgmHeaderTest : public ::testing::TestWithParam<HeaderCase> {};

TEST_P(DcgmHeaderTest, ChecksColumns) {
  const HeaderCase& c = GetParam();
  auto reader = FromText(c.header + "\n");
  if (std::string(c.why).empty()) {
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    return;
  }
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(reader.status().message().find(c.why), std::string::npos)
      << reader.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Table,
    DcgmHeaderTest,
    ::testing::Values(
        HeaderCase{
            "Canonical",
            "timestamp,metric_name,gpu_id,device,uuid,model_name,hostname,container,"
            "pod,namespace,value,labels_raw",
            ""},
        HeaderCase{"CsvSpellings",
                   "timestamp,metric_name,gpu,device,UUID,modelName,Hostname,value",
                   ""},
        HeaderCase{"OnlyRequired", "TIMESTAMP,Metric_Name,GPU_ID,Uuid,Value", ""},
        HeaderCase{
            "ExtraColumnsIgnored", "x,timestamp,metric_name,gpu_id,uuid,value,y", ""},
        HeaderCase{"MissingTimestamp", "metric_name,gpu_id,uuid,value", "'timestamp'"},
        HeaderCase{"MissingMetric", "timestamp,gpu_id,uuid,value", "'metric_name'"},
        HeaderCase{"MissingGpu", "timestamp,metric_name,uuid,value", "'gpu_id'"},
        HeaderCase{"MissingUuid", "timestamp,metric_name,gpu_id,value", "'uuid'"},
        HeaderCase{"MissingValue",
                   "timestamp,metric_name,gpu_id,uuid",
                   "missing required column 'value'"},
        HeaderCase{"DuplicateAlias",
                   "timestamp,metric_name,gpu_id,gpu,uuid,value",
                   "'gpu_id' given twice ('gpu_id' and 'gpu')"},
        HeaderCase{"DuplicateCase",
                   "timestamp,metric_name,gpu_id,uuid,UUID,value",
                   "given twice"},
        HeaderCase{"Empty", "", "empty input"}));

TEST(DcgmCsvTest, ReorderedAndQuotedColumnsMapByName) {
  ASSERT_OK_AND_ASSIGN(
      auto reader,
      FromText("value,\"UUID\",labels_raw,Hostname,gpu,timestamp,metric_name\r\n"
               "\"71.5\",GPU-1,\"a=\"\"x,y\"\"\",host-1,2,2025-07-18T20:42:34.5Z,M\r\n"));
  const ReadOutcome out = ReadAll(*reader);
  ASSERT_EQ(out.rows.size(), 1u);
  const auto& r = out.rows[0].record;
  EXPECT_EQ(r.value, 71.5);
  EXPECT_EQ(r.uuid, "GPU-1");
  EXPECT_EQ(r.labels_raw, R"(a="x,y")");
  EXPECT_EQ(r.hostname, "host-1");
  EXPECT_EQ(r.gpu_id, 2);
  EXPECT_EQ(r.metric_name, "M");
  EXPECT_EQ(r.device, "");
  EXPECT_EQ(r.model_name, "");
  EXPECT_EQ(FormatRfc3339(r.timestamp), "2025-07-18T20:42:34.500000Z");
}

struct RowCase {
  const char* name;
  std::string row;  // one data line after kHeader
  const char* why;  // empty: the row parses
  std::optional<double> value;
};

void PrintTo(const RowCase& c, std::ostream* os) {
  *os << TestLabel(c.name);
}

class DcgmRowTest : public ::testing::TestWithParam<RowCase> {};

TEST_P(DcgmRowTest, MapsOrRejectsRow) {
  const RowCase& c = GetParam();
  // A good row after the case proves that a bad row does not stop the file.
  ASSERT_OK_AND_ASSIGN(auto reader,
                       FromText(std::string(kHeader) + c.row + "\n" +
                                "2025-07-18T20:42:34Z,M,0,d,GPU-ok,m,h,,,,1,\n"));
  const ReadOutcome out = ReadAll(*reader);
  if (std::string(c.why).empty()) {
    ASSERT_TRUE(out.errors.empty()) << out.errors.front().reason;
    ASSERT_EQ(out.rows.size(), 2u);
    EXPECT_EQ(out.rows[0].record.value, c.value);
    EXPECT_EQ(out.rows[1].index, 1u);
    return;
  }
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].line, 2);
  EXPECT_EQ(out.errors[0].index, 0u);
  EXPECT_NE(out.errors[0].reason.find(c.why), std::string::npos) << out.errors[0].reason;
  ASSERT_EQ(out.rows.size(), 1u);
  EXPECT_EQ(out.rows[0].record.uuid, "GPU-ok");
  EXPECT_EQ(out.rows[0].index, 1u);
  EXPECT_EQ(out.rows[0].line, 3);
}

INSTANTIATE_TEST_SUITE_P(
    Table,
    DcgmRowTest,
    ::testing::Values(
        RowCase{"Integer", "2025-07-18T20:42:34Z,M,0,d,GPU-1,m,h,,,,42,", "", 42.0},
        RowCase{"Decimal",
                "\"2025-07-18T20:42:34Z\",\"M\",\"0\",\"d\",\"GPU-1\",\"m\",\"h\",\"\","
                "\"\",\"\",\"0.25\",\"\"",
                "",
                0.25},
        RowCase{"EmptyValueIsNull",
                "2025-07-18T20:42:34Z,M,0,d,GPU-1,m,h,,,,,",
                "",
                std::nullopt},
        RowCase{"BlankSentinelIsNull",
                "2025-07-18T20:42:34Z,M,0,d,GPU-1,m,h,,,,9223372036854775794,",
                "",
                std::nullopt},
        RowCase{"JustBelowSentinel",
                "2025-07-18T20:42:34Z,M,0,d,GPU-1,m,h,,,,9223372036854775791,",
                "",
                9223372036854775791.0},
        RowCase{"ShortRow",
                "2025-07-18T20:42:34Z,M,0,d,GPU-1",
                "row has 5 fields, header has 12",
                {}},
        RowCase{"LongRow",
                "2025-07-18T20:42:34Z,M,0,d,GPU-1,m,h,,,,1,,extra",
                "row has 13 fields",
                {}},
        RowCase{"BadNumber",
                "2025-07-18T20:42:34Z,M,0,d,GPU-1,m,h,,,,12abc,",
                "value: bad number '12abc'",
                {}},
        RowCase{"NanValue", "2025-07-18T20:42:34Z,M,0,d,GPU-1,m,h,,,,NaN,", "value:", {}},
        RowCase{"BadGpu",
                "2025-07-18T20:42:34Z,M,x,d,GPU-1,m,h,,,,1,",
                "gpu_id: bad gpu id 'x'",
                {}},
        RowCase{
            "NegativeGpu", "2025-07-18T20:42:34Z,M,-1,d,GPU-1,m,h,,,,1,", "gpu_id:", {}},
        RowCase{"EmptyUuid", "2025-07-18T20:42:34Z,M,0,d,,m,h,,,,1,", "uuid: empty", {}},
        RowCase{"EmptyMetric",
                "2025-07-18T20:42:34Z,,0,d,GPU-1,m,h,,,,1,",
                "metric_name: empty",
                {}},
        RowCase{
            "BadTimestamp", "2025-07-18 20:42,M,0,d,GPU-1,m,h,,,,1,", "timestamp:", {}},
        RowCase{"JunkAfterQuote",
                "\"2025-07-18T20:42:34Z\"x,M,0,d,GPU-1,m,h,,,,1,",
                "closing quote",
                {}}));

TEST(DcgmCsvTest, MultiLineFieldsKeepLineNumbersRight) {
  ASSERT_OK_AND_ASSIGN(
      auto reader,
      FromText(std::string(kHeader) +
               "2025-07-18T20:42:34Z,M,0,d,GPU-1,m,h,,,,1,\"a=\"\"x\ny\"\"\"\n"
               "2025-07-18T20:42:34Z,M,0,d,GPU-2,m,h,,,,oops,\n"));
  const ReadOutcome out = ReadAll(*reader);
  ASSERT_EQ(out.rows.size(), 1u);
  EXPECT_EQ(out.rows[0].record.labels_raw, "a=\"x\ny\"");
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].line, 4);
}

TEST(DcgmCsvTest, OpenMissingFileNamesIt) {
  auto r = DcgmCsvReader::Open("/no/such/export.csv");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(DcgmCsvTest, HeaderErrorFromFileNamesThePath) {
  auto dir = tp::testing::MakeTempDir();
  const auto path = dir.path() / "bad.csv";
  std::ofstream(path) << "timestamp,metric_name,gpu_id,value\n";
  auto r = DcgmCsvReader::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path.string()), std::string::npos);
  EXPECT_NE(r.status().message().find("'uuid'"), std::string::npos);
}

}  // namespace
}  // namespace tp::streamer
