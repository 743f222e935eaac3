#include "apigw/gateway.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "cursor.h"
#include "static_files.h"
#include "tp/json_scan.h"
#include "tp/log.h"
#include "tp/metrics/metrics.h"
#include "tp/migrate/migrate.h"
#include "tp/pg/error.h"
#include "tp/pg/pool.h"
#include "tp/telemetry/time.h"
#include "tp/telemetry/units.h"
#include "tp/uuid.h"

namespace tp::apigw {
namespace {

using http::Problem;
using http::Request;
using http::Response;
using telemetry::FormatRfc3339;
using telemetry::Timestamp;

constexpr std::int64_t kMaxSummaryBuckets = 2000;

// ts as integer microseconds since the epoch: exact (extract() is numeric since PG 14).
constexpr const char* kTsMicros = "(extract(epoch FROM ts) * 1000000)::int8";

Timestamp FromMicros(std::int64_t us) {
  return Timestamp(std::chrono::microseconds(us));
}

std::string TimeParamOr(const Params& params,
                        std::string_view name,
                        const char* fallback) {
  if (!params.Has(name)) {
    return fallback;
  }
  return FormatRfc3339(params.Time(name));
}

// '{a,b}': metric names passed validation (letters, digits, underscore), so they need no
// quoting inside an array literal.
std::string ArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    out += (i ? "," : "") + values[i];
  }
  return out + "}";
}

std::vector<std::string> SortedUnique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// Appends `s` as a JSON string literal. PostgreSQL text is valid UTF-8 (the database
// encoding), so only quotes, backslashes and control characters need escaping.
void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  json_scan::AppendEscaped(&out, s);
  out.push_back('"');
}

// A double column as a JSON number (shortest round-trip form); NULL, NaN and infinities
// (which JSON cannot carry) as null.
void AppendJsonNumber(std::string& out, const pqxx::field& f) {
  if (f.is_null()) {
    out += "null";
    return;
  }
  const double v = f.as<double>();
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, ec == std::errc() ? end : buf);
}

void AppendJsonText(std::string& out, const pqxx::field& f) {
  if (f.is_null()) {
    out += "null";
  } else {
    AppendJsonString(out, f.c_str());
  }
}

// Name and SQL of the telemetry page query for one combination of options. Each
// combination is its own prepared statement so that every plan is an index range scan
// with no "$x IS NULL OR ..." predicates that defeat the index.
struct Statement {
  std::string name;
  std::string sql;
};

enum class MetricFilter { kNone, kOne, kMany };

Statement TelemetryStatement(bool desc, MetricFilter metrics, bool cursor) {
  std::string name = std::string("apigw_telemetry_") + (desc ? "desc" : "asc") +
                     (metrics == MetricFilter::kNone  ? "_all"
                      : metrics == MetricFilter::kOne ? "_one"
                                                      : "_many") +
                     (cursor ? "_cursor" : "");
  std::string sql =
      std::string("SELECT ") + kTsMicros +
      ", msg_uuid::text AS msg_id, metric_name, value, hostname, gpu_index, device, "
      "model_name, container, pod, namespace, labels::text "
      "FROM telemetry WHERE gpu_uuid = $1 AND ts >= $2::timestamptz "
      "AND ts <= $3::timestamptz";
  int next = 4;
  if (metrics == MetricFilter::kOne) {
    sql += " AND metric_name = $" + std::to_string(next++);
  } else if (metrics == MetricFilter::kMany) {
    sql += " AND metric_name = ANY($" + std::to_string(next++) + "::text[])";
  }
  if (cursor) {
    sql += std::string(" AND (ts, msg_uuid) ") + (desc ? "<" : ">") + " ($" +
           std::to_string(next) + "::timestamptz, $" + std::to_string(next + 1) +
           "::uuid)";
    next += 2;
  }
  // Qualified: an output column named like an input one would win in ORDER BY.
  sql += desc ? " ORDER BY telemetry.ts DESC, telemetry.msg_uuid DESC"
              : " ORDER BY telemetry.ts, telemetry.msg_uuid";
  sql += " LIMIT $" + std::to_string(next) + "::int8";
  return {std::move(name), std::move(sql)};
}

const Statement kGpuList{
    "apigw_gpus",
    std::string("SELECT gpu_uuid, hostname, gpu_index, device, model_name, ") +
        "(extract(epoch FROM first_seen) * 1000000)::int8, "
        "(extract(epoch FROM last_seen) * 1000000)::int8, "
        "array_to_json(metric_names)::text FROM gpus "
        "WHERE gpu_uuid > $1 AND ($2 = '' OR hostname = $2) "
        "AND ($3 = '' OR model_name = $3) ORDER BY gpu_uuid LIMIT $4::int8"};
const Statement kGpuOne{
    "apigw_gpu",
    std::string("SELECT gpu_uuid, hostname, gpu_index, device, model_name, ") +
        "(extract(epoch FROM first_seen) * 1000000)::int8, "
        "(extract(epoch FROM last_seen) * 1000000)::int8, "
        "array_to_json(metric_names)::text FROM gpus WHERE gpu_uuid = $1"};
const Statement kGpuExists{"apigw_gpu_exists", "SELECT 1 FROM gpus WHERE gpu_uuid = $1"};
const Statement kMetrics{
    "apigw_metrics", "SELECT DISTINCT m FROM gpus, unnest(metric_names) AS m ORDER BY m"};

Statement SummaryStatement(bool filtered) {
  std::string sql =
      "SELECT metric_name, (extract(epoch FROM date_bin($4::interval, ts, "
      "TIMESTAMPTZ 'epoch')) * 1000000)::int8 AS bucket, min(value), avg(value), "
      "max(value), count(value) FROM telemetry WHERE gpu_uuid = $1 "
      "AND ts >= $2::timestamptz AND ts <= $3::timestamptz";
  if (filtered) {
    sql += " AND metric_name = ANY($5::text[])";
  }
  sql += " GROUP BY metric_name, bucket ORDER BY metric_name, bucket";
  return {filtered ? "apigw_summary_filtered" : "apigw_summary", std::move(sql)};
}

nlohmann::json GpuJson(const pqxx::row& row) {
  return {{"id", row[0].c_str()},
          {"hostname", row[1].c_str()},
          {"gpu_index", row[2].as<int>()},
          {"device", row[3].c_str()},
          {"model_name", row[4].c_str()},
          {"first_seen", FormatRfc3339(FromMicros(row[5].as<std::int64_t>()))},
          {"last_seen", FormatRfc3339(FromMicros(row[6].as<std::int64_t>()))},
          {"metric_names", nlohmann::json::parse(row[7].c_str())}};
}

nlohmann::json Envelope(nlohmann::json items, const std::optional<std::string>& next) {
  return {{"items", std::move(items)},
          {"next_cursor", next ? nlohmann::json(*next) : nlohmann::json(nullptr)}};
}

Response GpuNotFound(std::string_view id) {
  return Problem(404, "Not Found", "no GPU " + std::string(id), "id");
}

// An empty answer is either an empty window or an unknown GPU; only the latter is a 404.
bool GpuExists(pqxx::transaction_base& tx, const std::string& id) {
  return !tx.exec_prepared(kGpuExists.name, id).empty();
}

}  // namespace

bool ConstantTimeEquals(std::string_view given, std::string_view expected) {
  // Walk `expected` in full whatever `given` is, so timing reveals neither the position
  // of the first difference nor a prefix match.
  unsigned diff = given.size() == expected.size() ? 0U : 1U;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i])
                                             : static_cast<unsigned char>(0);
    diff |= g ^ static_cast<unsigned char>(expected[i]);
  }
  return diff == 0 && !expected.empty();
}

std::string TelemetryQuerySql(bool desc, std::size_t metric_count, bool with_cursor) {
  const MetricFilter filter = metric_count == 0   ? MetricFilter::kNone
                              : metric_count == 1 ? MetricFilter::kOne
                                                  : MetricFilter::kMany;
  return TelemetryStatement(desc, filter, with_cursor).sql;
}

struct Gateway::Impl {
  GatewayOptions options;
  std::shared_ptr<pg::ConnectionPool> pool;
  std::string openapi;
  boost::asio::thread_pool workers;
  std::shared_ptr<spdlog::logger> log = Logger("apigw");
  metrics::Registry* registry = nullptr;
  metrics::Counter* db_errors = nullptr;

  explicit Impl(GatewayOptions o)
      : options(std::move(o)),
        workers(std::max<std::size_t>(1, options.worker_threads)) {}

  // Runs `fn(connection)` on a pooled connection, preparing `statements` first, and
  // maps failures to problems. A connection that failed with kUnavailable is discarded
  // and the call retried once on a fresh one (the server may have restarted).
  template <typename Fn>
  Response WithConnection(std::string_view what,
                          const std::vector<const Statement*>& statements,
                          Fn&& fn) {
    Status last;
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto conn = pool->Acquire();
      if (!conn.ok()) {
        last = conn.status();
        break;
      }
      std::optional<Response> answer;
      Status s = pg::Call(what, [&] {
        for (const Statement* st : statements) {
          // libpqxx 6.4 prepares lazily and ignores a repeated identical definition.
          (*conn)->prepare(st->name, st->sql);
        }
        answer = fn(conn->get());
      });
      if (s.ok()) {
        return std::move(*answer);
      }
      last = s;
      if (s.code() == StatusCode::kUnavailable) {
        conn->Discard();
        continue;
      }
      break;
    }
    if (db_errors != nullptr) {
      db_errors->Inc();
    }
    SPDLOG_LOGGER_WARN(log, "{} failed: {}", what, last.ToString());
    if (last.code() == StatusCode::kUnavailable || last.code() == StatusCode::kTimeout) {
      return Problem(503, "Service Unavailable", "database unavailable or too slow");
    }
    return Problem(500, "Internal Server Error", "the query failed");
  }

  Response ListGpus(const Params& p) {
    const std::int64_t limit = p.Int("limit");
    std::string after;
    if (p.Has("cursor")) {
      auto c = DecodeGpuCursor(p.Get("cursor"));
      if (!c.ok()) {
        return Problem(400, "Bad Request", "cursor: " + c.status().message(), "cursor");
      }
      after = *c;
    }
    return WithConnection("list gpus", {&kGpuList}, [&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      pqxx::result r = tx.exec_prepared(
          kGpuList.name, after, p.Get("hostname"), p.Get("model"), limit + 1);
      nlohmann::json items = nlohmann::json::array();
      std::optional<std::string> next;
      for (std::size_t i = 0; i < r.size(); ++i) {
        if (static_cast<std::int64_t>(i) == limit) {
          next = EncodeGpuCursor(r[limit - 1][0].c_str());
          break;
        }
        items.push_back(GpuJson(r[i]));
      }
      return http::Json(200, Envelope(std::move(items), next));
    });
  }

  Response GetGpu(const Params& p) {
    const std::string& id = p.Get("id");
    return WithConnection("get gpu", {&kGpuOne}, [&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      pqxx::result r = tx.exec_prepared(kGpuOne.name, id);
      if (r.empty()) {
        return GpuNotFound(id);
      }
      return http::Json(200, GpuJson(r[0]));
    });
  }

  Response Telemetry(const Params& p) {
    const std::string& id = p.Get("id");
    const bool desc = p.Get("order") == "desc";
    if (p.Has("start_time") && p.Has("end_time") &&
        p.Time("start_time") > p.Time("end_time")) {
      return Problem(400, "Bad Request", "start_time is after end_time", "start_time");
    }
    std::optional<TelemetryCursor> cursor;
    if (p.Has("cursor")) {
      auto c = DecodeTelemetryCursor(p.Get("cursor"));
      if (!c.ok()) {
        return Problem(400, "Bad Request", "cursor: " + c.status().message(), "cursor");
      }
      if (c->gpu != id || c->desc != desc) {
        return Problem(400,
                       "Bad Request",
                       "cursor: belongs to another GPU or order; repeat the request that "
                       "returned it",
                       "cursor");
      }
      cursor = *c;
    }
    const std::vector<std::string> metrics = SortedUnique(p.All("metric"));
    const MetricFilter filter = metrics.empty()       ? MetricFilter::kNone
                                : metrics.size() == 1 ? MetricFilter::kOne
                                                      : MetricFilter::kMany;
    const Statement st = TelemetryStatement(desc, filter, cursor.has_value());
    const std::int64_t limit = p.Int("limit");
    std::vector<std::string> args = {id,
                                     TimeParamOr(p, "start_time", "-infinity"),
                                     TimeParamOr(p, "end_time", "infinity")};
    if (filter == MetricFilter::kOne) {
      args.push_back(metrics[0]);
    } else if (filter == MetricFilter::kMany) {
      args.push_back(ArrayLiteral(metrics));
    }
    if (cursor) {
      args.push_back(FormatRfc3339(FromMicros(cursor->ts_micros)));
      args.push_back(cursor->msg_uuid);
    }
    args.push_back(std::to_string(limit + 1));
    return WithConnection(
        "query telemetry", {&st, &kGpuExists}, [&](pqxx::connection& c) {
          pqxx::nontransaction tx(c);
          pqxx::result r =
              tx.exec_prepared(st.name, pqxx::prepare::make_dynamic_params(args));
          if (r.empty() && !GpuExists(tx, id)) {
            return GpuNotFound(id);
          }
          // Written directly rather than through nlohmann::json objects: a 300-row
          // page took ~2.5 ms to build as objects, most of the handler's time.
          std::string body = "{\"items\":[";
          body.reserve(r.size() * 400 + 64);
          std::optional<std::string> next;
          for (std::size_t i = 0; i < r.size(); ++i) {
            if (static_cast<std::int64_t>(i) == limit) {
              const pqxx::row last = r[limit - 1];
              next = EncodeTelemetryCursor(
                  {id, desc, last[0].as<std::int64_t>(), last[1].c_str()});
              break;
            }
            const pqxx::row row = r[i];
            const std::string_view metric = row[2].c_str();
            body += i == 0 ? "{\"timestamp\":" : ",{\"timestamp\":";
            AppendJsonString(body, FormatRfc3339(FromMicros(row[0].as<std::int64_t>())));
            body += ",\"metric_name\":";
            AppendJsonString(body, metric);
            body += ",\"value\":";
            AppendJsonNumber(body, row[3]);
            body += ",\"unit\":";
            AppendJsonString(body, telemetry::MetricUnit(metric));
            body += ",\"gpu_id\":";
            AppendJsonString(body, id);
            body += ",\"hostname\":";
            AppendJsonString(body, row[4].c_str());
            body += ",\"gpu_index\":";
            body += row[5].c_str();  // integer column: digits only
            body += ",\"device\":";
            AppendJsonString(body, row[6].c_str());
            body += ",\"model_name\":";
            AppendJsonString(body, row[7].c_str());
            body += ",\"container\":";
            AppendJsonText(body, row[8]);
            body += ",\"pod\":";
            AppendJsonText(body, row[9]);
            body += ",\"namespace\":";
            AppendJsonText(body, row[10]);
            body += ",\"labels\":";
            // jsonb's text form is valid JSON.
            body += row[11].is_null() ? "{}" : row[11].c_str();
            body += '}';
          }
          body += "],\"next_cursor\":";
          if (next) {
            AppendJsonString(body, *next);
          } else {
            body += "null";
          }
          body += '}';
          Response resp;
          resp.status = 200;
          resp.content_type = "application/json";
          resp.body = std::move(body);
          return resp;
        });
  }

  Response Summary(const Params& p) {
    const std::string& id = p.Get("id");
    const Timestamp start = p.Time("start_time");
    const Timestamp end = p.Time("end_time");
    if (start > end) {
      return Problem(400, "Bad Request", "start_time is after end_time", "start_time");
    }
    const std::int64_t bucket = p.DurationMicros("bucket");
    const std::int64_t span = (end - start).count();
    if (span / bucket + 1 > kMaxSummaryBuckets) {
      return Problem(400,
                     "Bad Request",
                     "bucket: the window would need more than " +
                         std::to_string(kMaxSummaryBuckets) +
                         " buckets; choose a wider bucket or a shorter window",
                     "bucket");
    }
    const std::vector<std::string> metrics = SortedUnique(p.All("metric"));
    const Statement st = SummaryStatement(!metrics.empty());
    std::vector<std::string> args = {id,
                                     FormatRfc3339(start),
                                     FormatRfc3339(end),
                                     std::to_string(bucket) + " microseconds"};
    if (!metrics.empty()) {
      args.push_back(ArrayLiteral(metrics));
    }
    return WithConnection(
        "summarize telemetry", {&st, &kGpuExists}, [&](pqxx::connection& c) {
          pqxx::nontransaction tx(c);
          pqxx::result r =
              tx.exec_prepared(st.name, pqxx::prepare::make_dynamic_params(args));
          if (r.empty() && !GpuExists(tx, id)) {
            return GpuNotFound(id);
          }
          nlohmann::json items = nlohmann::json::array();
          for (const pqxx::row row : r) {
            const std::string_view metric = row[0].c_str();
            auto number = [](const pqxx::field& f) {
              return f.is_null() ? nlohmann::json(nullptr)
                                 : nlohmann::json(f.as<double>());
            };
            items.push_back(
                {{"metric_name", metric},
                 {"unit", telemetry::MetricUnit(metric)},
                 {"bucket_start", FormatRfc3339(FromMicros(row[1].as<std::int64_t>()))},
                 {"min", number(row[2])},
                 {"avg", number(row[3])},
                 {"max", number(row[4])},
                 {"count", row[5].as<std::int64_t>()}});
          }
          return http::Json(200, Envelope(std::move(items), std::nullopt));
        });
  }

  Response ListMetrics() {
    return WithConnection("list metrics", {&kMetrics}, [&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      pqxx::result r = tx.exec_prepared(kMetrics.name);
      nlohmann::json items = nlohmann::json::array();
      for (const pqxx::row row : r) {
        const std::string_view name = row[0].c_str();
        items.push_back({{"name", name}, {"unit", telemetry::MetricUnit(name)}});
      }
      return http::Json(200, Envelope(std::move(items), std::nullopt));
    });
  }

  Status CheckReady() {
    TP_ASSIGN_OR_RETURN(auto conn, pool->Acquire(options.acquire_timeout));
    Status s = pg::Call("readiness", [&] {
      migrate::Migrator migrator(conn.get(), migrate::EmbeddedMigrations());
      return migrator.CheckCurrent();
    });
    if (s.code() == StatusCode::kUnavailable) {
      conn.Discard();
    }
    return s;
  }

  Response Readyz() {
    Status s = CheckReady();
    if (!s.ok()) {
      return Problem(503, "Not Ready", s.message());
    }
    return http::Text(200, "ok\n");
  }

  Response Authorize(const Request& request) const {
    auto header = request.Header("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (header && header->size() > kBearer.size()) {
      std::string scheme(header->substr(0, kBearer.size()));
      std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char ch) {
        return static_cast<char>(std::tolower(ch));
      });
      if (scheme == "bearer " &&
          ConstantTimeEquals(header->substr(kBearer.size()), options.auth_token)) {
        return Response{.status = 0};
      }
    }
    Response r = Problem(401, "Unauthorized", "missing or invalid bearer token");
    r.headers.emplace("WWW-Authenticate", "Bearer realm=\"apigw\"");
    return r;
  }
};

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Gateway::~Gateway() {
  impl_->workers.join();
}

Result<std::unique_ptr<Gateway>> Gateway::Create(GatewayOptions options,
                                                 metrics::Registry* registry) {
  if (options.pool_size == 0) {
    return Status::InvalidArgument("pool size must be at least 1");
  }
  TP_ASSIGN_OR_RETURN(
      std::string conninfo,
      pg::NormalizeConnectionString(options.database_url,
                                    pg::ConnectOptions{.application_name = "apigw"}));
  if (conninfo.find("options=") == std::string::npos &&
      options.statement_timeout.count() > 0) {
    conninfo += " options='-c statement_timeout=" +
                std::to_string(options.statement_timeout.count()) + "'";
  }
  pg::PoolOptions pool_options;
  pool_options.conninfo = conninfo;
  pool_options.max_size = options.pool_size;
  pool_options.acquire_timeout = options.acquire_timeout;
  pool_options.connect.application_name = "apigw";
  auto impl = std::make_unique<Impl>(std::move(options));
  TP_ASSIGN_OR_RETURN(impl->pool, pg::ConnectionPool::Create(std::move(pool_options)));
  impl->openapi = OpenApiDocument().dump(2);
  impl->registry = registry;
  if (registry != nullptr) {
    impl->db_errors = &registry->AddCounter("apigw_database_errors_total",
                                            "Queries that failed (503/500 answers)");
  }
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

const std::string& Gateway::openapi_json() const {
  return impl_->openapi;
}

Status Gateway::CheckReady() {
  return impl_->CheckReady();
}

Response Gateway::Handle(const RouteSpec& route, const Request& request) {
  Impl& g = *impl_;
  if (route.auth && !g.options.auth_token.empty()) {
    Response denied = g.Authorize(request);
    if (denied.status != 0) {
      return denied;
    }
  }
  Validated v = ValidateRequest(route, request);
  if (v.problem) {
    return std::move(*v.problem);
  }
  const Params& p = *v.params;
  const std::string& op = route.operation_id;
  if (op == "listGpus") {
    return g.ListGpus(p);
  }
  if (op == "getGpu") {
    return g.GetGpu(p);
  }
  if (op == "getGpuTelemetry") {
    return g.Telemetry(p);
  }
  if (op == "getGpuTelemetrySummary") {
    return g.Summary(p);
  }
  if (op == "listMetrics") {
    return g.ListMetrics();
  }
  if (op == "healthz") {
    return http::Text(200, "ok\n");
  }
  if (op == "metrics") {
    Response r = http::Text(200, g.registry->Render());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  if (op == "readyz") {
    return g.Readyz();
  }
  if (op == "openapi") {
    Response r = http::Text(200, g.openapi);
    r.content_type = "application/json";
    return r;
  }
  if (op == "swaggerUi") {
    return SwaggerPage();
  }
  if (op == "swaggerAsset") {
    return ServeFile(g.options.web_dir / "node_modules" / "swagger-ui-dist",
                     p.Get("file"));
  }
  if (op == "dashboard") {
    return ServeFile(g.options.web_dir, "index.html");
  }
  if (op == "dashboardAsset") {
    return ServeFile(g.options.web_dir / "static", p.Get("file"));
  }
  if (op == "uplotAsset") {
    return ServeFile(g.options.web_dir / "node_modules" / "uplot" / "dist",
                     p.Get("file"));
  }
  return Problem(500, "Internal Server Error", "route without a handler");
}

namespace {

boost::asio::awaitable<Response> RunOnWorkers(Gateway* gateway,
                                              const RouteSpec* route,
                                              Request request) {
  co_return gateway->Handle(*route, request);
}

}  // namespace

Status Gateway::Install(http::Router& router) {
  for (const RouteSpec& route : Routes()) {
    if (route.operation_id == "metrics" && impl_->registry == nullptr) {
      continue;
    }
    // Everything that reads PostgreSQL or files runs on the workers; the rest is cheap.
    const bool blocking =
        route.operation_id != "healthz" && route.operation_id != "metrics" &&
        route.operation_id != "openapi" && route.operation_id != "swaggerUi";
    if (!blocking) {
      TP_RETURN_IF_ERROR(router.AddSync(
          route.method, route.path, [this, r = &route](const Request& request) {
            return Handle(*r, request);
          }));
      continue;
    }
    TP_RETURN_IF_ERROR(router.Add(
        route.method,
        route.path,
        [this, r = &route](Request request) -> boost::asio::awaitable<Response> {
          return boost::asio::co_spawn(impl_->workers.get_executor(),
                                       RunOnWorkers(this, r, std::move(request)),
                                       boost::asio::use_awaitable);
        }));
  }
  return Status::Ok();
}

}  // namespace tp::apigw
