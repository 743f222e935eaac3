// Maps rows of a DCGM export CSV to TelemetryRecords.
//
// Columns are found by header name, case-insensitively, so reordered or re-cased
// exports work. Names and aliases:
//   timestamp | metric_name | gpu_id, gpu | device | uuid | model_name, modelName |
//   hostname | container | pod | namespace | value | labels_raw
// Required: timestamp, metric_name, gpu_id, uuid, value (without them a row is not a
// datapoint: no time, no series, no partition key). The others default to "".
// Unknown columns are ignored.
//
// A bad row (wrong field count, bad number, bad gpu id, empty uuid or metric name, bad
// timestamp) is reported as a RowError and does not stop the file: one corrupt line in a
// long export should cost one datapoint, not the run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "streamer/csv_reader.h"
#include "tp/status.h"
#include "tp/telemetry/record.h"

namespace tp::streamer {

// Maps one header's column layout; cheap to copy.
class DcgmRowMapper {
 public:
  // InvalidArgument naming the column for a missing required column
  // ("missing required column 'uuid'") or for a field given twice ("gpu" and "gpu_id").
  static Result<DcgmRowMapper> FromHeader(const std::vector<std::string>& header);

  // Converts one row; InvalidArgument with the reason (without a line number). The
  // record's timestamp is the row's own.
  Result<telemetry::TelemetryRecord> Map(const std::vector<std::string>& fields) const;

  size_t column_count() const { return column_count_; }

 private:
  DcgmRowMapper() = default;

  enum Field : int {
    kTimestamp,
    kMetricName,
    kGpuId,
    kDevice,
    kUuid,
    kModelName,
    kHostname,
    kContainer,
    kPod,
    kNamespace,
    kValue,
    kLabelsRaw,
    kFieldCount,
  };
  // Column index of each field, or -1 when absent (optional fields only).
  int column_[kFieldCount] = {};
  size_t column_count_ = 0;
};

struct DcgmRow {
  // record.timestamp starts as source_timestamp; the streamer overwrites it with the
  // emission time, source_timestamp keeps what the file said.
  telemetry::TelemetryRecord record;
  telemetry::Timestamp source_timestamp{};
  int64_t line = 0;
  // 0-based index among data rows, bad rows included, so that shard assignment
  // (index % N) does not depend on which rows parse.
  uint64_t index = 0;
};

struct RowError {
  int64_t line = 0;
  uint64_t index = 0;
  std::string reason;
};

class DcgmCsvReader {
 public:
  // Opens the file (plain or gzip) and reads its header. NotFound/IOError from the file,
  // InvalidArgument for an empty file or a header missing a required column.
  static Result<std::unique_ptr<DcgmCsvReader>> Open(const std::filesystem::path& path,
                                                     const CsvOptions& options = {});
  // Same over an already opened CSV stream (its next record is the header).
  static Result<std::unique_ptr<DcgmCsvReader>> FromCsv(std::unique_ptr<CsvReader> csv);

  enum class ReadStatus { kRow, kBadRow, kEnd };

  // kRow: *row holds the next datapoint. kBadRow: *error says which line and why; the
  // caller counts, logs (rate-limited) and calls Next again. kEnd: no more rows.
  // A non-OK Result is final (I/O error, unterminated quote, oversized record).
  // Not thread-safe.
  Result<ReadStatus> Next(DcgmRow* row, RowError* error);

 private:
  DcgmCsvReader(std::unique_ptr<CsvReader> csv, DcgmRowMapper mapper)
      : csv_(std::move(csv)), mapper_(mapper) {}

  std::unique_ptr<CsvReader> csv_;
  DcgmRowMapper mapper_;
  CsvRecord scratch_;
  uint64_t next_index_ = 0;
};

}  // namespace tp::streamer
