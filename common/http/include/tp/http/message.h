// Plain HTTP request/response values shared by the server, the router, the client and
// tests. No Beast type appears here, so handlers and their tests compile cheaply.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tp::http {

// ASCII case-insensitive ordering for header names.
struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

// Header fields; names compare case-insensitively, repeated fields keep their order.
using Headers = std::multimap<std::string, std::string, CaseInsensitiveLess>;

// Returns the first value of header `name`, if present.
std::optional<std::string_view> FindHeader(const Headers& headers, std::string_view name);

struct Request {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // request-target as sent: "/api/v1/gpus/x/telemetry?limit=10"
  std::string path;    // target without the query, still percent-encoded
  // Decoded query parameters ('+' is a space); repeated keys keep their order.
  std::multimap<std::string, std::string> query;
  Headers headers;
  std::string body;
  std::string remote_address;  // "127.0.0.1:40512"; empty when not from a socket
  // Decoded values of the route pattern's {param} segments, filled by the Router.
  std::map<std::string, std::string> path_params;

  std::optional<std::string_view> Header(std::string_view name) const {
    return FindHeader(headers, name);
  }
  // First value of a query parameter.
  std::optional<std::string_view> Query(std::string_view key) const;
  // Every value of a repeated query parameter, in request order.
  std::vector<std::string> QueryAll(std::string_view key) const;
  // The value of a {param} of the matched pattern; empty if the pattern has none.
  std::string_view PathParam(std::string_view name) const;
};

struct Response {
  int status = 200;
  Headers headers;  // extra fields; Content-Type and Content-Length are set from below
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";
  // Close the connection after this response (the server also closes on errors/stop).
  bool close = false;
};

// Builds a Request's path and query from a request-target. Returns false (and leaves the
// request untouched) on a malformed target: not starting with '/', or a bad %-escape in
// the query.
bool ParseTarget(std::string_view target, Request& request);

// A text response.
Response Text(int status, std::string body);

// `body` serialised as application/json.
Response Json(int status, const nlohmann::json& body);

// An RFC 9457 problem (application/problem+json): {"type":"about:blank","title",
// "status","detail"} plus, when given, "field" (the offending input field) and every
// member of `extra` (an object; members named like the standard ones are ignored).
Response Problem(int status,
                 std::string_view title,
                 std::string_view detail,
                 std::string_view field = {});
Response Problem(int status,
                 std::string_view title,
                 std::string_view detail,
                 std::string_view field,
                 const nlohmann::json& extra);

}  // namespace tp::http
