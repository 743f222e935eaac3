// Message bodies for the broker load generator: real rows of a DCGM CSV export, read
// with the streamer's DcgmCsvReader and rendered once as the telemetry message JSON the
// streamer publishes (tp::telemetry::ToJsonString). Only the `timestamp` field changes
// per emission, as in the streamer, which stamps each message with the time it is sent;
// it is patched in place, so the load generator spends no time re-serialising and the
// consumer side can read the publish time back out of a leased payload.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tp/status.h"
#include "tp/telemetry/time.h"

namespace tp::bench {

class MessageBodies {
 public:
  struct Row {
    std::string key;   // GPU UUID, the partition key
    std::string json;  // message object with a 27-character RFC 3339 timestamp
    std::size_t timestamp_pos = 0;  // offset of the timestamp's first character
  };

  // Reads up to `max_rows` good rows of `csv` (bad rows are skipped, as the streamer
  // does). NotFound/IOError from the file, InvalidArgument when no row is usable.
  static Result<MessageBodies> Load(const std::filesystem::path& csv,
                                    std::size_t max_rows = 100000);

  std::size_t size() const { return rows_.size(); }
  const Row& row(std::size_t i) const { return rows_[i % rows_.size()]; }
  double mean_bytes() const;

  // Copies row `i` into `*out` with its timestamp set to `at`. Thread-safe.
  void Render(std::size_t i, telemetry::Timestamp at, std::string* out) const;

  // The `timestamp` of a message object as the broker hands it back (key order may
  // differ from the published text). nullopt if absent or unparsable.
  static std::optional<telemetry::Timestamp> PayloadTimestamp(std::string_view payload);

 private:
  std::vector<Row> rows_;
};

// The first data/dcgm_metrics_*.csv under `source_dir` (sorted by name), if any.
std::optional<std::filesystem::path> FindShippedCsv(
    const std::filesystem::path& source_dir);

}  // namespace tp::bench
