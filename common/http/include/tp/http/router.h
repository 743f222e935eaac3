// Routes requests by method and path pattern to handlers.
//
// Patterns are absolute paths whose segments are literals or "{name}" parameters:
// "/api/v1/gpus/{id}/telemetry". A parameter matches one non-empty segment; its value is
// percent-decoded into Request::path_params (so "%2F" inside an id does not split the
// path). When several patterns match, the one with a literal at the first differing
// segment wins ("/gpus/summary" beats "/gpus/{id}"). Matching is exact: no trailing-slash
// or case folding. An unknown path gets a 404 problem; a known path with another method a
// 405 problem with an Allow header.
//
// Thread-safety: Add* must happen before the router is handed to a Server; afterwards
// the router is immutable and Dispatch may run concurrently.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "tp/http/message.h"
#include "tp/status.h"

namespace tp::http {

// A handler runs on the connection's strand of the server's io_context. It may co_await
// (timers, channels, posts to a partition owner) without blocking other connections, but
// must not block the thread (no fsync, no blocking socket calls). Exceptions become a 500
// problem.
using Handler = std::function<boost::asio::awaitable<Response>(Request)>;
// A plain request -> response function, for handlers that never wait.
using SyncHandler = std::function<Response(const Request&)>;

// Wraps a plain function into a Handler.
Handler Sync(SyncHandler fn);

struct RouteInfo {
  std::string method;
  std::string pattern;
};

class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // InvalidArgument for a malformed pattern (not starting with '/', empty or unbalanced
  // "{}", a parameter named twice) or an empty method; AlreadyExists for a duplicate
  // (method, pattern) or a pattern equal to an existing one up to parameter names.
  Status Add(std::string_view method, std::string_view pattern, Handler handler);
  Status AddSync(std::string_view method, std::string_view pattern, SyncHandler handler);

  struct Match {
    const Handler* handler = nullptr;  // null when status is 404 or 405
    int status = 200;                  // 200, 404 or 405
    std::string pattern;               // the matched pattern (for metrics/logs)
    std::string allow;                 // for 405: "GET, POST"
    std::map<std::string, std::string> params;
  };
  // Finds the route for `method` and the (percent-encoded) `path`.
  Match Resolve(std::string_view method, std::string_view path) const;

  // Resolves `request` (filling path_params) and runs the handler, or answers 404/405
  // problems. Exceptions from the handler propagate (the server turns them into 500s).
  // Usable in tests without sockets. `matched_pattern`, if given, receives the pattern or
  // "unmatched".
  boost::asio::awaitable<Response> Dispatch(Request request,
                                            std::string* matched_pattern = nullptr) const;

  // Registered routes in registration order (for OpenAPI generation, logs).
  std::vector<RouteInfo> Routes() const;

 private:
  struct Route;
  std::vector<Route> routes_;
};

}  // namespace tp::http
