// URL pieces used by the server (query strings, path segments) and the client (base
// URLs).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "tp/status.h"

namespace tp::http {

// Decodes %XX escapes; with `plus_is_space` also '+' -> ' ' (query strings).
// InvalidArgument on a truncated or non-hex escape.
Result<std::string> PercentDecode(std::string_view in, bool plus_is_space);

// Encodes everything but unreserved characters (A-Z a-z 0-9 - . _ ~).
std::string PercentEncode(std::string_view in);

// "a=1&b=x%20y&a=2" -> {a:1, a:2, b:"x y"}; a key without '=' has an empty value; empty
// pieces ("a=1&&b=2") are skipped. InvalidArgument on a bad escape.
Result<std::multimap<std::string, std::string>> ParseQuery(std::string_view query);

// A parsed "http://host:port[/prefix]".
struct BaseUrl {
  std::string host;  // "localhost", "10.0.0.1", "::1" (brackets removed)
  std::uint16_t port = 80;
  std::string prefix;            // "" or "/prefix" without a trailing slash
  std::string HostPort() const;  // "host:port", IPv6 in brackets
};

// Strict: the scheme must be "http" (https is rejected with a message saying so), the
// host must be non-empty, the port (default 80) in 1..65535; no user info, query or
// fragment. InvalidArgument otherwise.
Result<BaseUrl> ParseBaseUrl(std::string_view url);

// "host:port" (IPv6 as "[::1]:8080") for listen addresses; port 0 allowed.
// InvalidArgument if either part is missing or the port is not a number <= 65535.
Result<std::pair<std::string, std::uint16_t>> ParseHostPort(std::string_view text);

}  // namespace tp::http
