// The HTTP/1.1 server every service embeds (broker, streamer, collector, apigw).
//
// Shape (Beast advanced server, C++20 coroutines): one io_context run by N threads; one
// coroutine per connection on its own strand; requests on a connection are handled one
// at a time (sequential keep-alive, no pipelining); per-phase timeouts on the socket;
// the request body is capped (413 problem beyond it). A handler's exception becomes a 500
// problem and is logged; the server keeps serving. Each request is counted in the
// Options' metrics registry by route pattern, method and status code.
//
// Lifecycle: Server::Create binds the listener (so port() is known, also for port 0);
// Start hands over the router and starts the threads; Stop (or the destructor) stops
// accepting, closes idle connections, lets requests already being handled finish within
// stop_grace, then closes everything and joins the threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "tp/http/message.h"
#include "tp/http/router.h"
#include "tp/status.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace tp::metrics {
class Registry;
}  // namespace tp::metrics

namespace tp::http {
namespace internal {
struct ServerImpl;
}  // namespace internal

struct ServerOptions {
  // "host:port"; port 0 picks a free port (see Server::port()).
  std::string listen = "0.0.0.0:8080";
  int threads = 2;
  std::size_t body_limit = std::size_t{8} << 20;  // larger bodies get a 413 problem
  std::size_t header_limit = std::size_t{16} << 10;
  // From the first byte of a request until it is fully read; on expiry the connection is
  // closed without an answer.
  std::chrono::milliseconds read_timeout{std::chrono::seconds(15)};
  // How long a keep-alive connection may sit idle between requests.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // Writing one response.
  std::chrono::milliseconds write_timeout{std::chrono::seconds(15)};
  // How long Stop() waits for requests being handled before closing their connections.
  std::chrono::milliseconds stop_grace{std::chrono::seconds(5)};
  // Request metrics go here when set (not owned; must outlive the server).
  metrics::Registry* registry = nullptr;
  // spdlog logger name for this server's logs.
  std::string log_component = "http";
};

class Server {
 public:
  // Validates options and binds/listens. InvalidArgument for bad options or listen
  // address; Unavailable if the address cannot be bound (in use, not local).
  static Result<std::unique_ptr<Server>> Create(ServerOptions options);

  ~Server();  // Stop()s and joins
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts accepting and runs options.threads threads on the io_context.
  // FailedPrecondition if already started or stopped.
  Status Start(Router router);

  // Graceful stop, see the file comment. Thread-safe and idempotent; blocks until the
  // io threads are joined (at most about stop_grace plus a little). Called from an io
  // thread (a handler) it only initiates the stop and returns; the destructor joins, so
  // the Server must not be destroyed on one of its own io threads.
  void Stop();

  // The bound port and address ("127.0.0.1:41234").
  std::uint16_t port() const;
  std::string address() const;

  // The server's io_context/executor, for a component's own work (timers, strands).
  // Work posted here runs on the io threads; it stops running when the server stops.
  boost::asio::io_context& io_context();
  boost::asio::any_io_executor executor();

 private:
  explicit Server(std::unique_ptr<internal::ServerImpl> impl);
  std::unique_ptr<internal::ServerImpl> impl_;
};

// Liveness, readiness and metrics endpoints every service exposes.
struct StandardEndpoints {
  // GET /metrics renders this registry (text/plain; version=0.0.4); null: no /metrics.
  const metrics::Registry* registry = nullptr;
  // GET /readyz: 200 "ok" when this returns OK, else a 503 problem whose detail is the
  // status message. Null means always ready. Called on an io thread: must not block.
  std::function<Status()> readiness;
};

// Adds GET /healthz (always 200 "ok"), GET /readyz and GET /metrics. Errors as
// Router::Add.
Status InstallStandardEndpoints(Router& router, StandardEndpoints endpoints);

}  // namespace tp::http
