// Consumer: the lease protocol of a broker reader (DESIGN.md), as blocking calls.
//
//   POST /v1/lease  {"topic","group","consumer_id","max","lease_seconds","wait_ms"}
//     -> {"lease_id","expires_at","messages":[{"msg_uuid","partition","offset",
//         "attempt","payload":{...}}]}
//   POST /v1/ack    {"lease_id","msg_uuids":[optional subset]} -> {"acked":N}
//   POST /v1/nack   {"lease_id","msg_uuids":[...],"delay_ms":D}
//   POST /v1/extend {"lease_id","lease_seconds":S} -> {"expires_at"}
//
// Status codes callers branch on: kNotFound (404: unknown lease or topic), kConflict
// (409: the lease expired; its messages will be delivered again), kInvalidArgument
// (other 4xx), kUnavailable (5xx, 429, connection refused or reset), kTimeout.
// Lease() long-polls: its HTTP timeout is wait + request_timeout, so the answer of an
// empty long-poll is never mistaken for a dead reader. Lease() is never retried here (a
// retry after a lost answer would hold messages under a lease nobody knows); Ack, Nack
// and Extend are retried on kUnavailable/kTimeout up to max_attempts, which is safe
// because they are idempotent.
//
// Thread-safety: every method may be called from many threads at once (keep-alive pool).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clients/backoff.h"
#include "tp/status.h"

namespace tp::clients {

struct ConsumerOptions {
  std::string reader_url;  // "http://127.0.0.1:8082"
  std::string topic = "telemetry";
  // Time allowed for a call beyond the long-poll wait.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(3)};
  int max_attempts = 3;  // Ack/Nack/Extend
  BackoffOptions backoff{std::chrono::milliseconds(50), std::chrono::milliseconds(1000)};
  std::size_t max_idle_connections = 8;
};

struct LeaseRequest {
  std::string group = "collectors";
  std::string consumer_id;
  int max = 100;
  std::chrono::seconds lease_seconds{30};
  std::chrono::milliseconds wait{1000};  // long-poll when nothing is ready
};

struct LeasedMessage {
  std::string msg_uuid;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  int attempt = 0;
  std::string payload;  // the payload object as JSON text
};

struct LeaseResponse {
  std::string lease_id;    // empty when no message was ready
  std::string expires_at;  // RFC 3339, as the reader sent it
  // Local deadline: now + lease_seconds when the request was sent (never later than
  // the reader's, since the reader starts its clock after receiving the request).
  std::chrono::steady_clock::time_point deadline;
  std::vector<LeasedMessage> messages;
};

class Consumer {
 public:
  // Errors: kInvalidArgument (bad URL, empty topic).
  static Result<std::unique_ptr<Consumer>> Create(ConsumerOptions options);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Leases up to request.max messages; an empty LeaseResponse (no lease_id, no messages)
  // when none arrived within request.wait. Errors: see the file comment; kInternal for an
  // answer that is not the documented shape.
  Result<LeaseResponse> Lease(const LeaseRequest& request);

  // Acks the lease's messages (all, or only `msg_uuids`); returns how many were acked.
  Result<std::int64_t> Ack(
      const std::string& lease_id,
      const std::optional<std::vector<std::string>>& msg_uuids = std::nullopt);

  // Returns `msg_uuids` of the lease for redelivery after `delay` (zero: at once).
  Status Nack(const std::string& lease_id,
              const std::vector<std::string>& msg_uuids,
              std::chrono::milliseconds delay = std::chrono::milliseconds(0));

  // Pushes the lease's deadline to now + lease_seconds; returns the new expires_at.
  Result<std::string> Extend(const std::string& lease_id,
                             std::chrono::seconds lease_seconds);

  // GET /healthz on the reader: OK when it answers 200 (readiness probes).
  Status Ping();

  struct Impl;

 private:
  explicit Consumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tp::clients
