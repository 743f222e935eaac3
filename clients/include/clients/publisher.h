// Publisher: batches messages per topic and sends them to a broker writer's
// POST /v1/publish, retrying until each batch is acknowledged.
//
// Wire form (DESIGN.md): by default the request's flatbuffers form (broker/schema/
// broker.fbs, Content-Type application/x-flatbuffers), so neither side builds or parses
// a JSON document per message; PublishFormat::kJson sends {"topic":"telemetry",
// "messages":[{"key":"GPU-...","msg_uuid":"<uuidv7>","payload":{...}}]} instead. Either
// way the answer is 200 {"accepted":N,"duplicates":M}, only after the batch is durable.
//
// Delivery: at least once, exactly-once in effect. Every message gets its msg_uuid when
// Publish() is called (a UUIDv7 unless the caller passes one) and that id is sent on
// every retry, so a retry after a lost answer is a duplicate the broker and the collector
// discard, never a second row.
//
// Batching: a topic's batch is sent when it holds max_batch_messages (or
// max_batch_bytes), when its oldest message has waited `linger`, or on Flush()/Close().
// One sender thread sends batches in queue order and retries a failing batch before the
// next one, so messages leave in Publish() order (per topic).
//
// Retries: connection failures, timeouts, 408, 429 and 5xx are retried with exponential
// backoff and full jitter; a 429/503 with Retry-After waits at least that long. Other
// 4xx answers (400 bad message, 404 unknown topic, 413 too large) are not retried: the
// batch's messages are counted as failures and the error is reported by Flush(). After
// max_attempts (0: no limit) a batch fails the same way.
//
// Backpressure: the queue holds at most max_queued_messages (queued + being sent). A full
// queue makes Publish() block up to enqueue_timeout for room, then return kFull;
// enqueue_timeout = 0 makes Publish() non-blocking (kFull at once).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "clients/backoff.h"
#include "tp/status.h"
#include "tp/uuid.h"

namespace tp::clients {

// Encoding of POST /v1/publish bodies. Both carry the same fields; the payload text is
// embedded as it is in either.
enum class PublishFormat {
  kFlatbuffers,  // application/x-flatbuffers (default: cheapest for both sides)
  kJson,         // application/json
};

struct PublisherOptions {
  std::string broker_url;  // "http://127.0.0.1:8081"
  PublishFormat format = PublishFormat::kFlatbuffers;
  std::size_t max_batch_messages = 500;
  std::size_t max_batch_bytes = std::size_t{1} << 20;  // payload bytes per request
  std::chrono::milliseconds linger{20};
  std::size_t max_queued_messages = 20'000;
  std::chrono::milliseconds enqueue_timeout{std::chrono::seconds(30)};
  // Per HTTP request (connect, send, wait for the durable answer).
  std::chrono::milliseconds request_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(3)};
  BackoffOptions backoff;
  // A Retry-After longer than this is shortened to it.
  std::chrono::milliseconds max_retry_after{std::chrono::seconds(30)};
  // Sends of one batch before it is given up (0: retry until Close()).
  int max_attempts = 0;
};

struct PublisherStats {
  std::uint64_t enqueued = 0;    // messages accepted by Publish()
  std::uint64_t published = 0;   // messages acknowledged (accepted + duplicates)
  std::uint64_t accepted = 0;    // new to the broker
  std::uint64_t duplicates = 0;  // the broker already had their msg_uuid
  std::uint64_t failures = 0;    // messages given up (non-retryable answer, attempts)
  std::uint64_t requests = 0;    // HTTP requests sent
  std::uint64_t retries = 0;     // requests that were retries of an earlier one
  std::uint64_t throttled = 0;   // 429 answers
  std::uint64_t pending = 0;     // queued or being sent right now
};

class Publisher {
 public:
  // Validates options (URL, sizes) and starts the sender thread. No connection is made
  // yet. Errors: kInvalidArgument.
  static Result<std::unique_ptr<Publisher>> Create(PublisherOptions options);
  ~Publisher();  // Close(0): what is still queued is dropped (counted as failures)
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Queues one message. `payload_json` must be a JSON object's text; it is embedded as
  // it is (only a leading '{' is checked). Returns the message's msg_uuid (`msg_uuid` if
  // given, else a new UUIDv7) once queued; the message is not durable yet (see Flush()).
  // Errors: kInvalidArgument (empty topic, payload not an object), kFull (the queue
  // stayed full for enqueue_timeout), kUnavailable (after Close()).
  Result<Uuid> Publish(std::string_view topic,
                       std::string_view key,
                       std::string_view payload_json,
                       std::optional<Uuid> msg_uuid = std::nullopt);

  // Sends what is queued without waiting for linger and waits until every message
  // queued before the call is acknowledged or given up. Returns OK when nothing failed
  // since the previous Flush(); else the first failure's status (its messages are lost
  // to this publisher). kTimeout if `timeout` passes first (sending continues).
  Status Flush(std::chrono::milliseconds timeout = std::chrono::minutes(5));

  // Flushes for up to `timeout`, then stops: retries are abandoned, what is left is
  // counted as failures, and later Publish() calls return kUnavailable. Idempotent.
  // Returns Flush()'s status.
  Status Close(std::chrono::milliseconds timeout);

  PublisherStats Stats() const;

  struct Impl;

 private:
  explicit Publisher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tp::clients
