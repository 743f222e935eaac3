#include "tp/telemetry/record.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

namespace tp::telemetry {
namespace {

using nlohmann::json;

Status FieldError(std::string_view field, std::string_view why) {
  return Status::InvalidArgument(std::string(field) + ": " + std::string(why));
}

// The JSON type name for error messages ("number", "object", ...).
std::string TypeName(const json& v) {
  return v.type_name();
}

// Finds `key`, else `alias` (may be empty); nullptr when neither is present. `*used`
// receives the key found, for error messages.
const json* Find(const json& object,
                 std::string_view key,
                 std::string_view alias,
                 std::string_view* used) {
  auto it = object.find(key);
  if (it != object.end()) {
    *used = key;
    return &*it;
  }
  if (!alias.empty()) {
    it = object.find(alias);
    if (it != object.end()) {
      *used = alias;
      return &*it;
    }
  }
  *used = key;
  return nullptr;
}

Status OptionalString(const json& object,
                      std::string_view key,
                      std::string_view alias,
                      std::string* out) {
  std::string_view used;
  const json* v = Find(object, key, alias, &used);
  if (v == nullptr || v->is_null()) {
    out->clear();
    return Status::Ok();
  }
  if (!v->is_string())
    return FieldError(used, "expected a string, got " + TypeName(*v));
  *out = v->get<std::string>();
  return Status::Ok();
}

Status RequiredString(const json& object,
                      std::string_view key,
                      std::string_view alias,
                      std::string* out) {
  std::string_view used;
  const json* v = Find(object, key, alias, &used);
  if (v == nullptr)
    return FieldError(key, "missing");
  if (!v->is_string())
    return FieldError(used, "expected a string, got " + TypeName(*v));
  *out = v->get<std::string>();
  if (out->empty())
    return FieldError(used, "must not be empty");
  return Status::Ok();
}

}  // namespace

Result<std::optional<double>> ParseMetricValue(std::string_view text) {
  if (text.empty())
    return std::optional<double>();
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  // Integers first, exactly: the blank sentinel is only distinguishable as an integer.
  const bool integral = text.find_first_of(".eE") == std::string_view::npos;
  if (integral && text.front() != '-') {
    const char* p = begin + (text.front() == '+' ? 1 : 0);
    uint64_t u = 0;
    auto [ptr, ec] = std::from_chars(p, end, u);
    if (ec == std::errc() && ptr == end) {
      if (u >= kDcgmInt64Blank)
        return std::optional<double>();
      return std::optional<double>(static_cast<double>(u));
    }
    if (ec == std::errc::result_out_of_range && ptr == end) {
      // Above uint64: certainly at or past the sentinel family.
      return std::optional<double>();
    }
  }
  const char* p = begin + (text.front() == '+' ? 1 : 0);
  double d = 0;
  auto [ptr, ec] = std::from_chars(p, end, d, std::chars_format::general);
  if (ec != std::errc() || ptr != end || p == end) {
    return Status::InvalidArgument("bad number '" + std::string(text) + "'");
  }
  if (!std::isfinite(d)) {
    return Status::InvalidArgument("not a finite number '" + std::string(text) + "'");
  }
  if (d >= static_cast<double>(kDcgmInt64Blank))
    return std::optional<double>();
  return std::optional<double>(d);
}

Result<int> ParseGpuId(std::string_view text) {
  int v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v < 0) {
    return Status::InvalidArgument("bad gpu id '" + std::string(text) +
                                   "': expected a non-negative integer");
  }
  return v;
}

nlohmann::json ToJson(const TelemetryRecord& r) {
  json j = json::object();
  j["timestamp"] = FormatRfc3339(r.timestamp);
  j["metric_name"] = r.metric_name;
  j["gpu_id"] = std::to_string(r.gpu_id);
  j["device"] = r.device;
  j["uuid"] = r.uuid;
  j["model_name"] = r.model_name;
  j["hostname"] = r.hostname;
  j["container"] = r.container;
  j["pod"] = r.pod;
  j["namespace"] = r.namespace_;
  if (r.value.has_value()) {
    j["value"] = *r.value;
  } else {
    j["value"] = nullptr;
  }
  j["labels_raw"] = r.labels_raw;
  return j;
}

std::string ToJsonString(const TelemetryRecord& record) {
  // replace, not throw: a stray non-UTF-8 byte in a label must not take the streamer
  // down.
  return ToJson(record).dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<TelemetryRecord> FromJson(const nlohmann::json& object) {
  if (!object.is_object()) {
    return Status::InvalidArgument("telemetry message: expected a JSON object, got " +
                                   TypeName(object));
  }
  TelemetryRecord r;
  std::string_view used;

  const json* ts = Find(object, "timestamp", "", &used);
  if (ts == nullptr)
    return FieldError("timestamp", "missing");
  if (!ts->is_string()) {
    return FieldError("timestamp", "expected an RFC 3339 string, got " + TypeName(*ts));
  }
  auto parsed_ts = ParseRfc3339(ts->get_ref<const std::string&>());
  if (!parsed_ts.ok())
    return FieldError("timestamp", parsed_ts.status().message());
  r.timestamp = *parsed_ts;

  TP_RETURN_IF_ERROR(RequiredString(object, "metric_name", "", &r.metric_name));
  TP_RETURN_IF_ERROR(RequiredString(object, "uuid", "UUID", &r.uuid));

  const json* gpu = Find(object, "gpu_id", "gpu", &used);
  if (gpu == nullptr)
    return FieldError("gpu_id", "missing");
  if (gpu->is_number_unsigned()) {
    const auto u = gpu->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
      return FieldError(used, "out of range");
    }
    r.gpu_id = static_cast<int>(u);
  } else if (gpu->is_number_integer()) {
    const auto i = gpu->get<int64_t>();
    if (i < 0)
      return FieldError(used, "must not be negative");
    if (i > std::numeric_limits<int>::max())
      return FieldError(used, "out of range");
    r.gpu_id = static_cast<int>(i);
  } else if (gpu->is_string()) {
    auto id = ParseGpuId(gpu->get_ref<const std::string&>());
    if (!id.ok())
      return FieldError(used, id.status().message());
    r.gpu_id = *id;
  } else {
    return FieldError(used, "expected an integer or a string, got " + TypeName(*gpu));
  }

  const json* value = Find(object, "value", "", &used);
  if (value == nullptr)
    return FieldError("value", "missing (use null for no value)");
  if (value->is_null()) {
    r.value.reset();
  } else if (value->is_number_unsigned()) {
    const auto u = value->get<uint64_t>();
    if (u < kDcgmInt64Blank)
      r.value = static_cast<double>(u);
  } else if (value->is_number()) {
    // Integers that fit int64 are below the sentinel; floats are compared as doubles.
    const double d = value->get<double>();
    if (!std::isfinite(d))
      return FieldError("value", "not a finite number");
    if (d < static_cast<double>(kDcgmInt64Blank))
      r.value = d;
  } else if (value->is_string()) {
    auto v = ParseMetricValue(value->get_ref<const std::string&>());
    if (!v.ok())
      return FieldError("value", v.status().message());
    r.value = *v;
  } else {
    return FieldError("value",
                      "expected a number, null or a string, got " + TypeName(*value));
  }

  TP_RETURN_IF_ERROR(OptionalString(object, "device", "", &r.device));
  TP_RETURN_IF_ERROR(OptionalString(object, "model_name", "modelName", &r.model_name));
  TP_RETURN_IF_ERROR(OptionalString(object, "hostname", "Hostname", &r.hostname));
  TP_RETURN_IF_ERROR(OptionalString(object, "container", "", &r.container));
  TP_RETURN_IF_ERROR(OptionalString(object, "pod", "", &r.pod));
  TP_RETURN_IF_ERROR(OptionalString(object, "namespace", "", &r.namespace_));
  TP_RETURN_IF_ERROR(OptionalString(object, "labels_raw", "", &r.labels_raw));
  return r;
}

Result<TelemetryRecord> ParseJson(std::string_view text) {
  json j = json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status::InvalidArgument("telemetry message: malformed JSON");
  }
  return FromJson(j);
}

}  // namespace tp::telemetry
