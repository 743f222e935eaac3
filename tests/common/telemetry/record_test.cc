#include "tp/telemetry/record.h"

#include <cctype>
#include <cmath>
#include <functional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tp/testing/testing.h"

namespace tp::telemetry {
namespace {

using nlohmann::json;

using ::tp::testing::TestLabel;

TelemetryRecord SampleRecord() {
  TelemetryRecord r;
  r.timestamp = Timestamp(std::chrono::microseconds(1752871354123456));
  r.metric_name = "DCGM_FI_DEV_POWER_USAGE";
  r.gpu_id = 3;
  r.device = "nvidia3";
  r.uuid = "GPU-5fd4f087-86f3-7a43-b711-4771313afc50";
  r.model_name = "NVIDIA H100 80GB HBM3";
  r.hostname = "mtv5-dgx1-hgpu-031";
  r.container = "trainer";
  r.pod = "job-7";
  r.namespace_ = "ml";
  r.value = 156.596;
  r.labels_raw = R"(DCGM_FI_DRIVER_VERSION="535.129.03",gpu="3")";
  return r;
}

// A canonical message; tests edit one field at a time.
json SampleJson() {
  return ToJson(SampleRecord());
}

TEST(RecordJsonTest, ToJsonIsTheMessageContract) {
  const json j = SampleJson();
  EXPECT_EQ(j.size(), 12u);
  EXPECT_EQ(j["timestamp"], "2025-07-18T20:42:34.123456Z");
  EXPECT_EQ(j["metric_name"], "DCGM_FI_DEV_POWER_USAGE");
  EXPECT_EQ(j["gpu_id"], "3");
  EXPECT_EQ(j["device"], "nvidia3");
  EXPECT_EQ(j["uuid"], "GPU-5fd4f087-86f3-7a43-b711-4771313afc50");
  EXPECT_EQ(j["model_name"], "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(j["hostname"], "mtv5-dgx1-hgpu-031");
  EXPECT_EQ(j["container"], "trainer");
  EXPECT_EQ(j["pod"], "job-7");
  EXPECT_EQ(j["namespace"], "ml");
  EXPECT_DOUBLE_EQ(j["value"].get<double>(), 156.596);
  EXPECT_EQ(j["labels_raw"], R"(DCGM_FI_DRIVER_VERSION="535.129.03",gpu="3")");
}

TEST(RecordJsonTest, RoundTripsThroughText) {
  const TelemetryRecord r = SampleRecord();
  ASSERT_OK_AND_ASSIGN(TelemetryRecord back, ParseJson(ToJsonString(r)));
  EXPECT_EQ(back, r);

  TelemetryRecord blank = r;
  blank.value.reset();
  EXPECT_EQ(ToJson(blank)["value"], nullptr);
  ASSERT_OK_AND_ASSIGN(TelemetryRecord blank_back, ParseJson(ToJsonString(blank)));
  EXPECT_EQ(blank_back, blank);
}

// Every double comes back exactly (the text is the shortest that does), and text with
// JSON's special characters comes back as it was.
TEST(RecordJsonTest, ValuesAndSpecialCharactersRoundTripExactly) {
  TelemetryRecord r = SampleRecord();
  r.labels_raw = "q\"uote\" back\\slash\nline\ttab\x01 caf\xC3\xA9";
  r.pod = "\"";
  // (Values at or above DCGM's blank sentinel, about 9.22e18, read back as null.)
  for (double v : {0.0, -0.0, 0.1 + 0.2, 1.0 / 3, -1.5e-300, -1e300, 9.2e18, 156.596}) {
    r.value = v;
    const std::string text = ToJsonString(r);
    ASSERT_OK_AND_ASSIGN(TelemetryRecord back, ParseJson(text));
    EXPECT_EQ(back, r) << text;
    EXPECT_EQ(std::signbit(*back.value), std::signbit(v)) << text;
  }
}

TEST(RecordJsonTest, InvalidUtf8DoesNotThrow) {
  TelemetryRecord r = SampleRecord();
  r.hostname = "bad\xff";
  const std::string text = ToJsonString(r);
  EXPECT_NE(text.find("bad\xEF\xBF\xBD"), std::string::npos);
}

TEST(RecordJsonTest, AcceptsCsvSpellings) {
  const std::string text = R"({
    "timestamp": "2025-07-18T20:42:34Z", "metric_name": "DCGM_FI_DEV_GPU_TEMP",
    "gpu": "1", "device": "nvidia1", "UUID": "GPU-abc", "modelName": "NVIDIA H100",
    "Hostname": "host-1", "container": "", "pod": "", "namespace": "",
    "value": "34", "labels_raw": "gpu=\"1\""})";
  ASSERT_OK_AND_ASSIGN(TelemetryRecord r, ParseJson(text));
  EXPECT_EQ(r.gpu_id, 1);
  EXPECT_EQ(r.uuid, "GPU-abc");
  EXPECT_EQ(r.model_name, "NVIDIA H100");
  EXPECT_EQ(r.hostname, "host-1");
  EXPECT_EQ(r.value, 34.0);
  EXPECT_EQ(r.labels_raw, R"(gpu="1")");
  EXPECT_EQ(FormatRfc3339(r.timestamp), "2025-07-18T20:42:34.000000Z");
}

// What a JSON document would make of the text: the last of a repeated key, keys matched
// after their escapes are decoded, a number too small for a double read as 0.
TEST(RecordJsonTest, ReadsTheTextAsAJsonDocumentWould) {
  const std::string text = R"({"timestamp":"2025-07-18T20:42:34Z","metric_name":"A",
    "metric_n\u0061me":"B","uuid":"GPU-a","gpu_id":-0,"value":1e-400,
    "hostname":"h\u00e9","hostname":"h2"})";
  ASSERT_OK_AND_ASSIGN(TelemetryRecord r, ParseJson(text));
  EXPECT_EQ(r.metric_name, "B");
  EXPECT_EQ(r.gpu_id, 0);
  EXPECT_EQ(r.value, 0.0);
  EXPECT_EQ(r.hostname, "h2");
  EXPECT_EQ(ParseJson(R"({"timestamp":"2025-07-18T20:42:34Z","metric_name":"A",
    "uuid":"GPU-a","gpu_id":0,"value":1e999})")
                .status()
                .message(),
            "telemetry message: malformed JSON");
}

TEST(RecordJsonTest, CanonicalKeyWinsOverCsvSpelling) {
  json j = SampleJson();
  j["modelName"] = "other";
  j["UUID"] = "GPU-other";
  ASSERT_OK_AND_ASSIGN(TelemetryRecord r, FromJson(j));
  EXPECT_EQ(r.model_name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(r.uuid, "GPU-5fd4f087-86f3-7a43-b711-4771313afc50");
}

TEST(RecordJsonTest, OptionalFieldsMayBeAbsentOrNull) {
  json j = {{"timestamp", "2025-07-18T20:42:34+02:00"},
            {"metric_name", "M"},
            {"gpu_id", 0},
            {"uuid", "GPU-1"},
            {"value", 1.5},
            {"pod", nullptr},
            {"extra", {1, 2}}};
  ASSERT_OK_AND_ASSIGN(TelemetryRecord r, FromJson(j));
  EXPECT_EQ(r.gpu_id, 0);
  EXPECT_EQ(r.pod, "");
  EXPECT_EQ(r.device, "");
  EXPECT_EQ(r.value, 1.5);
  EXPECT_EQ(FormatRfc3339(r.timestamp), "2025-07-18T18:42:34.000000Z");
}

struct ValueCase {
  json value;
  std::optional<double> expected;
};

void PrintTo(const ValueCase& c, std::ostream* os) {
  *os << TestLabel(c.value.dump());
}

class RecordValueTest : public ::testing::TestWithParam<ValueCase> {};

TEST_P(RecordValueTest, ParsesValueForms) {
  json j = SampleJson();
  j["value"] = GetParam().value;
  ASSERT_OK_AND_ASSIGN(TelemetryRecord r, FromJson(j));
  EXPECT_EQ(r.value, GetParam().expected) << GetParam().value.dump();
}

INSTANTIATE_TEST_SUITE_P(
    Table,
    RecordValueTest,
    ::testing::Values(ValueCase{json(12.5), 12.5},
                      ValueCase{json(0), 0.0},
                      ValueCase{json(-3), -3.0},
                      ValueCase{json(nullptr), std::nullopt},
                      ValueCase{json("12.5"), 12.5},
                      ValueCase{json("-1e3"), -1000.0},
                      ValueCase{json(""), std::nullopt},
                      ValueCase{json("9223372036854775792"), std::nullopt},
                      ValueCase{json("9223372036854775807"), std::nullopt},
                      ValueCase{json("9223372036854775791"), 9223372036854775791.0},
                      ValueCase{json(uint64_t{9223372036854775794u}), std::nullopt},
                      ValueCase{json(uint64_t{18446744073709551615u}), std::nullopt},
                      ValueCase{json(1e19), std::nullopt}));

struct BadMessage {
  const char* name;
  std::function<void(json&)> edit;
  const char* why;  // substring of the error
};

void PrintTo(const BadMessage& c, std::ostream* os) {
  *os << TestLabel(c.name);
}

class RecordRejectTest : public ::testing::TestWithParam<BadMessage> {};

TEST_P(RecordRejectTest, ErrorNamesTheField) {
  json j = SampleJson();
  GetParam().edit(j);
  auto r = FromJson(j);
  ASSERT_FALSE(r.ok()) << GetParam().name;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(GetParam().why), std::string::npos)
      << GetParam().name << ": " << r.status().message();
  // The text path reports the same error.
  auto t = ParseJson(j.dump());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status(), r.status());
}

INSTANTIATE_TEST_SUITE_P(
    Table,
    RecordRejectTest,
    ::testing::Values(
        BadMessage{
            "NoTimestamp", [](json& j) { j.erase("timestamp"); }, "timestamp: missing"},
        BadMessage{"NumericTimestamp",
                   [](json& j) { j["timestamp"] = 5; },
                   "timestamp: expected"},
        BadMessage{"BadTimestamp",
                   [](json& j) { j["timestamp"] = "2025-02-30T00:00:00Z"; },
                   "timestamp: invalid RFC 3339"},
        BadMessage{
            "NoMetric", [](json& j) { j.erase("metric_name"); }, "metric_name: missing"},
        BadMessage{"EmptyMetric",
                   [](json& j) { j["metric_name"] = ""; },
                   "metric_name: must not"},
        BadMessage{"MetricNotString",
                   [](json& j) { j["metric_name"] = 1; },
                   "metric_name: expected"},
        BadMessage{"NoUuid", [](json& j) { j.erase("uuid"); }, "uuid: missing"},
        BadMessage{
            "EmptyUuid", [](json& j) { j["uuid"] = ""; }, "uuid: must not be empty"},
        BadMessage{"EmptyCsvUuid",
                   [](json& j) {
                     j.erase("uuid");
                     j["UUID"] = "";
                   },
                   "UUID: must not be empty"},
        BadMessage{"NoGpu", [](json& j) { j.erase("gpu_id"); }, "gpu_id: missing"},
        BadMessage{"NegativeGpu", [](json& j) { j["gpu_id"] = -1; }, "gpu_id: must not"},
        BadMessage{
            "HugeGpu", [](json& j) { j["gpu_id"] = 1ULL << 40; }, "gpu_id: out of range"},
        BadMessage{"FloatGpu", [](json& j) { j["gpu_id"] = 1.5; }, "gpu_id: expected"},
        BadMessage{
            "TextGpu", [](json& j) { j["gpu_id"] = "zero"; }, "gpu_id: bad gpu id"},
        BadMessage{"CsvGpuBad",
                   [](json& j) {
                     j.erase("gpu_id");
                     j["gpu"] = "-2";
                   },
                   "gpu: bad gpu id"},
        BadMessage{"NoValue", [](json& j) { j.erase("value"); }, "value: missing"},
        BadMessage{"BoolValue", [](json& j) { j["value"] = true; }, "value: expected"},
        BadMessage{"TextValue", [](json& j) { j["value"] = "12x"; }, "value: bad number"},
        BadMessage{
            "NanValue", [](json& j) { j["value"] = "nan"; }, "value: not a finite"},
        BadMessage{"HexValue", [](json& j) { j["value"] = "0x10"; }, "value: bad number"},
        BadMessage{
            "DeviceNotString", [](json& j) { j["device"] = 0; }, "device: expected"},
        BadMessage{"HostNotString",
                   [](json& j) {
                     j.erase("hostname");
                     j["Hostname"] = json::array();
                   },
                   "Hostname: expected a string, got array"},
        BadMessage{"LabelsNotString",
                   [](json& j) { j["labels_raw"] = json::object(); },
                   "labels_raw"},
        BadMessage{
            "NotObject", [](json& j) { j = json::array(); }, "expected a JSON object"}));

TEST(RecordJsonTest, MalformedJsonIsInvalidArgument) {
  for (const char* text :
       {"", "{", "{\"a\":}", "nope", "{\"timestamp\":\"x\"} trailing"}) {
    auto r = ParseJson(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("malformed JSON"), std::string::npos) << text;
  }
}

TEST(MetricValueTest, ParsesCsvValueText) {
  EXPECT_EQ(*ParseMetricValue("0"), 0.0);
  EXPECT_EQ(*ParseMetricValue("156.596"), 156.596);
  EXPECT_EQ(*ParseMetricValue("+7"), 7.0);
  EXPECT_EQ(*ParseMetricValue("-0.5"), -0.5);
  EXPECT_EQ(*ParseMetricValue("1e3"), 1000.0);
  EXPECT_EQ(*ParseMetricValue(""), std::nullopt);
  EXPECT_EQ(*ParseMetricValue("9223372036854775792"), std::nullopt);
  EXPECT_EQ(*ParseMetricValue("99999999999999999999999"), std::nullopt);
  EXPECT_FALSE(ParseMetricValue("1.2.3").ok());
  EXPECT_FALSE(ParseMetricValue(" 1").ok());
  EXPECT_FALSE(ParseMetricValue("1 ").ok());
  EXPECT_FALSE(ParseMetricValue("+").ok());
  EXPECT_FALSE(ParseMetricValue("inf").ok());
  EXPECT_FALSE(ParseMetricValue("1e999").ok());
}

TEST(MetricValueTest, ParsesGpuIds) {
  EXPECT_EQ(*ParseGpuId("0"), 0);
  EXPECT_EQ(*ParseGpuId("15"), 15);
  EXPECT_FALSE(ParseGpuId("").ok());
  EXPECT_FALSE(ParseGpuId("-1").ok());
  EXPECT_FALSE(ParseGpuId("1a").ok());
  EXPECT_FALSE(ParseGpuId("99999999999").ok());
}

}  // namespace
}  // namespace tp::telemetry
