// Reads a dcgm-exporter /metrics page (Prometheus text exposition format 0.0.4) into
// TelemetryRecords, so the streamer can publish live GPUs as well as CSV files.
//
//   # HELP DCGM_FI_DEV_GPU_TEMP GPU temperature (in C).
//   # TYPE DCGM_FI_DEV_GPU_TEMP gauge
//   DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-...",device="nvidia0",modelName="...",
//                        Hostname="host",container="",namespace="",pod=""} 34
//
// The labels map to record fields as the CSV columns did (gpu, UUID, device, modelName,
// Hostname, container, pod, namespace); labels_raw is rebuilt from all labels plus
// __name__, sorted by key, which is how the CSV's labels_raw column looks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tp/telemetry/record.h"
#include "tp/telemetry/time.h"

namespace tp::streamer {

struct ExpositionLineError {
  int64_t line = 0;  // 1-based
  std::string reason;
  std::string ToString() const { return "line " + std::to_string(line) + ": " + reason; }
};

struct ExpositionResult {
  std::vector<telemetry::TelemetryRecord> records;
  // Malformed lines and DCGM samples lacking the gpu or UUID label; the rest of the
  // page is still used, as one odd series must not hide all GPUs.
  std::vector<ExpositionLineError> errors;
  // Well-formed samples of series not named DCGM_* (go_*, process_*, ...).
  size_t skipped_series = 0;
};

// Parses a whole page. Samples without their own timestamp (the usual case for
// dcgm-exporter) get `scrape_time`; a sample timestamp (milliseconds since the epoch)
// wins. A value of NaN becomes a null value; +Inf/-Inf are line errors. Comment (#)
// and blank lines are ignored; CRLF line ends are accepted. Thread-safe (pure).
ExpositionResult ParseExposition(std::string_view text, telemetry::Timestamp scrape_time);

}  // namespace tp::streamer
