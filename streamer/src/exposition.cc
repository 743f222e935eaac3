#include "streamer/exposition.h"

#include <charconv>
#include <utility>

#include "tp/telemetry/labels.h"

namespace tp::streamer {
namespace {

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool IsNameChar(char c) {
  return IsNameStart(c) || (c >= '0' && c <= '9');
}
bool IsBlank(char c) {
  return c == ' ' || c == '\t';
}

std::string Label(const telemetry::Labels& labels, const std::string& key) {
  auto it = labels.find(key);
  return it == labels.end() ? std::string() : it->second;
}

// Parses one sample line; Ok with *skipped set for a non-DCGM series.
Status ParseSample(std::string_view line,
                   telemetry::Timestamp scrape_time,
                   telemetry::TelemetryRecord* out,
                   bool* skipped) {
  size_t pos = 0;
  const size_t n = line.size();
  if (!IsNameStart(line[0]))
    return Status::InvalidArgument("expected a metric name");
  while (pos < n && IsNameChar(line[pos]))
    ++pos;
  const std::string name(line.substr(0, pos));

  telemetry::Labels labels;
  if (pos < n && line[pos] == '{') {
    // Find the closing brace outside quotes; values may contain '}' and escaped quotes.
    const size_t open = pos + 1;
    bool in_quotes = false;
    size_t close = std::string_view::npos;
    for (size_t i = open; i < n; ++i) {
      const char c = line[i];
      if (in_quotes && c == '\\') {
        ++i;
      } else if (c == '"') {
        in_quotes = !in_quotes;
      } else if (!in_quotes && c == '}') {
        close = i;
        break;
      }
    }
    if (close == std::string_view::npos)
      return Status::InvalidArgument("unclosed '{'");
    auto parsed = telemetry::ParseLabels(line.substr(open, close - open));
    if (!parsed.ok())
      return parsed.status();
    labels = std::move(parsed).value();
    pos = close + 1;
  }

  auto next_token = [&]() {
    while (pos < n && IsBlank(line[pos]))
      ++pos;
    const size_t start = pos;
    while (pos < n && !IsBlank(line[pos]))
      ++pos;
    return line.substr(start, pos - start);
  };
  if (pos < n && !IsBlank(line[pos])) {
    return Status::InvalidArgument("expected a space after the series");
  }
  const std::string_view value_text = next_token();
  if (value_text.empty())
    return Status::InvalidArgument("missing value");
  const std::string_view ts_text = next_token();
  if (!next_token().empty())
    return Status::InvalidArgument("unexpected text after the sample");

  if (!name.starts_with("DCGM_")) {
    *skipped = true;
    return Status::Ok();
  }
  *skipped = false;

  telemetry::TelemetryRecord r;
  r.metric_name = name;
  if (value_text == "NaN") {
    r.value.reset();
  } else {
    auto v = telemetry::ParseMetricValue(value_text);
    if (!v.ok())
      return Status::InvalidArgument("value: " + v.status().message());
    r.value = *v;
  }
  r.timestamp = scrape_time;
  if (!ts_text.empty()) {
    int64_t ms = 0;
    auto [ptr, ec] = std::from_chars(ts_text.data(), ts_text.data() + ts_text.size(), ms);
    if (ec != std::errc() || ptr != ts_text.data() + ts_text.size()) {
      return Status::InvalidArgument("bad timestamp '" + std::string(ts_text) + "'");
    }
    r.timestamp = telemetry::Timestamp(std::chrono::milliseconds(ms));
  }

  auto gpu = labels.find("gpu");
  if (gpu == labels.end())
    return Status::InvalidArgument("missing label 'gpu'");
  auto gpu_id = telemetry::ParseGpuId(gpu->second);
  if (!gpu_id.ok())
    return Status::InvalidArgument("label gpu: " + gpu_id.status().message());
  r.gpu_id = *gpu_id;
  r.uuid = Label(labels, "UUID");
  if (r.uuid.empty())
    return Status::InvalidArgument("missing label 'UUID'");
  r.device = Label(labels, "device");
  r.model_name = Label(labels, "modelName");
  r.hostname = Label(labels, "Hostname");
  r.container = Label(labels, "container");
  r.pod = Label(labels, "pod");
  r.namespace_ = Label(labels, "namespace");
  labels["__name__"] = name;
  r.labels_raw = telemetry::FormatLabels(labels);
  *out = std::move(r);
  return Status::Ok();
}

}  // namespace

ExpositionResult ParseExposition(std::string_view text,
                                 telemetry::Timestamp scrape_time) {
  ExpositionResult result;
  int64_t line_no = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    while (!line.empty() && IsBlank(line.front()))
      line.remove_prefix(1);
    if (line.empty() || line.front() == '#')
      continue;

    telemetry::TelemetryRecord record;
    bool skipped = false;
    Status s = ParseSample(line, scrape_time, &record, &skipped);
    if (!s.ok()) {
      result.errors.push_back({line_no, s.message()});
    } else if (skipped) {
      ++result.skipped_series;
    } else {
      result.records.push_back(std::move(record));
    }
  }
  return result;
}

}  // namespace tp::streamer
