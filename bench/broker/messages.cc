#include "messages.h"

#include <algorithm>
#include <cstring>

#include "streamer/dcgm_csv.h"
#include "tp/telemetry/record.h"

namespace tp::bench {
namespace {

constexpr std::string_view kTimestampField = "\"timestamp\":\"";
constexpr std::size_t kTimestampChars = 27;  // "YYYY-MM-DDTHH:MM:SS.ffffffZ"

}  // namespace

Result<MessageBodies> MessageBodies::Load(const std::filesystem::path& csv,
                                          std::size_t max_rows) {
  TP_ASSIGN_OR_RETURN(auto reader, streamer::DcgmCsvReader::Open(csv));
  MessageBodies bodies;
  streamer::DcgmRow row;
  streamer::RowError error;
  while (bodies.rows_.size() < max_rows) {
    TP_ASSIGN_OR_RETURN(auto st, reader->Next(&row, &error));
    if (st == streamer::DcgmCsvReader::ReadStatus::kEnd)
      break;
    if (st == streamer::DcgmCsvReader::ReadStatus::kBadRow)
      continue;
    Row out;
    out.key = row.record.uuid;
    out.json = telemetry::ToJsonString(row.record);
    const std::size_t field = out.json.find(kTimestampField);
    if (field == std::string::npos)
      return Status::Internal("rendered message has no timestamp: " + out.json);
    out.timestamp_pos = field + kTimestampField.size();
    if (out.json.size() < out.timestamp_pos + kTimestampChars ||
        out.json[out.timestamp_pos + kTimestampChars] != '"') {
      return Status::Internal("unexpected timestamp width in " + out.json);
    }
    bodies.rows_.push_back(std::move(out));
  }
  if (bodies.rows_.empty())
    return Status::InvalidArgument(csv.string() + ": no usable rows");
  return bodies;
}

double MessageBodies::mean_bytes() const {
  double total = 0;
  for (const Row& r : rows_)
    total += static_cast<double>(r.json.size());
  return rows_.empty() ? 0.0 : total / static_cast<double>(rows_.size());
}

void MessageBodies::Render(std::size_t i,
                           telemetry::Timestamp at,
                           std::string* out) const {
  const Row& r = row(i);
  out->assign(r.json);
  const std::string stamp = telemetry::FormatRfc3339(at);
  if (stamp.size() == kTimestampChars)
    std::memcpy(out->data() + r.timestamp_pos, stamp.data(), kTimestampChars);
}

std::optional<telemetry::Timestamp> MessageBodies::PayloadTimestamp(
    std::string_view payload) {
  const std::size_t field = payload.find(kTimestampField);
  if (field == std::string_view::npos)
    return std::nullopt;
  const std::size_t start = field + kTimestampField.size();
  const std::size_t end = payload.find('"', start);
  if (end == std::string_view::npos)
    return std::nullopt;
  auto t = telemetry::ParseRfc3339(payload.substr(start, end - start));
  if (!t.ok())
    return std::nullopt;
  return *t;
}

std::optional<std::filesystem::path> FindShippedCsv(
    const std::filesystem::path& source_dir) {
  std::vector<std::filesystem::path> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(source_dir / "data", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("dcgm_metrics_") && name.ends_with(".csv"))
      found.push_back(entry.path());
  }
  if (found.empty())
    return std::nullopt;
  std::sort(found.begin(), found.end());
  return found.front();
}

}  // namespace tp::bench
