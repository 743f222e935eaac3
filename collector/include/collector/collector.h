// Collector: leases telemetry messages from a broker reader, stores them in PostgreSQL
// and acks them only after the transaction committed.
//
// Each of `inflight` worker threads loops: Lease (long-poll) -> validate every payload
// with telemetry::ParseJson -> TelemetryStore::Write(valid rows) in one transaction ->
// Ack(valid msg_uuids) -> Nack(poison msg_uuids, no delay). Poison messages (payloads
// that do not parse or that PostgreSQL could never store) are nacked at once so the
// reader's attempt counter sends them to its dead-letter log quickly; they never hold
// back the valid rows of their lease.
// On a database error nothing is acked: the worker retries the write with exponential
// backoff while the lease has time left (at least `lease_margin`), then lets the lease
// expire so the reader redelivers. The insert is idempotent by msg_uuid, so a retry or a
// redelivery after a lost ack never creates a second row: nothing lost, nothing
// duplicated. A data error for the whole batch (one row PostgreSQL rejects) is narrowed
// down by writing the rows one by one; the rejected ones become poison.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "clients/backoff.h"
#include "clients/consumer.h"
#include "collector/telemetry_store.h"
#include "tp/status.h"

namespace tp::metrics {
class Registry;
}  // namespace tp::metrics

namespace tp::collector {

struct CollectorOptions {
  std::string group = "collectors";
  std::string consumer_id = "collector";
  int batch = 1000;  // messages per lease
  std::chrono::seconds lease_seconds{30};
  std::chrono::milliseconds wait{1000};  // long-poll
  int inflight = 2;                      // worker threads, one lease each
  // Stop retrying a write when less than this is left of the lease.
  std::chrono::milliseconds lease_margin{2000};
  clients::BackoffOptions backoff{std::chrono::milliseconds(100),
                                  std::chrono::milliseconds(5000)};
};

struct CollectorMetrics;

class Collector {
 public:
  // `consumer`, `store` and `registry` must outlive the Collector. registry may be null.
  Collector(CollectorOptions options,
            clients::Consumer* consumer,
            TelemetryStore* store,
            metrics::Registry* registry);
  ~Collector();  // Stop()
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  // Starts the worker threads. FailedPrecondition if already started.
  Status Start();
  // Asks the workers to finish their current lease (its write and ack) and joins them.
  // A worker in a long-poll returns when the poll does (at most `wait` + timeout).
  void Stop();

  struct Counters {
    std::uint64_t leases = 0;
    std::uint64_t leased = 0;
    std::uint64_t stored = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t poison = 0;
    std::uint64_t write_failures = 0;
    std::uint64_t acked = 0;
    std::uint64_t ack_failures = 0;
  };
  Counters counters() const;

  // Handles one lease (exposed for tests). Returns the final write status.
  Status HandleLease(const clients::LeaseResponse& lease);

 private:
  void Worker(int index);
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }

  CollectorOptions options_;
  clients::Consumer* consumer_;
  TelemetryStore* store_;
  std::unique_ptr<CollectorMetrics> metrics_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> workers_;
  struct AtomicCounters {
    std::atomic<std::uint64_t> leases{0}, leased{0}, stored{0}, duplicates{0}, poison{0},
        write_failures{0}, acked{0}, ack_failures{0};
  } counters_;
};

}  // namespace tp::collector
