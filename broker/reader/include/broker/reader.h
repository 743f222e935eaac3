// The broker reader: replays the partitions this pod owns from every writer into a
// bounded in-memory window and serves them to consumers as leases with a visibility
// timeout (POST /v1/lease, /v1/ack, /v1/nack, /v1/extend; DESIGN.md "Reader").
//
// Per (topic, group) there is one pipeline, created on the group's first lease request.
// All of a pipeline's state (partitions, buffered messages, leases) has ONE owner: an
// asio strand on the Reader's own io_context. HTTP handlers (on the server's io threads)
// and the blocking threads (replay per writer, commit, membership) talk to it only by
// posting to that strand; no mutex guards hot-path state. LogSource calls block and run
// only on the replay/commit threads, never on an io thread.
//
// Delivery: at-least-once. A message not acked by its lease deadline is leased again
// with attempt+1; once a message has been leased max_attempts times and is expired or
// nacked again it is appended to the writer's dead-letter log and counts as done.
// Offsets are committed per (writer, partition) only over the contiguous done prefix,
// batched every commit_interval, and only ever move forward.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "broker/log_source.h"
#include "broker/membership.h"
#include "tp/http/message.h"
#include "tp/http/router.h"
#include "tp/status.h"

namespace tp::metrics {
class Registry;
}  // namespace tp::metrics

namespace tp::broker {

struct ReaderOptions {
  // Topics served; a lease naming another topic is a 404 problem. The first is the
  // default when a lease request names none.
  std::vector<std::string> topics = {"telemetry"};
  std::string default_group = "collectors";
  // Pipelines (topic, group) beyond this many: 429 problem.
  std::size_t max_groups = 16;

  uint32_t max_attempts = 5;
  std::chrono::seconds default_lease{30};
  std::chrono::seconds min_lease{1};
  std::chrono::seconds max_lease{3600};
  uint32_t default_lease_batch = 100;         // "max" when the request has none
  uint32_t max_lease_batch = 1000;            // upper bound of "max"
  std::chrono::milliseconds max_wait{30000};  // upper bound of "wait_ms"
  // Delay bound for nack's "delay_ms".
  std::chrono::milliseconds max_nack_delay{std::chrono::hours(1)};
  // Outstanding (unsettled) leases per pipeline; beyond: 429 problem.
  std::size_t max_leases_per_group = 100000;
  // How long an expired/finished lease id is remembered, so a late ack gets 409 (not
  // 404). Also capped by count (max_leases_per_group).
  std::chrono::seconds lease_tombstone_ttl{600};

  // Window of buffered (fetched, not yet done) messages across all partitions, groups
  // and writers. Fetching pauses while it is full.
  uint64_t buffer_bytes = uint64_t{64} << 20;
  std::chrono::milliseconds fetch_wait{500};  // long-poll of one Fetch
  uint32_t fetch_max_records_per_partition = 500;
  uint64_t fetch_max_bytes = uint64_t{4} << 20;
  std::chrono::milliseconds commit_interval{200};
  std::chrono::milliseconds expiry_scan_interval{100};
  std::chrono::milliseconds membership_interval{std::chrono::seconds(5)};
  // With a WriterDiscovery: how often the writer set is resolved again, and how long a
  // writer that left it is still replayed (a writer scaled away drains: it waits for
  // readers to commit its partitions to their end before it exits).
  std::chrono::milliseconds writers_refresh{std::chrono::seconds(10)};
  std::chrono::milliseconds removed_writer_grace{std::chrono::seconds(30)};
  std::chrono::milliseconds retry_backoff{500};  // after a LogSource error
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(30)};
  int io_threads = 1;

  // InvalidArgument naming the bad option.
  Status Validate() const;
};

// Where the writers come from when their set can change (`--writers dns:NAME:PORT`).
// The Reader calls resolve() in Start() and then every writers_refresh from a thread of
// its own (never an io thread). A new id gets its LogSource from open(); an id that
// stays missing for removed_writer_grace is dropped: its replay stops, its buffered and
// leased messages are forgotten (an ack of them is answered but commits nothing) and
// nothing more is committed to it. An id that comes back is opened again and replayed
// from the group's committed offsets. A resolve() error or an empty answer keeps the
// last good set (logged once per distinct error).
struct WriterDiscovery {
  // Writer ids now: the base URLs of HTTP writers. Blocking.
  std::function<Result<std::vector<std::string>>()> resolve;
  // The LogSource of `id`; an error is logged and retried at the next refresh.
  std::function<Result<std::shared_ptr<LogSource>>(const std::string& id)> open;
  // For logs: "dns broker-writer.ns.svc:8081".
  std::string description;
};

class Reader {
 public:
  // `writers`: one LogSource per writer (their id()s must differ). `registry` (not
  // owned, may be null) receives the broker_reader_* metrics. InvalidArgument for bad
  // options, no writers, duplicate writer ids or a null membership.
  static Result<std::unique_ptr<Reader>> Create(
      ReaderOptions options,
      std::vector<std::shared_ptr<LogSource>> writers,
      std::unique_ptr<Membership> membership,
      metrics::Registry* registry = nullptr);

  // Writers from `discovery` instead of a fixed list (see WriterDiscovery). The set may
  // be empty until the first successful resolve (not ready until then).
  // InvalidArgument for bad options, a discovery without resolve/open or a null
  // membership.
  static Result<std::unique_ptr<Reader>> Create(ReaderOptions options,
                                                WriterDiscovery discovery,
                                                std::unique_ptr<Membership> membership,
                                                metrics::Registry* registry = nullptr);

  ~Reader();  // Stop()s
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Reads the membership once and starts the io, membership and commit threads. An
  // assignment that cannot be read yet is retried every membership_interval (not ready
  // until then). FailedPrecondition if started twice.
  Status Start();

  // Graceful drain: leases are refused (503) from now on, waiting long-polls return 503;
  // waits up to drain_timeout until every outstanding lease is acked or expired, then
  // commits what was acked (and dead-lettered). Unacked messages stay in the log for
  // the next owner. Timeout if leases were still outstanding at the deadline (their
  // messages are not committed). Blocking: call from main, never on an io thread.
  Status Drain();

  // Stops every thread (after a last commit of the done prefix). Idempotent. Stop the
  // HTTP server first: a request still waiting on the Reader is answered 503.
  void Stop();

  // Resolves the writers now (also done every writers_refresh) and waits until the
  // change is applied. A no-op with a fixed writer list, before Start() and after
  // Stop(); do not call it concurrently with Stop(). Blocking.
  void RefreshWriters();

  // OK when started, an assignment and at least one writer are known and not
  // draining/stopped; else Unavailable.
  // Non-blocking (for GET /readyz).
  Status Readiness() const;

  // The assignment in force, if any. Thread-safe.
  std::optional<Assignment> CurrentAssignment() const;

  // Re-reads the membership now (also done every membership_interval). Blocking.
  void RefreshMembership();

  // Request handlers (JSON in, JSON or problem+json out), as mounted by
  // InstallReaderRoutes. Run them on any executor; they never block it.
  boost::asio::awaitable<http::Response> HandleLease(http::Request request);
  boost::asio::awaitable<http::Response> HandleAck(http::Request request);
  boost::asio::awaitable<http::Response> HandleNack(http::Request request);
  boost::asio::awaitable<http::Response> HandleExtend(http::Request request);

  struct Impl;

 private:
  explicit Reader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Mounts POST /v1/lease, /v1/ack, /v1/nack and /v1/extend on `router` (e.g. the
// writer's router in `broker standalone`). The handlers keep `reader` alive. Errors as
// Router::Add (AlreadyExists if mounted twice).
Status InstallReaderRoutes(http::Router& router, std::shared_ptr<Reader> reader);

}  // namespace tp::broker
