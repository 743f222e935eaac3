// The API gateway: telemetry REST API over PostgreSQL, OpenAPI document, Swagger UI and
// dashboard assets.
//
// Shape: every route of apigw::Routes() (spec.h) becomes a router entry. A request is
// first checked against its RouteSpec (auth, then parameters), then answered by a plain
// request -> response function. Handlers that touch PostgreSQL or the disk are blocking
// (libpqxx is synchronous), so they run on the gateway's own worker threads and the io
// thread only co_awaits their answer; /healthz, /metrics and /openapi.json answer on the
// io thread. Tests drive the same router with Router::Dispatch, without sockets.
//
// Database access: a bounded tp::pg::ConnectionPool; every query is a prepared statement
// (prepared lazily per connection) shaped to use the (gpu_uuid, ts, msg_uuid) and
// (gpu_uuid, metric_name, ts, msg_uuid) indexes: no OR-ed optional predicates, one
// statement per combination of order, metric filter and cursor. Pagination is keyset:
// the opaque cursor holds the last (ts, msg_uuid) returned, so concurrent inserts never
// duplicate or skip rows already paged past.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "apigw/spec.h"
#include "tp/http/message.h"
#include "tp/http/router.h"
#include "tp/status.h"

namespace tp::metrics {
class Registry;
}  // namespace tp::metrics

namespace tp::apigw {

struct GatewayOptions {
  // libpq connection string or URI.
  std::string database_url;
  std::size_t pool_size = 8;
  // Threads running blocking handlers (database, files). More than pool_size only
  // queues on the pool.
  std::size_t worker_threads = 4;
  std::chrono::milliseconds acquire_timeout{2000};
  // PostgreSQL statement_timeout for every query (unless the URL sets options=).
  std::chrono::milliseconds statement_timeout{5000};
  // Bearer token required on /api/*; empty: no authentication.
  std::string auth_token;
  // Folder with index.html, static/ and node_modules/{swagger-ui-dist,uplot}.
  std::filesystem::path web_dir;
};

// Compares in time independent of where the strings differ (and of the length of
// `given`, up to the length of `expected`).
bool ConstantTimeEquals(std::string_view given, std::string_view expected);

// The SQL of the telemetry page query the gateway prepares for this combination of
// options ($1 gpu, $2/$3 start/end, then the metric(s), then the cursor's ts and
// msg_uuid, then the limit), so that tests and benchmarks can EXPLAIN exactly it.
std::string TelemetryQuerySql(bool desc, std::size_t metric_count, bool with_cursor);

class Gateway {
 public:
  // Validates options and creates the pool (connects lazily: the gateway starts while
  // PostgreSQL is still down and /readyz says so). `registry` (optional, not owned) gets
  // the gateway's own metrics and is rendered at /metrics. Errors: kInvalidArgument (bad
  // URL, pool_size 0).
  static Result<std::unique_ptr<Gateway>> Create(GatewayOptions options,
                                                 metrics::Registry* registry = nullptr);
  ~Gateway();  // waits for running handlers
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Adds every route of Routes() to `router`. The gateway must outlive the router.
  Status Install(http::Router& router);

  // Answers `request` for `route` on the calling thread (blocking): auth, validation,
  // handler. What the router runs on the worker threads; tests may call it directly.
  http::Response Handle(const RouteSpec& route, const http::Request& request);

  // OK when PostgreSQL answers and the schema is at the version this binary knows.
  // Blocking (up to acquire_timeout).
  Status CheckReady();

  // /openapi.json body.
  const std::string& openapi_json() const;

 private:
  struct Impl;
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tp::apigw
