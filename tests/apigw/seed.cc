#include "seed.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "streamer/dcgm_csv.h"
#include "tp/migrate/migrate.h"
#include "tp/pg/connection.h"
#include "tp/pg/error.h"
#include "tp/telemetry/labels.h"
#include "tp/uuid.h"

namespace tp::apigw::testing {
namespace {

constexpr std::size_t kBatch = 500;

struct GpuAggregate {
  const telemetry::TelemetryRecord* latest = nullptr;
  telemetry::Timestamp first{telemetry::Timestamp::max()};
  telemetry::Timestamp last{telemetry::Timestamp::min()};
  std::set<std::string> metrics;
};

std::string NullOrQuoted(pqxx::transaction_base& tx, const std::string& s) {
  return s.empty() ? "NULL" : tx.quote(s);
}

// One collector batch: the telemetry rows and the gpus upsert in one transaction, the
// gpus rows aggregated per GPU and written in gpu_uuid order (docs/SCHEMA.md).
void InsertBatch(pqxx::connection& conn,
                 const std::vector<SeededRow>& rows,
                 std::size_t begin,
                 std::size_t end) {
  pqxx::work tx(conn);
  std::string sql =
      "INSERT INTO telemetry (msg_uuid, ts, gpu_uuid, gpu_index, device, model_name, "
      "hostname, container, pod, namespace, metric_name, value, labels, labels_raw) "
      "VALUES ";
  std::map<std::string, GpuAggregate> gpus;
  for (std::size_t i = begin; i < end; ++i) {
    const auto& r = rows[i].record;
    nlohmann::json labels = nlohmann::json::object();
    if (auto parsed = telemetry::ParseLabels(r.labels_raw); parsed.ok()) {
      for (const auto& [k, v] : *parsed) {
        labels[k] = v;
      }
    }
    sql += (i == begin ? "(" : ",(") + tx.quote(rows[i].msg_uuid) + "," +
           tx.quote(telemetry::FormatRfc3339(r.timestamp)) + "," + tx.quote(r.uuid) +
           "," + std::to_string(r.gpu_id) + "," + tx.quote(r.device) + "," +
           tx.quote(r.model_name) + "," + tx.quote(r.hostname) + "," +
           NullOrQuoted(tx, r.container) + "," + NullOrQuoted(tx, r.pod) + "," +
           NullOrQuoted(tx, r.namespace_) + "," + tx.quote(r.metric_name) + "," +
           (r.value ? std::to_string(*r.value) : std::string("NULL")) + "," +
           tx.quote(labels.dump()) + "," + tx.quote(r.labels_raw) + ")";
    GpuAggregate& g = gpus[r.uuid];
    if (g.latest == nullptr || r.timestamp >= g.last) {
      g.latest = &r;
    }
    g.first = std::min(g.first, r.timestamp);
    g.last = std::max(g.last, r.timestamp);
    g.metrics.insert(r.metric_name);
  }
  sql += " ON CONFLICT (msg_uuid) DO NOTHING";
  tx.exec0(sql);
  for (const auto& [uuid, g] : gpus) {
    std::string metrics = "{";
    for (const auto& m : g.metrics) {
      metrics += (metrics.size() > 1 ? "," : "") + m;
    }
    metrics += "}";
    tx.exec0(
        "INSERT INTO gpus AS g (gpu_uuid, hostname, gpu_index, device, model_name, "
        "first_seen, last_seen, metric_names) VALUES (" +
        tx.quote(uuid) + "," + tx.quote(g.latest->hostname) + "," +
        std::to_string(g.latest->gpu_id) + "," + tx.quote(g.latest->device) + "," +
        tx.quote(g.latest->model_name) + "," +
        tx.quote(telemetry::FormatRfc3339(g.first)) + "," +
        tx.quote(telemetry::FormatRfc3339(g.last)) + "," + tx.quote(metrics) +
        "::text[]) ON CONFLICT (gpu_uuid) DO UPDATE SET "
        "hostname = CASE WHEN EXCLUDED.last_seen >= g.last_seen THEN EXCLUDED.hostname "
        "ELSE g.hostname END, "
        "gpu_index = CASE WHEN EXCLUDED.last_seen >= g.last_seen THEN EXCLUDED.gpu_index "
        "ELSE g.gpu_index END, "
        "device = CASE WHEN EXCLUDED.last_seen >= g.last_seen THEN EXCLUDED.device "
        "ELSE g.device END, "
        "model_name = CASE WHEN EXCLUDED.last_seen >= g.last_seen THEN "
        "EXCLUDED.model_name ELSE g.model_name END, "
        "first_seen = LEAST(g.first_seen, EXCLUDED.first_seen), "
        "last_seen = GREATEST(g.last_seen, EXCLUDED.last_seen), "
        "metric_names = ARRAY(SELECT DISTINCT unnest(g.metric_names || "
        "EXCLUDED.metric_names) ORDER BY 1) "
        "WHERE EXCLUDED.last_seen > g.last_seen OR EXCLUDED.first_seen < g.first_seen "
        "OR NOT g.metric_names @> EXCLUDED.metric_names");
  }
  tx.commit();
}

}  // namespace

std::filesystem::path RealCsvPath() {
  return std::filesystem::path(TP_SOURCE_DIR) / "data" /
         "dcgm_metrics_20250718_134233.csv";
}

Status ApplySchema(const std::string& conninfo) {
  TP_ASSIGN_OR_RETURN(auto conn, pg::Connect(conninfo));
  migrate::Migrator migrator(*conn, migrate::EmbeddedMigrations());
  auto applied = migrator.Up();
  return applied.ok() ? Status::Ok() : applied.status();
}

Result<std::vector<SeededRow>> SeedFromCsv(const std::string& conninfo,
                                           const std::filesystem::path& csv,
                                           int loops,
                                           std::chrono::seconds shift) {
  std::vector<SeededRow> file_rows;
  TP_ASSIGN_OR_RETURN(auto reader, streamer::DcgmCsvReader::Open(csv));
  for (;;) {
    streamer::DcgmRow row;
    streamer::RowError error;
    TP_ASSIGN_OR_RETURN(auto st, reader->Next(&row, &error));
    if (st == streamer::DcgmCsvReader::ReadStatus::kEnd) {
      break;
    }
    if (st == streamer::DcgmCsvReader::ReadStatus::kRow) {
      file_rows.push_back({std::move(row.record), ""});
    }
  }
  std::vector<SeededRow> rows;
  rows.reserve(file_rows.size() * loops);
  for (int loop = 0; loop < loops; ++loop) {
    for (const SeededRow& r : file_rows) {
      SeededRow copy = r;
      copy.record.timestamp += loop * shift;
      copy.msg_uuid = Uuid::NewV7().ToString();
      rows.push_back(std::move(copy));
    }
  }
  TP_ASSIGN_OR_RETURN(auto conn, pg::Connect(conninfo));
  TP_RETURN_IF_ERROR(pg::Call("seed", [&] {
    for (std::size_t begin = 0; begin < rows.size(); begin += kBatch) {
      InsertBatch(*conn, rows, begin, std::min(rows.size(), begin + kBatch));
    }
    pqxx::nontransaction(*conn).exec0("ANALYZE");
  }));
  return rows;
}

std::string SyntheticGpu(int i) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "GPU-00000000-0000-0000-0000-%012d", i);
  return buf;
}

Status SeedSynthetic(const std::string& conninfo,
                     std::int64_t rows,
                     int gpus,
                     std::chrono::seconds step,
                     const std::string& end,
                     bool rebuild_indexes) {
  TP_ASSIGN_OR_RETURN(auto conn, pg::Connect(conninfo));
  constexpr int kMetrics = 10;
  const std::int64_t scrapes = (rows + gpus * kMetrics - 1) / (gpus * kMetrics);
  const std::string metrics =
      "ARRAY['DCGM_FI_DEV_DEC_UTIL','DCGM_FI_DEV_ENC_UTIL','DCGM_FI_DEV_FB_FREE',"
      "'DCGM_FI_DEV_FB_USED','DCGM_FI_DEV_GPU_TEMP','DCGM_FI_DEV_GPU_UTIL',"
      "'DCGM_FI_DEV_MEM_CLOCK','DCGM_FI_DEV_MEM_COPY_UTIL','DCGM_FI_DEV_POWER_USAGE',"
      "'DCGM_FI_DEV_SM_CLOCK']";
  return pg::Call("seed synthetic", [&] {
    pqxx::nontransaction tx(*conn);
    tx.exec0("SET maintenance_work_mem = '512MB'");
    std::vector<std::string> index_defs;
    if (rebuild_indexes) {
      for (const auto& row : tx.exec(
               "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'telemetry' "
               "AND indexname <> 'telemetry_msg_uuid_key'")) {
        index_defs.push_back(row[1].as<std::string>());
        tx.exec0("DROP INDEX " + row[0].as<std::string>());
      }
      tx.exec0("ALTER TABLE telemetry DROP CONSTRAINT telemetry_msg_uuid_key");
    }
    // Rows arrive in time order, as from collectors: scrape-major, then GPU, metric.
    tx.exec0(
        "INSERT INTO telemetry (msg_uuid, ts, gpu_uuid, gpu_index, device, model_name, "
        "hostname, metric_name, value, labels, labels_raw) "
        "SELECT gen_random_uuid(), "
        "TIMESTAMPTZ " +
        tx.quote(end) + " - (" + std::to_string(scrapes) + " - 1 - s) * INTERVAL '" +
        std::to_string(step.count()) +
        " seconds', "
        "'GPU-00000000-0000-0000-0000-' || lpad(g::text, 12, '0'), g % 8, "
        "'nvidia' || (g % 8), 'NVIDIA H100 80GB HBM3', "
        "'synthetic-host-' || lpad((g / 8)::text, 3, '0'), "
        "(" +
        metrics +
        ")[m + 1], (s * 7 + g * 3 + m) % 100, '{}'::jsonb, '' "
        "FROM generate_series(0, " +
        std::to_string(scrapes - 1) +
        ") s, "
        "generate_series(0, " +
        std::to_string(gpus - 1) +
        ") g, "
        "generate_series(0, " +
        std::to_string(kMetrics - 1) +
        ") m "
        "LIMIT " +
        std::to_string(rows));
    if (rebuild_indexes) {
      tx.exec0(
          "ALTER TABLE telemetry ADD CONSTRAINT telemetry_msg_uuid_key UNIQUE "
          "(msg_uuid)");
      for (const auto& def : index_defs) {
        tx.exec0(def);
      }
    }
    tx.exec0(
        "INSERT INTO gpus (gpu_uuid, hostname, gpu_index, device, model_name, "
        "first_seen, "
        "last_seen, metric_names) SELECT gpu_uuid, min(hostname), min(gpu_index), "
        "min(device), min(model_name), min(ts), max(ts), "
        "ARRAY(SELECT DISTINCT unnest(array_agg(metric_name)) ORDER BY 1) "
        "FROM telemetry WHERE gpu_uuid LIKE 'GPU-00000000-%' GROUP BY gpu_uuid "
        "ON CONFLICT (gpu_uuid) DO NOTHING");
    tx.exec0("VACUUM ANALYZE telemetry");
    tx.exec0("ANALYZE gpus");
  });
}

}  // namespace tp::apigw::testing
