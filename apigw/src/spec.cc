#include "apigw/spec.h"

#include <charconv>
#include <regex>
#include <utility>

namespace tp::apigw {
namespace {

constexpr std::string_view kExampleGpu = "GPU-5fd4f087-86f3-7a43-b711-4771313afc50";
constexpr std::size_t kDefaultMaxLength = 256;

// GPU UUIDs as DCGM prints them ("GPU-5fd4f087-86f3-7a43-b711-4771313afc50"); MIG
// instances ("MIG-...") too. Strict enough that SQL-looking strings never reach a query.
constexpr const char* kGpuIdPattern =
    "^(GPU|MIG)-[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4,12}){1,8}$";
constexpr const char* kMetricPattern = "^[A-Za-z][A-Za-z0-9_]{0,127}$";
constexpr const char* kCursorPattern = "^[A-Za-z0-9_-]{1,512}$";
constexpr const char* kFilePattern = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$";

nlohmann::json ProblemExample(int status,
                              std::string_view title,
                              std::string_view detail,
                              std::string_view field = {}) {
  nlohmann::json j = {
      {"type", "about:blank"}, {"title", title}, {"status", status}, {"detail", detail}};
  if (!field.empty()) {
    j["field"] = field;
  }
  return j;
}

ResponseSpec BadRequest(std::string_view detail, std::string_view field) {
  return {400,
          "Invalid parameter: unknown, missing, malformed or out of range "
          "(application/problem+json naming the field)",
          "application/problem+json",
          "Problem",
          ProblemExample(400, "Bad Request", detail, field)};
}

ResponseSpec NotFoundGpu() {
  return {404,
          "No GPU with this UUID has telemetry",
          "application/problem+json",
          "Problem",
          ProblemExample(
              404, "Not Found", "no GPU GPU-00000000-0000-0000-0000-000000000000")};
}

ResponseSpec Unavailable() {
  return {503,
          "The database is unreachable",
          "application/problem+json",
          "Problem",
          ProblemExample(503, "Service Unavailable", "database unavailable")};
}

ParamSpec GpuIdParam() {
  return {
      .name = "id",
      .in = ParamIn::kPath,
      .required = true,
      .max_length = 128,
      .pattern = kGpuIdPattern,
      .description = "GPU UUID as DCGM reports it (gpu_id alone repeats on every host)",
      .example = std::string(kExampleGpu)};
}

ParamSpec LimitParam() {
  return {.name = "limit",
          .type = ParamType::kInteger,
          .minimum = 1,
          .maximum = 1000,
          .default_value = "100",
          .description = "Page size",
          .example = "100"};
}

ParamSpec CursorParam() {
  return {.name = "cursor",
          .max_length = 512,
          .pattern = kCursorPattern,
          .description =
              "Opaque next_cursor of the previous page; repeat the same "
              "request with it to get the next page",
          .example = "eyJrIjoiZ3B1cyJ9"};
}

ParamSpec TimeParam(std::string name, bool required, std::string description) {
  return {.name = std::move(name),
          .format = "date-time",
          .required = required,
          .max_length = 64,
          .description = std::move(description),
          .example = name == "start_time" ? "2025-07-18T20:42:34Z"
                                          : "2025-07-18T20:42:37+00:00"};
}

ParamSpec MetricParam(std::string description) {
  return {.name = "metric",
          .repeatable = true,
          .max_length = 128,
          .pattern = kMetricPattern,
          .description = std::move(description),
          .example = "DCGM_FI_DEV_GPU_UTIL"};
}

ParamSpec FileParam(std::string description, std::string example) {
  return {.name = "file",
          .in = ParamIn::kPath,
          .required = true,
          .max_length = 128,
          .pattern = kFilePattern,
          .description = std::move(description),
          .example = std::move(example)};
}

// Responses of every static-asset route (Swagger UI, dashboard, uPlot).
std::vector<ResponseSpec> AssetResponses() {
  return {{200, "The file", "application/octet-stream", "", "..."},
          BadRequest("file: does not match the pattern", "file"),
          {404,
           "No such asset",
           "application/problem+json",
           "Problem",
           ProblemExample(404, "Not Found", "no such file")}};
}

const nlohmann::json& GpuExample() {
  static const nlohmann::json j = {
      {"id", kExampleGpu},
      {"hostname", "mtv5-dgx1-hgpu-031"},
      {"gpu_index", 0},
      {"device", "nvidia0"},
      {"model_name", "NVIDIA H100 80GB HBM3"},
      {"first_seen", "2025-07-18T20:42:34.000000Z"},
      {"last_seen", "2025-07-18T20:42:37.000000Z"},
      {"metric_names", {"DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_GPU_UTIL"}}};
  return j;
}

std::vector<RouteSpec> BuildRoutes() {
  std::vector<RouteSpec> routes;
  nlohmann::json point = {{"timestamp", "2025-07-18T20:42:34.000000Z"},
                          {"metric_name", "DCGM_FI_DEV_GPU_UTIL"},
                          {"value", 100.0},
                          {"unit", "%"},
                          {"gpu_id", kExampleGpu},
                          {"hostname", "mtv5-dgx1-hgpu-031"},
                          {"gpu_index", 0},
                          {"device", "nvidia0"},
                          {"model_name", "NVIDIA H100 80GB HBM3"},
                          {"container", nullptr},
                          {"pod", nullptr},
                          {"namespace", nullptr},
                          {"labels", {{"DCGM_FI_DRIVER_VERSION", "535.129.03"}}}};
  nlohmann::json bucket = {{"metric_name", "DCGM_FI_DEV_GPU_TEMP"},
                           {"unit", "C"},
                           {"bucket_start", "2025-07-18T20:42:00.000000Z"},
                           {"min", 33.0},
                           {"avg", 34.25},
                           {"max", 36.0},
                           {"count", 4}};

  routes.push_back(RouteSpec{
      .path = "/api/v1/gpus",
      .operation_id = "listGpus",
      .summary = "GPUs that have telemetry",
      .description = "Every GPU with telemetry, identified by its UUID, ordered by UUID. "
                     "Cursor pagination: repeat the request with cursor=next_cursor.",
      .tag = "telemetry",
      .auth = true,
      .params = {{.name = "hostname",
                  .max_length = 253,
                  .pattern = "^[A-Za-z0-9][A-Za-z0-9._-]*$",
                  .description = "Only GPUs of this host",
                  .example = "mtv5-dgx1-hgpu-031"},
                 {.name = "model",
                  .max_length = 128,
                  .pattern = "^[A-Za-z0-9][A-Za-z0-9 ._()/-]*$",
                  .description = "Only GPUs of this model (exact model_name)",
                  .example = "NVIDIA H100 80GB HBM3"},
                 LimitParam(),
                 CursorParam()},
      .responses = {{200,
                     "A page of GPUs",
                     "application/json",
                     "GpuList",
                     {{"items", {GpuExample()}}, {"next_cursor", nullptr}}},
                    BadRequest("limit: must be <= 1000, got 5000", "limit"),
                    Unavailable()}});

  routes.push_back(
      RouteSpec{.path = "/api/v1/gpus/{id}",
                .operation_id = "getGpu",
                .summary = "One GPU",
                .tag = "telemetry",
                .auth = true,
                .params = {GpuIdParam()},
                .responses = {{200, "The GPU", "application/json", "Gpu", GpuExample()},
                              BadRequest("id: does not match the GPU UUID pattern", "id"),
                              NotFoundGpu(),
                              Unavailable()}});

  routes.push_back(RouteSpec{
      .path = "/api/v1/gpus/{id}/telemetry",
      .operation_id = "getGpuTelemetry",
      .summary = "Datapoints of one GPU in a time window",
      .description =
          "Entries ordered by (time, id); start_time and end_time are inclusive and may "
          "carry any UTC offset; answers are in UTC. Keyset pagination: the cursor "
          "remembers the last entry, so rows inserted meanwhile neither repeat nor shift "
          "entries between pages.",
      .tag = "telemetry",
      .auth = true,
      .params = {GpuIdParam(),
                 TimeParam("start_time", false, "Inclusive lower bound (RFC 3339)"),
                 TimeParam("end_time", false, "Inclusive upper bound (RFC 3339)"),
                 MetricParam("Only these metrics (repeatable)"),
                 {.name = "order",
                  .enum_values = {"asc", "desc"},
                  .default_value = "asc",
                  .description = "Oldest (asc) or newest (desc) first",
                  .example = "asc"},
                 LimitParam(),
                 CursorParam()},
      .responses = {{200,
                     "A page of datapoints",
                     "application/json",
                     "TelemetryList",
                     {{"items", {point}}, {"next_cursor", "eyJrIjoidCJ9"}}},
                    BadRequest("start_time is after end_time", "start_time"),
                    NotFoundGpu(),
                    Unavailable()}});

  routes.push_back(RouteSpec{
      .path = "/api/v1/gpus/{id}/telemetry/summary",
      .operation_id = "getGpuTelemetrySummary",
      .summary = "min/avg/max/count per metric and time bucket",
      .description = "Buckets are aligned to multiples of `bucket` since the Unix epoch "
                     "and labelled by their start. At most 2000 buckets per metric; "
                     "next_cursor is always null.",
      .tag = "telemetry",
      .auth = true,
      .params = {GpuIdParam(),
                 TimeParam("start_time", true, "Inclusive lower bound (RFC 3339)"),
                 TimeParam("end_time", true, "Inclusive upper bound (RFC 3339)"),
                 MetricParam("Only these metrics (repeatable; default every metric)"),
                 {.name = "bucket",
                  .format = "duration",
                  .minimum = 1,
                  .maximum = 86400,
                  .max_length = 16,
                  .pattern = "^[0-9]{1,9}(ms|s|m|h|d)$",
                  .default_value = "60s",
                  .description = "Bucket width: a number with unit ms, s, m, h or d; "
                                 "between 1s and 1d",
                  .example = "60s"}},
      .responses = {{200,
                     "Buckets ordered by metric, then time",
                     "application/json",
                     "SummaryList",
                     {{"items", {bucket}}, {"next_cursor", nullptr}}},
                    BadRequest("bucket: must be at least 1s", "bucket"),
                    NotFoundGpu(),
                    Unavailable()}});

  routes.push_back(
      RouteSpec{.path = "/api/v1/metrics",
                .operation_id = "listMetrics",
                .summary = "Metric names reported by any GPU, with units",
                .tag = "telemetry",
                .auth = true,
                .responses = {{200,
                               "Every metric name",
                               "application/json",
                               "MetricList",
                               {{"items",
                                 {{{"name", "DCGM_FI_DEV_GPU_TEMP"}, {"unit", "C"}},
                                  {{"name", "DCGM_FI_DEV_GPU_UTIL"}, {"unit", "%"}}}},
                                {"next_cursor", nullptr}}},
                              BadRequest("unknown query parameter 'x'", "x"),
                              Unavailable()}});

  routes.push_back(RouteSpec{.path = "/healthz",
                             .operation_id = "healthz",
                             .summary = "Liveness: the process serves HTTP",
                             .tag = "operations",
                             .responses = {{200, "Alive", "text/plain", "", "ok\n"}}});
  routes.push_back(RouteSpec{
      .path = "/readyz",
      .operation_id = "readyz",
      .summary = "Readiness: the database is reachable and its schema current",
      .tag = "operations",
      .responses = {{200, "Ready", "text/plain", "", "ok\n"},
                    {503,
                     "Not ready",
                     "application/problem+json",
                     "Problem",
                     ProblemExample(503, "Not Ready", "schema version 1 is behind 3")}}});
  routes.push_back(RouteSpec{
      .path = "/metrics",
      .operation_id = "metrics",
      .summary = "Prometheus metrics (request counts and latency per route and status)",
      .tag = "operations",
      .responses = {{200,
                     "Prometheus text format 0.0.4",
                     "text/plain",
                     "",
                     "# TYPE http_requests_total counter\n"}}});
  routes.push_back(RouteSpec{
      .path = "/openapi.json",
      .operation_id = "openapi",
      .summary = "This OpenAPI 3 document",
      .tag = "operations",
      .responses = {
          {200, "OpenAPI 3.0.3", "application/json", "", {{"openapi", "3.0.3"}}}}});
  routes.push_back(RouteSpec{
      .path = "/swagger",
      .operation_id = "swaggerUi",
      .summary = "Swagger UI for this API (assets served by the gateway)",
      .tag = "ui",
      .responses = {{200, "HTML page", "text/html", "", "<!doctype html>..."}}});
  routes.push_back(
      RouteSpec{.path = "/swagger/{file}",
                .operation_id = "swaggerAsset",
                .summary = "Swagger UI asset (swagger-ui-dist)",
                .tag = "ui",
                .params = {FileParam("Asset file name", "swagger-ui-bundle.js")},
                .responses = AssetResponses()});
  routes.push_back(RouteSpec{
      .path = "/",
      .operation_id = "dashboard",
      .summary = "Dashboard: GPU list and charts per metric",
      .tag = "ui",
      .responses = {{200, "HTML page", "text/html", "", "<!doctype html>..."}}});
  routes.push_back(RouteSpec{.path = "/static/{file}",
                             .operation_id = "dashboardAsset",
                             .summary = "Dashboard asset",
                             .tag = "ui",
                             .params = {FileParam("Asset file name", "app.js")},
                             .responses = AssetResponses()});
  routes.push_back(
      RouteSpec{.path = "/vendor/uplot/{file}",
                .operation_id = "uplotAsset",
                .summary = "uPlot asset (npm uplot/dist)",
                .tag = "ui",
                .params = {FileParam("Asset file name", "uPlot.iife.min.js")},
                .responses = AssetResponses()});
  for (RouteSpec& r : routes) {
    if (r.auth) {
      r.responses.push_back(
          {401,
           "Missing or wrong bearer token (only when the gateway has one)",
           "application/problem+json",
           "Problem",
           ProblemExample(401, "Unauthorized", "missing or invalid bearer token")});
    }
  }
  return routes;
}

// Compiled patterns of every parameter, built once; read-only afterwards.
const std::map<std::string, std::regex, std::less<>>& Patterns() {
  static const auto* patterns = [] {
    auto* m = new std::map<std::string, std::regex, std::less<>>();
    for (const RouteSpec& r : Routes()) {
      for (const ParamSpec& p : r.params) {
        if (!p.pattern.empty() && !m->contains(p.pattern)) {
          m->emplace(p.pattern, std::regex(p.pattern, std::regex::ECMAScript));
        }
      }
    }
    return m;
  }();
  return *patterns;
}

std::optional<std::int64_t> ParseInt(std::string_view text) {
  std::int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || text.empty() || text[0] == '+') {
    return std::nullopt;
  }
  return v;
}

// An error message for `value` of `p`, or "" when it is valid.
std::string CheckValue(const ParamSpec& p, const std::string& value) {
  if (value.empty()) {
    return "must not be empty";
  }
  const std::size_t max_len = p.max_length.value_or(kDefaultMaxLength);
  if (value.size() > max_len) {
    return "longer than " + std::to_string(max_len) + " characters";
  }
  if (!p.enum_values.empty()) {
    for (const auto& e : p.enum_values) {
      if (e == value) {
        return "";
      }
    }
    std::string allowed;
    for (const auto& e : p.enum_values) {
      allowed += (allowed.empty() ? "" : ", ") + e;
    }
    return "must be one of " + allowed;
  }
  if (!p.pattern.empty()) {
    const auto& patterns = Patterns();
    auto it = patterns.find(p.pattern);
    if (it != patterns.end() && !std::regex_match(value, it->second)) {
      return "does not match the pattern " + p.pattern;
    }
  }
  if (p.type == ParamType::kInteger) {
    auto v = ParseInt(value);
    if (!v) {
      return "not an integer";
    }
    if (p.minimum && *v < *p.minimum) {
      return "must be >= " + std::to_string(*p.minimum) + ", got " + value;
    }
    if (p.maximum && *v > *p.maximum) {
      return "must be <= " + std::to_string(*p.maximum) + ", got " + value;
    }
  }
  if (p.format == "date-time") {
    auto t = telemetry::ParseRfc3339(value);
    if (!t.ok()) {
      return "not an RFC 3339 time (" + t.status().message() + ")";
    }
  }
  if (p.format == "duration") {
    auto d = ParseDurationMicros(value);
    if (!d.ok()) {
      return d.status().message();
    }
    if (p.minimum && *d < *p.minimum * 1'000'000) {
      return "must be at least " + std::to_string(*p.minimum) + "s";
    }
    if (p.maximum && *d > *p.maximum * 1'000'000) {
      return "must be at most " + std::to_string(*p.maximum) + "s";
    }
  }
  return "";
}

http::Response ParamProblem(std::string_view field, std::string_view detail) {
  return http::Problem(
      400, "Bad Request", std::string(field) + ": " + std::string(detail), field);
}

nlohmann::json ParamSchema(const ParamSpec& p) {
  nlohmann::json s = {{"type", p.type == ParamType::kInteger ? "integer" : "string"}};
  if (p.type == ParamType::kInteger) {
    s["format"] = "int64";
    if (p.minimum) {
      s["minimum"] = *p.minimum;
    }
    if (p.maximum) {
      s["maximum"] = *p.maximum;
    }
  } else {
    if (!p.format.empty()) {
      s["format"] = p.format;
    }
    s["maxLength"] = p.max_length.value_or(kDefaultMaxLength);
    s["minLength"] = 1;
    if (p.format == "duration") {
      if (p.minimum) {
        s["x-minimum-seconds"] = *p.minimum;
      }
      if (p.maximum) {
        s["x-maximum-seconds"] = *p.maximum;
      }
    }
  }
  if (!p.pattern.empty()) {
    s["pattern"] = p.pattern;
  }
  if (!p.enum_values.empty()) {
    s["enum"] = p.enum_values;
  }
  if (p.default_value) {
    if (p.type == ParamType::kInteger) {
      s["default"] = ParseInt(*p.default_value).value_or(0);
    } else {
      s["default"] = *p.default_value;
    }
  }
  return s;
}

nlohmann::json Schemas() {
  const nlohmann::json nullable_string = {{"type", "string"}, {"nullable", true}};
  const nlohmann::json time = {{"type", "string"}, {"format", "date-time"}};
  auto list_of = [](const std::string& item) {
    return nlohmann::json{
        {"type", "object"},
        {"required", {"items", "next_cursor"}},
        {"properties",
         {{"items",
           {{"type", "array"}, {"items", {{"$ref", "#/components/schemas/" + item}}}}},
          {"next_cursor",
           {{"type", "string"},
            {"nullable", true},
            {"description", "Opaque; null on the last page"}}}}}};
  };
  nlohmann::json s;
  s["Problem"] = {
      {"type", "object"},
      {"description", "RFC 9457 problem details"},
      {"required", {"type", "title", "status"}},
      {"properties",
       {{"type", {{"type", "string"}}},
        {"title", {{"type", "string"}}},
        {"status", {{"type", "integer"}}},
        {"detail", {{"type", "string"}}},
        {"field", {{"type", "string"}, {"description", "offending parameter"}}}}}};
  s["Gpu"] = {{"type", "object"},
              {"required",
               {"id",
                "hostname",
                "gpu_index",
                "device",
                "model_name",
                "first_seen",
                "last_seen",
                "metric_names"}},
              {"properties",
               {{"id", {{"type", "string"}, {"description", "GPU UUID"}}},
                {"hostname", {{"type", "string"}}},
                {"gpu_index", {{"type", "integer"}}},
                {"device", {{"type", "string"}}},
                {"model_name", {{"type", "string"}}},
                {"first_seen", time},
                {"last_seen", time},
                {"metric_names", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}};
  s["TelemetryPoint"] = {
      {"type", "object"},
      {"required", {"timestamp", "metric_name", "value", "gpu_id"}},
      {"properties",
       {{"timestamp", time},
        {"metric_name", {{"type", "string"}}},
        {"value",
         {{"type", "number"},
          {"nullable", true},
          {"description", "null when DCGM reported no data"}}},
        {"unit", {{"type", "string"}}},
        {"gpu_id", {{"type", "string"}}},
        {"hostname", {{"type", "string"}}},
        {"gpu_index", {{"type", "integer"}}},
        {"device", {{"type", "string"}}},
        {"model_name", {{"type", "string"}}},
        {"container", nullable_string},
        {"pod", nullable_string},
        {"namespace", nullable_string},
        {"labels",
         {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}}}}};
  s["SummaryBucket"] = {
      {"type", "object"},
      {"required", {"metric_name", "bucket_start", "count"}},
      {"properties",
       {{"metric_name", {{"type", "string"}}},
        {"unit", {{"type", "string"}}},
        {"bucket_start", time},
        {"min", {{"type", "number"}, {"nullable", true}}},
        {"avg", {{"type", "number"}, {"nullable", true}}},
        {"max", {{"type", "number"}, {"nullable", true}}},
        {"count", {{"type", "integer"}, {"description", "datapoints with a value"}}}}}};
  s["Metric"] = {
      {"type", "object"},
      {"required", {"name", "unit"}},
      {"properties", {{"name", {{"type", "string"}}}, {"unit", {{"type", "string"}}}}}};
  s["GpuList"] = list_of("Gpu");
  s["TelemetryList"] = list_of("TelemetryPoint");
  s["SummaryList"] = list_of("SummaryBucket");
  s["MetricList"] = list_of("Metric");
  return s;
}

}  // namespace

const std::vector<RouteSpec>& Routes() {
  static const std::vector<RouteSpec> routes = BuildRoutes();
  return routes;
}

const RouteSpec* FindRoute(std::string_view method, std::string_view pattern) {
  for (const RouteSpec& r : Routes()) {
    if (r.method == method && r.path == pattern) {
      return &r;
    }
  }
  return nullptr;
}

bool Params::Has(std::string_view name) const {
  auto it = values.find(name);
  return it != values.end() && !it->second.empty();
}

const std::string& Params::Get(std::string_view name) const {
  static const std::string empty;
  auto it = values.find(name);
  return it == values.end() || it->second.empty() ? empty : it->second.front();
}

const std::vector<std::string>& Params::All(std::string_view name) const {
  static const std::vector<std::string> empty;
  auto it = values.find(name);
  return it == values.end() ? empty : it->second;
}

std::int64_t Params::Int(std::string_view name) const {
  return ParseInt(Get(name)).value_or(0);
}

telemetry::Timestamp Params::Time(std::string_view name) const {
  return telemetry::ParseRfc3339(Get(name)).ValueOr(telemetry::Timestamp{});
}

std::int64_t Params::DurationMicros(std::string_view name) const {
  return ParseDurationMicros(Get(name)).ValueOr(0);
}

Result<std::int64_t> ParseDurationMicros(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0 || digits > 9) {
    return Status::InvalidArgument("duration must be a number with a unit (60s, 5m, 1h)");
  }
  const std::int64_t n = ParseInt(text.substr(0, digits)).value_or(0);
  const std::string_view unit = text.substr(digits);
  std::int64_t scale = 0;
  if (unit == "ms") {
    scale = 1000;
  } else if (unit == "s") {
    scale = 1'000'000;
  } else if (unit == "m") {
    scale = 60'000'000;
  } else if (unit == "h") {
    scale = 3'600'000'000;
  } else if (unit == "d") {
    scale = 86'400'000'000;
  } else {
    return Status::InvalidArgument("duration unit must be ms, s, m, h or d");
  }
  return n * scale;
}

Validated ValidateRequest(const RouteSpec& route, const http::Request& request) {
  Validated out;
  // Unknown query parameters are errors: a misspelt filter must not silently widen a
  // query to everything.
  for (const auto& [key, value] : request.query) {
    bool known = false;
    for (const ParamSpec& p : route.params) {
      known = known || (p.in == ParamIn::kQuery && p.name == key);
    }
    if (!known) {
      out.problem = ParamProblem(key, "unknown query parameter");
      return out;
    }
  }
  Params params;
  for (const ParamSpec& p : route.params) {
    std::vector<std::string> values;
    if (p.in == ParamIn::kPath) {
      auto it = request.path_params.find(p.name);
      if (it != request.path_params.end()) {
        values.push_back(it->second);
      }
    } else {
      values = request.QueryAll(p.name);
    }
    if (values.empty()) {
      if (p.required) {
        out.problem = ParamProblem(p.name, "required parameter is missing");
        return out;
      }
      if (p.default_value) {
        values.push_back(*p.default_value);
      }
    }
    if (values.size() > 1 && !p.repeatable) {
      out.problem = ParamProblem(p.name, "given more than once");
      return out;
    }
    if (values.size() > 64) {
      out.problem = ParamProblem(p.name, "given more than 64 times");
      return out;
    }
    for (const std::string& v : values) {
      std::string error = CheckValue(p, v);
      if (!error.empty()) {
        out.problem = ParamProblem(p.name, error);
        return out;
      }
    }
    params.values.emplace(p.name, std::move(values));
  }
  out.params = std::move(params);
  return out;
}

nlohmann::json OpenApiDocument(std::string_view server_url) {
  nlohmann::json doc;
  doc["openapi"] = "3.0.3";
  doc["info"] = {
      {"title", "GPU telemetry API"},
      {"version", "1.0.0"},
      {"description",
       "Query GPU telemetry stored by the pipeline's collectors. List answers share one "
       "envelope {items, next_cursor}; errors are RFC 9457 application/problem+json; "
       "unknown query parameters are rejected with 400."}};
  if (!server_url.empty()) {
    doc["servers"] = {{{"url", server_url}}};
  }
  doc["tags"] = {{{"name", "telemetry"}, {"description", "GPUs and their datapoints"}},
                 {{"name", "operations"}, {"description", "Health, readiness, metrics"}},
                 {{"name", "ui"}, {"description", "Dashboard and Swagger UI"}}};
  nlohmann::json paths = nlohmann::json::object();
  for (const RouteSpec& r : Routes()) {
    nlohmann::json op;
    op["operationId"] = r.operation_id;
    op["summary"] = r.summary;
    if (!r.description.empty()) {
      op["description"] = r.description;
    }
    op["tags"] = {r.tag};
    if (r.auth) {
      op["security"] = {{{"bearerAuth", nlohmann::json::array()}}};
    } else {
      op["security"] = nlohmann::json::array();
    }
    nlohmann::json params = nlohmann::json::array();
    for (const ParamSpec& p : r.params) {
      nlohmann::json param = {{"name", p.name},
                              {"in", p.in == ParamIn::kPath ? "path" : "query"},
                              {"required", p.required || p.in == ParamIn::kPath},
                              {"description", p.description}};
      if (p.repeatable) {
        param["schema"] = {
            {"type", "array"}, {"items", ParamSchema(p)}, {"maxItems", 64}};
        param["style"] = "form";
        param["explode"] = true;
        param["example"] = {p.example};
      } else {
        param["schema"] = ParamSchema(p);
        if (p.type == ParamType::kInteger) {
          param["example"] = ParseInt(p.example).value_or(0);
        } else {
          param["example"] = p.example;
        }
      }
      params.push_back(std::move(param));
    }
    if (!params.empty()) {
      op["parameters"] = std::move(params);
    }
    nlohmann::json responses = nlohmann::json::object();
    for (const ResponseSpec& resp : r.responses) {
      nlohmann::json media = nlohmann::json::object();
      if (!resp.schema.empty()) {
        media["schema"] = {{"$ref", "#/components/schemas/" + resp.schema}};
      } else if (resp.content_type == "application/json") {
        media["schema"] = {{"type", "object"}};
      } else {
        media["schema"] = {{"type", "string"}};
      }
      if (!resp.example.is_null()) {
        media["example"] = resp.example;
      }
      responses[std::to_string(resp.status)] = {
          {"description", resp.description},
          {"content", {{resp.content_type, std::move(media)}}}};
    }
    op["responses"] = std::move(responses);
    std::string method = r.method;
    for (char& c : method) {
      if (c >= 'A' && c <= 'Z') {
        c = static_cast<char>(c - 'A' + 'a');
      }
    }
    paths[r.path][method] = std::move(op);
  }
  doc["paths"] = std::move(paths);
  doc["components"] = {
      {"schemas", Schemas()},
      {"securitySchemes",
       {{"bearerAuth",
         {{"type", "http"},
          {"scheme", "bearer"},
          {"description",
           "Only when apigw runs with --auth-token or --auth-token-file"}}}}}};
  return doc;
}

}  // namespace tp::apigw
