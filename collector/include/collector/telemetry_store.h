// TelemetryStore: writes validated telemetry rows to PostgreSQL, exactly once in effect.
//
// One Write() is one transaction: a multi-row INSERT INTO telemetry ... ON CONFLICT
// (msg_uuid) DO NOTHING (which tolerates duplicates inside the statement, unlike DO
// UPDATE) plus the gpus upsert of docs/SCHEMA.md, one row per GPU of the batch, in
// gpu_uuid order (so concurrent collectors lock gpus rows in one order and cannot
// deadlock). Redelivered rows are skipped by the unique msg_uuid, so retrying a Write
// whose outcome is unknown is always safe.
//
// Durability: Write returns OK only after COMMIT succeeded.
// Thread-safety: Write may be called from many threads; each call leases its own pooled
// connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tp/pg/pool.h"
#include "tp/status.h"
#include "tp/telemetry/record.h"
#include "tp/uuid.h"

namespace tp::collector {

struct StoreRow {
  Uuid msg_uuid;
  telemetry::TelemetryRecord record;
};

struct WriteResult {
  std::uint64_t inserted = 0;
  std::uint64_t duplicates = 0;  // rows whose msg_uuid was already stored (or repeated)
};

// Checks what PostgreSQL would reject in a row that ParseJson accepted (a NUL byte in a
// text field): such a message is poison, not a database failure. InvalidArgument.
Status ValidateForStorage(const telemetry::TelemetryRecord& record);

class TelemetryStore {
 public:
  explicit TelemetryStore(std::shared_ptr<pg::ConnectionPool> pool);

  // Stores `rows` in one transaction (see the file comment). An empty batch is a no-op.
  // Errors (nothing was committed; retry later, the write is idempotent):
  //   kUnavailable: the connection broke (server down/restarting) or COMMIT's outcome
  //     is unknown; the pooled connection is discarded;
  //   kTimeout: no pooled connection became free;
  //   kFailedPrecondition: the schema is behind (missing table/column);
  //   kInvalidArgument and others: PostgreSQL rejected the data (see tp/pg/error.h).
  Result<WriteResult> Write(const std::vector<StoreRow>& rows);

  // SELECT 1 on a pooled connection (readiness).
  Status Ping();

 private:
  std::shared_ptr<pg::ConnectionPool> pool_;
};

}  // namespace tp::collector
