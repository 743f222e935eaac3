// The route table of the API gateway: the one source of truth for what the server
// accepts and what /openapi.json documents.
//
// Every route the gateway serves is a RouteSpec: method, path pattern, parameters (name,
// location, type, format, required, bounds, enum, pattern, repeatable, description,
// example) and responses with examples. Two readers use the same table:
//   - ValidateRequest() checks a request against its route before the handler runs:
//     unknown query parameters, missing required ones, repeated single-valued ones, type,
//     format (date-time, duration), bounds, length, enum and pattern violations are 400
//     problems naming the parameter. Handlers only read values that passed.
//   - OpenApiDocument() renders the table as an OpenAPI 3.0 document.
// So a constraint documented in the spec is a constraint enforced, and the other way
// round (tests/apigw/openapi_test.cc walks the table to prove it).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tp/http/message.h"
#include "tp/status.h"
#include "tp/telemetry/time.h"

namespace tp::apigw {

enum class ParamIn { kPath, kQuery };
enum class ParamType { kString, kInteger };

struct ParamSpec {
  std::string name;
  ParamIn in = ParamIn::kQuery;
  ParamType type = ParamType::kString;
  // "date-time" (RFC 3339, any offset), "duration" ("60s", "5m", "1h"), "" for none.
  std::string format;
  bool required = false;
  bool repeatable = false;              // ?metric=a&metric=b
  std::optional<std::int64_t> minimum;  // integers: value; durations: seconds
  std::optional<std::int64_t> maximum;
  std::optional<std::size_t> max_length;  // strings
  std::string pattern;                    // ECMA regex the whole value must match
  std::vector<std::string> enum_values;
  std::optional<std::string> default_value;
  std::string description;
  std::string example;
};

struct ResponseSpec {
  int status = 200;
  std::string description;
  // "application/json", "application/problem+json", "text/plain", "text/html", ...
  std::string content_type = "application/json";
  // Name of a schema under components.schemas, or empty.
  std::string schema;
  nlohmann::json example;  // null: none (binary/static content)
};

struct RouteSpec {
  std::string method = "GET";
  std::string path;  // router pattern, "/api/v1/gpus/{id}/telemetry"
  std::string operation_id;
  std::string summary;
  std::string description;
  std::string tag;
  bool auth = false;  // needs the bearer token when one is configured
  std::vector<ParamSpec> params;
  std::vector<ResponseSpec> responses;
};

// The gateway's routes, in registration order.
const std::vector<RouteSpec>& Routes();

// The RouteSpec for (method, pattern); null if none.
const RouteSpec* FindRoute(std::string_view method, std::string_view pattern);

// Parameter values that passed ValidateRequest, by name, in request order.
class Params {
 public:
  bool Has(std::string_view name) const;
  // The single value, or the default, or "" when absent.
  const std::string& Get(std::string_view name) const;
  const std::vector<std::string>& All(std::string_view name) const;
  // For integer parameters (validated) and date-time parameters (validated).
  std::int64_t Int(std::string_view name) const;
  telemetry::Timestamp Time(std::string_view name) const;
  // For duration parameters, in microseconds.
  std::int64_t DurationMicros(std::string_view name) const;

  std::map<std::string, std::vector<std::string>, std::less<>> values;
};

// Checks `request` (whose path_params the router filled) against `route`, see the file
// comment. Returns the values with defaults applied, or a 400 problem whose "field" names
// the first offending parameter.
struct Validated {
  std::optional<Params> params;
  std::optional<http::Response> problem;
};
Validated ValidateRequest(const RouteSpec& route, const http::Request& request);

// "60s", "500ms", "5m", "2h", "1d" -> microseconds. InvalidArgument otherwise.
Result<std::int64_t> ParseDurationMicros(std::string_view text);

// The OpenAPI 3.0.3 document for Routes(). `server_url` goes into "servers" when set.
nlohmann::json OpenApiDocument(std::string_view server_url = {});

}  // namespace tp::apigw
