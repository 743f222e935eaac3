#include "collector/collector.h"

#include <fmt/format.h>

#include "tp/log.h"
#include "tp/metrics/metrics.h"
#include "tp/telemetry/record.h"

namespace tp::collector {

using Clock = std::chrono::steady_clock;

struct CollectorMetrics {
  metrics::Counter* leases = nullptr;
  metrics::Counter* leased = nullptr;
  metrics::Counter* stored = nullptr;
  metrics::Counter* duplicates = nullptr;
  metrics::Counter* poison = nullptr;
  metrics::Counter* failures = nullptr;
  metrics::Counter* ack_failures = nullptr;
  metrics::Histogram* tx_seconds = nullptr;
};

namespace {
std::shared_ptr<spdlog::logger> Log() {
  static auto log = Logger("collector");
  return log;
}

template <typename T>
void Inc(T* counter, double n = 1) {
  if (counter != nullptr) {
    counter->Inc(n);
  }
}
}  // namespace

Collector::Collector(CollectorOptions options,
                     clients::Consumer* consumer,
                     TelemetryStore* store,
                     metrics::Registry* registry)
    : options_(std::move(options)),
      consumer_(consumer),
      store_(store),
      metrics_(std::make_unique<CollectorMetrics>()) {
  if (registry != nullptr) {
    auto& m = *metrics_;
    m.leases =
        &registry->AddCounter("collector_leases_total", "Non-empty leases received");
    m.leased =
        &registry->AddCounter("collector_messages_leased_total", "Messages leased");
    m.stored = &registry->AddCounter("collector_rows_stored_total",
                                     "Telemetry rows inserted (committed)");
    m.duplicates =
        &registry->AddCounter("collector_duplicates_skipped_total",
                              "Rows skipped because their msg_uuid was stored");
    m.poison = &registry->AddCounter("collector_poison_total",
                                     "Messages nacked because they cannot be stored");
    m.failures = &registry->AddCounter("collector_write_failures_total",
                                       "Failed database transactions");
    m.ack_failures = &registry->AddCounter("collector_ack_failures_total",
                                           "Ack or nack calls that failed");
    m.tx_seconds = &registry->AddHistogram(
        "collector_transaction_seconds",
        "Duration of one lease's committed write, waiting for a connection included");
  }
}

Collector::~Collector() {
  Stop();
}

Status Collector::Start() {
  if (!workers_.empty()) {
    return Status::FailedPrecondition("collector already started");
  }
  stop_ = false;
  for (int i = 0; i < std::max(1, options_.inflight); ++i) {
    workers_.emplace_back([this, i] { Worker(i); });
  }
  return Status::Ok();
}

void Collector::Stop() {
  stop_ = true;
  for (auto& w : workers_) {
    if (w.joinable()) {
      w.join();
    }
  }
  workers_.clear();
}

Collector::Counters Collector::counters() const {
  Counters c;
  c.leases = counters_.leases;
  c.leased = counters_.leased;
  c.stored = counters_.stored;
  c.duplicates = counters_.duplicates;
  c.poison = counters_.poison;
  c.write_failures = counters_.write_failures;
  c.acked = counters_.acked;
  c.ack_failures = counters_.ack_failures;
  return c;
}

void Collector::Worker(int index) {
  clients::LeaseRequest request;
  request.group = options_.group;
  request.consumer_id = fmt::format("{}-{}", options_.consumer_id, index);
  request.max = options_.batch;
  request.lease_seconds = options_.lease_seconds;
  request.wait = options_.wait;
  int failures = 0;
  while (!stopping()) {
    auto lease = consumer_->Lease(request);
    if (!lease.ok()) {
      SPDLOG_LOGGER_WARN(Log(), "lease failed: {}", lease.status().ToString());
      const auto wait = clients::FullJitterBackoff(options_.backoff, failures++);
      for (auto until = Clock::now() + wait; Clock::now() < until && !stopping();) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      continue;
    }
    failures = 0;
    if (lease->messages.empty()) {
      continue;
    }
    HandleLease(*lease).IgnoreError();  // logged inside; the lease expires on failure
  }
}

Status Collector::HandleLease(const clients::LeaseResponse& lease) {
  ++counters_.leases;
  counters_.leased += lease.messages.size();
  Inc(metrics_->leases);
  Inc(metrics_->leased, static_cast<double>(lease.messages.size()));

  std::vector<StoreRow> rows;
  std::vector<std::string> valid_ids;
  std::vector<std::string> poison_ids;
  rows.reserve(lease.messages.size());
  for (const auto& m : lease.messages) {
    auto id = Uuid::Parse(m.msg_uuid);
    auto record = telemetry::ParseJson(m.payload);
    Status bad = !id.ok()       ? id.status()
                 : !record.ok() ? record.status()
                                : ValidateForStorage(*record);
    if (!bad.ok()) {
      SPDLOG_LOGGER_WARN(Log(),
                         "poison message {} (partition {} offset {} attempt {}): {}",
                         m.msg_uuid,
                         m.partition,
                         m.offset,
                         m.attempt,
                         bad.ToString());
      poison_ids.push_back(m.msg_uuid);
      continue;
    }
    rows.push_back(StoreRow{*id, std::move(record).value()});
    valid_ids.push_back(m.msg_uuid);
  }

  // Write, retrying while the lease has time left.
  Status status;
  bool narrowed = false;
  for (int attempt = 0;; ++attempt) {
    const auto start = Clock::now();
    auto written = store_->Write(rows);
    if (written.ok()) {
      if (metrics_->tx_seconds != nullptr) {
        metrics_->tx_seconds->ObserveDuration(Clock::now() - start);
      }
      counters_.stored += written->inserted;
      counters_.duplicates += written->duplicates;
      Inc(metrics_->stored, static_cast<double>(written->inserted));
      Inc(metrics_->duplicates, static_cast<double>(written->duplicates));
      status = Status::Ok();
      break;
    }
    status = written.status();
    ++counters_.write_failures;
    Inc(metrics_->failures);
    if (status.code() == StatusCode::kInvalidArgument && rows.size() > 1 && !narrowed) {
      narrowed = true;
      // One bad row fails the whole statement: find it by writing rows one by one.
      std::vector<StoreRow> kept;
      std::vector<std::string> kept_ids;
      Status transient;
      for (std::size_t i = 0; i < rows.size(); ++i) {
        auto one = store_->Write({rows[i]});
        if (one.ok() || one.status().code() != StatusCode::kInvalidArgument) {
          if (!one.ok()) {
            transient = one.status();
          }
          kept.push_back(rows[i]);
          kept_ids.push_back(valid_ids[i]);
        } else {
          SPDLOG_LOGGER_WARN(
              Log(), "poison message {}: {}", valid_ids[i], one.status().ToString());
          poison_ids.push_back(valid_ids[i]);
        }
      }
      rows = std::move(kept);
      valid_ids = std::move(kept_ids);
      continue;  // rewrite the rest as one batch (counts come out right)
    }
    if (status.code() == StatusCode::kInvalidArgument && rows.size() == 1) {
      poison_ids.push_back(valid_ids[0]);
      rows.clear();
      valid_ids.clear();
      continue;
    }
    const auto wait = clients::FullJitterBackoff(options_.backoff, attempt);
    if (stopping() || Clock::now() + wait + options_.lease_margin > lease.deadline) {
      SPDLOG_LOGGER_ERROR(Log(),
                          "write of lease {} ({} rows) failed, leaving it to expire: {}",
                          lease.lease_id,
                          rows.size(),
                          status.ToString());
      return status;
    }
    SPDLOG_LOGGER_WARN(Log(),
                       "write failed (attempt {}), retrying in {} ms: {}",
                       attempt + 1,
                       wait.count(),
                       status.ToString());
    std::this_thread::sleep_for(wait);
  }

  if (!valid_ids.empty()) {
    const bool all = poison_ids.empty();
    auto acked =
        all ? consumer_->Ack(lease.lease_id) : consumer_->Ack(lease.lease_id, valid_ids);
    if (acked.ok()) {
      counters_.acked += static_cast<std::uint64_t>(*acked);
    } else {
      // The rows are committed; a redelivery will be skipped as duplicates.
      ++counters_.ack_failures;
      Inc(metrics_->ack_failures);
      SPDLOG_LOGGER_WARN(
          Log(), "ack of lease {} failed: {}", lease.lease_id, acked.status().ToString());
    }
  }
  if (!poison_ids.empty()) {
    counters_.poison += poison_ids.size();
    Inc(metrics_->poison, static_cast<double>(poison_ids.size()));
    Status s = consumer_->Nack(lease.lease_id, poison_ids, std::chrono::milliseconds(0));
    if (!s.ok()) {
      ++counters_.ack_failures;
      Inc(metrics_->ack_failures);
      SPDLOG_LOGGER_WARN(
          Log(), "nack of lease {} failed: {}", lease.lease_id, s.ToString());
    }
  }
  return Status::Ok();
}

}  // namespace tp::collector
