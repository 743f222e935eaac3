// TelemetryStore: writes validated telemetry rows to PostgreSQL, exactly once in effect.
//
// One Write() is one transaction: the rows go in by COPY inside a savepoint; a batch that
// holds an already stored msg_uuid falls back to INSERT ... ON CONFLICT (msg_uuid) DO
// NOTHING. Then the gpus upsert of docs/SCHEMA.md, one row per GPU of the batch that
// needs it, in gpu_uuid order (so concurrent collectors lock gpus rows in one order and
// cannot deadlock). Redelivered rows are skipped by the unique msg_uuid, so retrying a
// Write whose outcome is unknown is always safe.
//
// The gpus upsert is the costliest part of a batch for PostgreSQL when every batch
// touches every GPU, so the store remembers what it last committed per GPU and leaves a
// GPU out while the batch only moves its last_seen forward by less than
// `gpu_seen_resolution`: a new GPU, an earlier first_seen, a new metric name or changed
// attributes are always written. gpus.last_seen may then lag the newest stored row by up
// to that resolution (per collector; the upsert keeps the greatest).
//
// Durability: Write returns OK only after COMMIT succeeded.
// Thread-safety: Write may be called from many threads. Without max_concurrent_writes
// each call is its own transaction on its own pooled connection. With it, calls beyond
// that many wait, and whoever gets the next free slot writes every waiting call's rows
// in one transaction: one COMMIT, and its fsync wait, for several leases. If that
// combined transaction fails, each call's rows are written again on their own, so a
// call always gets the outcome of its own rows (a data error in one lease never fails
// another).
#pragma once

#include <chrono>
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

struct TelemetryStoreOptions {
  // How far gpus.last_seen may lag behind the newest stored row of its GPU; 0 writes
  // every batch's GPUs.
  std::chrono::microseconds gpu_seen_resolution = std::chrono::seconds(5);
  // Transactions in flight at once, and combining of the calls that wait for one (see
  // the file comment); 0: no limit and no combining. Give the pool at least as many
  // connections.
  std::size_t max_concurrent_writes = 0;
};

class TelemetryStore {
 public:
  explicit TelemetryStore(std::shared_ptr<pg::ConnectionPool> pool,
                          TelemetryStoreOptions options = {});
  ~TelemetryStore();

  // Stores `rows` in one transaction (see the file comment). An empty batch is a no-op.
  // When calls were combined, the first call's WriteResult counts the rows of all of
  // them and the others count zero.
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
  class GpuCache;
  class Combiner;

  Result<WriteResult> WriteOne(const std::vector<StoreRow>& rows);

  std::shared_ptr<pg::ConnectionPool> pool_;
  std::unique_ptr<GpuCache> gpus_;
  std::unique_ptr<Combiner> combiner_;  // null without max_concurrent_writes
};

}  // namespace tp::collector
