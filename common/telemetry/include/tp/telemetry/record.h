// The telemetry record: one DCGM datapoint as the streamer publishes it and the collector
// stores it. Its JSON form is the message contract of DESIGN.md:
//   {"timestamp":"2025-07-18T20:42:34.000000Z","metric_name":"DCGM_FI_DEV_GPU_TEMP",
//    "gpu_id":"0","device":"nvidia0","uuid":"GPU-...","model_name":"NVIDIA H100 80GB
//    HBM3", "hostname":"host","container":"","pod":"","namespace":"","value":34,
//    "labels_raw":"DCGM_FI_DRIVER_VERSION=\"535.129.03\",..."}
// gpu_id is a string on the wire because the CSV has it so and the original consumers
// expect it; in memory it is an int so that a bad id is caught at the edge.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "tp/status.h"
#include "tp/telemetry/time.h"

namespace tp::telemetry {

// DCGM reports "no data" as sentinels near the top of each type's range; the int64
// family starts here (DCGM_INT64_BLANK, dcgm_structs.h). Such values become nullopt.
inline constexpr uint64_t kDcgmInt64Blank = 0x7ffffffffffffff0ULL;

struct TelemetryRecord {
  Timestamp timestamp{};
  std::string metric_name;
  int gpu_id = 0;
  std::string device;
  std::string uuid;  // GPU UUID, "GPU-5fd4f087-..."; the partition key
  std::string model_name;
  std::string hostname;
  std::string container;
  std::string pod;
  std::string namespace_;
  std::optional<double> value;  // nullopt: DCGM blank sentinel or an empty field
  std::string labels_raw;

  friend bool operator==(const TelemetryRecord&, const TelemetryRecord&) = default;
};

// Parses a metric value as the CSV and the original messages spell it: "" -> nullopt,
// a decimal or floating-point number -> its value, a number >= kDcgmInt64Blank ->
// nullopt. Integers are compared with the sentinel exactly (a double cannot tell
// 9223372036854775700 from the sentinel). NaN, infinities, hex and trailing garbage are
// InvalidArgument. Thread-safe.
Result<std::optional<double>> ParseMetricValue(std::string_view text);

// Parses a GPU index: a non-negative decimal integer that fits in an int.
Result<int> ParseGpuId(std::string_view text);

// The message object (see the file comment). value is a JSON number, or null.
nlohmann::json ToJson(const TelemetryRecord& record);
// The compact message text; bytes that are not valid UTF-8 become U+FFFD.
std::string ToJsonString(const TelemetryRecord& record);

// Validates and converts a message object. Accepted beyond the canonical form, because
// the original messages had them: the CSV spellings modelName, Hostname, gpu (for
// gpu_id) and UUID; gpu_id as a number or a string; value as a number, null or a string
// (parsed by ParseMetricValue). A canonical key wins over its CSV spelling. Unknown keys
// are ignored so that producers can add fields.
// Required: timestamp (RFC 3339 string), metric_name and uuid (non-empty strings),
// gpu_id, value (present; may be null). Optional strings may be absent or null (-> "").
// Returns InvalidArgument naming the field ("uuid: missing", "gpu_id: expected ...").
Result<TelemetryRecord> FromJson(const nlohmann::json& object);
// Parses `text` as JSON, then FromJson. Malformed JSON is InvalidArgument.
Result<TelemetryRecord> ParseJson(std::string_view text);

}  // namespace tp::telemetry
