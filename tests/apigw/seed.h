// Test datasets for the API gateway: the real DCGM export inserted as the collector
// would (telemetry rows + the gpus upsert of docs/SCHEMA.md), and bulk synthetic rows.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tp/status.h"
#include "tp/telemetry/record.h"

namespace tp::apigw::testing {

// data/dcgm_metrics_20250718_134233.csv in the source tree.
std::filesystem::path RealCsvPath();

// Applies every embedded migration.
Status ApplySchema(const std::string& conninfo);

struct SeededRow {
  telemetry::TelemetryRecord record;
  std::string msg_uuid;
};

// Inserts the CSV's rows `loops` times; loop i shifts every timestamp by i * shift (like
// `streamer --loops`). Rows go in batches, each with the collector's gpus upsert in the
// same transaction. Returns the inserted rows in file order.
Result<std::vector<SeededRow>> SeedFromCsv(const std::string& conninfo,
                                           const std::filesystem::path& csv,
                                           int loops = 1,
                                           std::chrono::seconds shift = {});

// Inserts `rows` synthetic rows spread over `gpus` GPUs ("GPU-00000000-0000-0000-0000-
// 000000000007"), 10 metrics, one scrape per GPU every `step` ending at `end`, with
// generate_series (fast), plus their gpus rows, then ANALYZE. With `rebuild_indexes`
// the telemetry indexes are dropped first and rebuilt after the insert (the same
// definitions; several times faster for millions of rows).
Status SeedSynthetic(const std::string& conninfo,
                     std::int64_t rows,
                     int gpus,
                     std::chrono::seconds step,
                     const std::string& end = "2025-07-18T20:42:37Z",
                     bool rebuild_indexes = false);

// The synthetic GPU id for index i.
std::string SyntheticGpu(int i);

}  // namespace tp::apigw::testing
