#include "streamer/dcgm_csv.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <utility>

#include "tp/telemetry/time.h"

namespace tp::streamer {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return out;
}

struct FieldSpec {
  std::string_view name;   // canonical, used in messages
  std::string_view alias;  // lower case; empty when none
  bool required;
};

// Indexed by DcgmRowMapper::Field. Names are compared in lower case, which also covers
// the CSV's own modelName/Hostname/UUID spellings.
constexpr FieldSpec kFields[] = {
    {"timestamp", "", true},
    {"metric_name", "", true},
    {"gpu_id", "gpu", true},
    {"device", "", false},
    {"uuid", "", true},
    {"model_name", "modelname", false},
    {"hostname", "", false},
    {"container", "", false},
    {"pod", "", false},
    {"namespace", "", false},
    {"value", "", true},
    {"labels_raw", "", false},
};

}  // namespace

Result<DcgmRowMapper> DcgmRowMapper::FromHeader(const std::vector<std::string>& header) {
  DcgmRowMapper m;
  m.column_count_ = header.size();
  std::fill(std::begin(m.column_), std::end(m.column_), -1);
  for (size_t col = 0; col < header.size(); ++col) {
    const std::string name = Lower(header[col]);
    for (int f = 0; f < kFieldCount; ++f) {
      if (name != kFields[f].name && name != kFields[f].alias)
        continue;
      if (m.column_[f] != -1) {
        return Status::InvalidArgument(
            "CSV header: column '" + std::string(kFields[f].name) + "' given twice ('" +
            header[static_cast<size_t>(m.column_[f])] + "' and '" + header[col] + "')");
      }
      m.column_[f] = static_cast<int>(col);
    }
  }
  for (int f = 0; f < kFieldCount; ++f) {
    if (kFields[f].required && m.column_[f] == -1) {
      return Status::InvalidArgument("CSV header: missing required column '" +
                                     std::string(kFields[f].name) + "'");
    }
  }
  return m;
}

Result<telemetry::TelemetryRecord> DcgmRowMapper::Map(
    const std::vector<std::string>& fields) const {
  if (fields.size() != column_count_) {
    return Status::InvalidArgument("row has " + std::to_string(fields.size()) +
                                   " fields, header has " +
                                   std::to_string(column_count_));
  }
  auto get = [&](Field f) -> const std::string& {
    static const std::string kEmpty;
    return column_[f] < 0 ? kEmpty : fields[static_cast<size_t>(column_[f])];
  };
  auto bad = [](std::string_view field, const Status& s) {
    return Status::InvalidArgument(std::string(field) + ": " + s.message());
  };

  telemetry::TelemetryRecord r;
  auto ts = telemetry::ParseRfc3339(get(kTimestamp));
  if (!ts.ok())
    return bad("timestamp", ts.status());
  r.timestamp = *ts;
  r.metric_name = get(kMetricName);
  if (r.metric_name.empty())
    return Status::InvalidArgument("metric_name: empty");
  auto gpu = telemetry::ParseGpuId(get(kGpuId));
  if (!gpu.ok())
    return bad("gpu_id", gpu.status());
  r.gpu_id = *gpu;
  r.uuid = get(kUuid);
  if (r.uuid.empty())
    return Status::InvalidArgument("uuid: empty");
  auto value = telemetry::ParseMetricValue(get(kValue));
  if (!value.ok())
    return bad("value", value.status());
  r.value = *value;
  r.device = get(kDevice);
  r.model_name = get(kModelName);
  r.hostname = get(kHostname);
  r.container = get(kContainer);
  r.pod = get(kPod);
  r.namespace_ = get(kNamespace);
  r.labels_raw = get(kLabelsRaw);
  return r;
}

Result<std::unique_ptr<DcgmCsvReader>> DcgmCsvReader::Open(
    const std::filesystem::path& path, const CsvOptions& options) {
  TP_ASSIGN_OR_RETURN(auto csv, CsvReader::Open(path, options));
  auto reader = FromCsv(std::move(csv));
  if (!reader.ok())
    return reader.status().WithContext(path.string());
  return reader;
}

Result<std::unique_ptr<DcgmCsvReader>> DcgmCsvReader::FromCsv(
    std::unique_ptr<CsvReader> csv) {
  CsvRecord header;
  auto got = csv->Next(&header);
  if (!got.ok())
    return got.status().WithContext("CSV header");
  if (!*got)
    return Status::InvalidArgument("CSV header: empty input");
  TP_ASSIGN_OR_RETURN(DcgmRowMapper mapper, DcgmRowMapper::FromHeader(header.fields));
  return std::unique_ptr<DcgmCsvReader>(new DcgmCsvReader(std::move(csv), mapper));
}

Result<DcgmCsvReader::ReadStatus> DcgmCsvReader::Next(DcgmRow* row, RowError* error) {
  auto got = csv_->Next(&scratch_);
  if (!got.ok()) {
    if (got.status().code() != StatusCode::kInvalidArgument)
      return got.status();
    *error = RowError{scratch_.line, next_index_++, got.status().message()};
    return ReadStatus::kBadRow;
  }
  if (!*got)
    return ReadStatus::kEnd;
  const uint64_t index = next_index_++;
  auto record = mapper_.Map(scratch_.fields);
  if (!record.ok()) {
    *error = RowError{scratch_.line, index, record.status().message()};
    return ReadStatus::kBadRow;
  }
  row->record = std::move(record).value();
  row->source_timestamp = row->record.timestamp;
  row->line = scratch_.line;
  row->index = index;
  return ReadStatus::kRow;
}

}  // namespace tp::streamer
