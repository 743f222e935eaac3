// A blocking HTTP/1.1 client for the project's own services (streamer -> broker,
// collector -> reader, readers -> writers), with a pool of keep-alive connections to one
// base URL.
//
// Thread-safety: every method may be called from many threads at once; each call checks a
// connection out of the pool (or opens one) and uses it alone.
//
// Failures come back as Status, never as a hang:
//   - InvalidArgument: bad base URL, method or target (checked before any I/O).
//   - Timeout: the connect timeout or the call's total timeout expired.
//   - Unavailable: connection refused/reset, the peer closed mid-response, a malformed
//     response, a response body over max_response_body.
// A pooled connection that the server closed while idle is retried once on a fresh
// connection when the failure happened before any response byte arrived; the request may
// then have been sent twice (the project's POST endpoints are idempotent by msg_uuid).
// Any HTTP status (including 4xx/5xx) is a successful call: check ClientResponse::status.
// Host names are resolved with the system resolver when a connection is opened; that
// lookup is bounded by the resolver's own timeouts (resolv.conf), not by connect_timeout.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tp/http/message.h"
#include "tp/http/url.h"
#include "tp/status.h"

namespace tp::http {
namespace internal {
struct ClientImpl;
}  // namespace internal

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  // Default total time for one call (connect, send, receive), retry included.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  std::size_t max_idle_connections = 8;
  // Pooled connections idle longer than this are not reused (keep it below the server's
  // idle timeout so a reused connection is rarely one the server is closing).
  std::chrono::milliseconds max_idle_time{std::chrono::seconds(30)};
  std::size_t max_response_body = std::size_t{64} << 20;
  std::string user_agent = "tp-http-client";
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;

  std::optional<std::string_view> Header(std::string_view name) const {
    return FindHeader(headers, name);
  }
};

class Client {
 public:
  // Parses `base_url` strictly ("http://host:port[/prefix]"); InvalidArgument otherwise,
  // including for https (not supported). Opens no connection yet.
  static Result<std::unique_ptr<Client>> Create(std::string_view base_url,
                                                ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `method target` (target "/v1/publish?x=1" is appended to the base URL's
  // prefix) with `body` and, when non-empty, its Content-Type. `timeout` overrides
  // options.timeout for this call. Errors: see the file comment.
  Result<ClientResponse> Request(std::string_view method,
                                 std::string_view target,
                                 std::string_view body = {},
                                 std::string_view content_type = {},
                                 const Headers& headers = {},
                                 std::optional<std::chrono::milliseconds> timeout = {});

  Result<ClientResponse> Get(std::string_view target) { return Request("GET", target); }
  Result<ClientResponse> Post(std::string_view target,
                              std::string_view body,
                              std::string_view content_type = "application/json") {
    return Request("POST", target, body, content_type);
  }

  const BaseUrl& base_url() const;
  // Connections currently idle in the pool (for tests and metrics).
  std::size_t IdleConnections() const;
  // Connections opened since creation (for tests and metrics).
  std::size_t ConnectionsOpened() const;

 private:
  explicit Client(std::unique_ptr<internal::ClientImpl> impl);
  std::unique_ptr<internal::ClientImpl> impl_;
};

}  // namespace tp::http
