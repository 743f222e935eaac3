// The gateway's endpoints against real PostgreSQL seeded from the real DCGM export,
// driven through Router::Dispatch (no sockets).
#include "apigw/gateway.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "seed.h"
#include "test_util.h"
#include "tp/http/url.h"
#include "tp/metrics/metrics.h"
#include "tp/pg/connection.h"
#include "tp/telemetry/time.h"
#include "tp/testing/postgres_server.h"
#include "tp/testing/testing.h"

namespace tp::apigw {
namespace {

using http::Response;
using telemetry::FormatRfc3339;
using telemetry::ParseRfc3339;
using testing::Body;
using testing::SeededRow;

constexpr const char* kGpu =
    "GPU-5fd4f087-86f3-7a43-b711-4771313afc50";  // host 031, gpu 0
constexpr const char* kUnknownGpu = "GPU-00000000-1111-2222-3333-444444444444";
constexpr int kLoops = 3;
constexpr std::chrono::seconds kShift{10};

struct Dataset {
  std::string conninfo;
  std::vector<SeededRow> rows;
};

// One seeded database for the read-only tests of this binary: the CSV three times, ten
// seconds apart, so every GPU has three scrapes.
Dataset* SharedDataset() {
  static Dataset* dataset = [] {
    auto* d = new Dataset();
    auto server = tp::testing::SharedPostgresServer();
    if (!server.ok()) {
      ADD_FAILURE() << server.status().ToString();
      return d;
    }
    auto conninfo = (*server)->CreateDatabase("apigw_seeded");
    if (!conninfo.ok()) {
      ADD_FAILURE() << conninfo.status().ToString();
      return d;
    }
    d->conninfo = *conninfo;
    Status s = testing::ApplySchema(d->conninfo);
    if (!s.ok()) {
      ADD_FAILURE() << s.ToString();
      return d;
    }
    auto rows = testing::SeedFromCsv(d->conninfo, testing::RealCsvPath(), kLoops, kShift);
    if (!rows.ok()) {
      ADD_FAILURE() << rows.status().ToString();
      return d;
    }
    d->rows = std::move(*rows);
    return d;
  }();
  return dataset;
}

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = SharedDataset();
    ASSERT_FALSE(data_->rows.empty());
    Start(data_->conninfo);
  }

  void Start(const std::string& conninfo, std::string token = {}) {
    GatewayOptions options;
    options.database_url = conninfo;
    options.auth_token = std::move(token);
    options.web_dir = TP_APIGW_WEB_DIR;
    options.pool_size = 2;
    options.worker_threads = 2;
    router_ = http::Router();
    gateway_.reset();
    ASSERT_OK_AND_ASSIGN(gateway_, Gateway::Create(options, &registry_));
    ASSERT_OK(gateway_->Install(router_));
  }

  Response Get(const std::string& target, http::Headers headers = {}) {
    return testing::Dispatch(router_, target, std::move(headers));
  }

  nlohmann::json GetJson(const std::string& target, int status = 200) {
    Response r = Get(target);
    EXPECT_EQ(r.status, status) << target << " -> " << r.body;
    return Body(r);
  }

  // Rows of the seeded data for `gpu`, as (timestamp, metric) in API order.
  std::vector<std::pair<std::string, std::string>> Expected(
      const std::string& gpu) const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& r : data_->rows) {
      if (r.record.uuid == gpu) {
        out.emplace_back(FormatRfc3339(r.record.timestamp), r.record.metric_name);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string TelemetryUrl(const std::string& gpu, const std::string& query = {}) {
    return "/api/v1/gpus/" + gpu + "/telemetry" + (query.empty() ? "" : "?" + query);
  }

  // Follows next_cursor until the end; fails on a loop.
  std::vector<nlohmann::json> AllPages(const std::string& base, int max_pages = 10000) {
    std::vector<nlohmann::json> items;
    std::string target = base;
    for (int page = 0; page < max_pages; ++page) {
      nlohmann::json body = GetJson(target);
      if (!body.is_object()) {
        return items;
      }
      for (auto& item : body["items"]) {
        items.push_back(item);
      }
      if (body["next_cursor"].is_null()) {
        return items;
      }
      const char sep = base.find('?') == std::string::npos ? '?' : '&';
      target = base + sep + "cursor=" + body["next_cursor"].get<std::string>();
    }
    ADD_FAILURE() << "more than " << max_pages << " pages";
    return items;
  }

  Dataset* data_ = nullptr;
  metrics::Registry registry_;
  http::Router router_;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(GatewayTest, ListGpusPagesVisitEveryGpuOnce) {
  std::map<std::string, std::tuple<std::string, int, std::string, std::string>> expected;
  std::map<std::string, std::pair<std::string, std::string>> seen;
  for (const auto& r : data_->rows) {
    expected[r.record.uuid] = {
        r.record.hostname, r.record.gpu_id, r.record.device, r.record.model_name};
    const std::string ts = FormatRfc3339(r.record.timestamp);
    auto [it, inserted] = seen.emplace(r.record.uuid, std::make_pair(ts, ts));
    it->second.first = std::min(it->second.first, ts);
    it->second.second = std::max(it->second.second, ts);
  }
  ASSERT_EQ(expected.size(), 247u);
  std::vector<nlohmann::json> gpus = AllPages("/api/v1/gpus?limit=40");
  ASSERT_EQ(gpus.size(), expected.size());
  std::string previous;
  for (const auto& g : gpus) {
    const std::string id = g["id"];
    EXPECT_LT(previous, id) << "ordered by id, no repeats";
    previous = id;
    ASSERT_TRUE(expected.contains(id)) << id;
    const auto& [host, index, device, model] = expected[id];
    EXPECT_EQ(g["hostname"], host);
    EXPECT_EQ(g["gpu_index"], index);
    EXPECT_EQ(g["device"], device);
    EXPECT_EQ(g["model_name"], model);
    EXPECT_EQ(g["first_seen"], seen[id].first);
    EXPECT_EQ(g["last_seen"], seen[id].second);
    EXPECT_EQ(g["metric_names"].size(), 10u);
  }
  // Default page size 100.
  nlohmann::json first = GetJson("/api/v1/gpus");
  EXPECT_EQ(first["items"].size(), 100u);
  EXPECT_TRUE(first["next_cursor"].is_string());
  EXPECT_EQ(GetJson("/api/v1/gpus?limit=1000")["next_cursor"], nullptr);
}

TEST_F(GatewayTest, ListGpusFiltersByHostnameAndModel) {
  nlohmann::json host = GetJson("/api/v1/gpus?hostname=mtv5-dgx1-hgpu-031");
  ASSERT_EQ(host["items"].size(), 8u);
  for (const auto& g : host["items"]) {
    EXPECT_EQ(g["hostname"], "mtv5-dgx1-hgpu-031");
  }
  EXPECT_EQ(host["next_cursor"], nullptr);
  // Paging a filtered list keeps the filter.
  EXPECT_EQ(AllPages("/api/v1/gpus?hostname=mtv5-dgx1-hgpu-031&limit=3").size(), 8u);

  std::set<std::string> h100;
  for (const auto& r : data_->rows) {
    if (r.record.model_name == "NVIDIA H100 80GB HBM3") {
      h100.insert(r.record.uuid);
    }
  }
  EXPECT_EQ(AllPages("/api/v1/gpus?model=NVIDIA%20H100%2080GB%20HBM3&limit=1000").size(),
            h100.size());
  EXPECT_EQ(
      GetJson(
          "/api/v1/gpus?model=NVIDIA+H100+80GB+HBM3&hostname=mtv5-dgx1-hgpu-031")["items"]
          .size(),
      8u);
  EXPECT_TRUE(GetJson("/api/v1/gpus?hostname=no-such-host")["items"].empty());
  EXPECT_TRUE(GetJson("/api/v1/gpus?model=A100")["items"].empty());
}

TEST_F(GatewayTest, GetGpu) {
  nlohmann::json g = GetJson(std::string("/api/v1/gpus/") + kGpu);
  EXPECT_EQ(g["id"], kGpu);
  EXPECT_EQ(g["hostname"], "mtv5-dgx1-hgpu-031");
  Response missing = Get(std::string("/api/v1/gpus/") + kUnknownGpu);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.content_type, "application/problem+json");
}

TEST_F(GatewayTest, TelemetryReturnsEveryRowOfTheGpuInTimeOrder) {
  const auto expected = Expected(kGpu);
  ASSERT_EQ(expected.size(), 30u);
  nlohmann::json body = GetJson(TelemetryUrl(kGpu, "limit=1000"));
  ASSERT_EQ(body["items"].size(), expected.size());
  EXPECT_EQ(body["next_cursor"], nullptr);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& item : body["items"]) {
    got.emplace_back(item["timestamp"], item["metric_name"]);
    EXPECT_EQ(item["gpu_id"], kGpu);
    EXPECT_EQ(item["hostname"], "mtv5-dgx1-hgpu-031");
    EXPECT_EQ(item["device"], "nvidia0");
    EXPECT_EQ(item["gpu_index"], 0);
    EXPECT_EQ(item["container"], nullptr);
    EXPECT_TRUE(item["labels"].is_object());
    EXPECT_EQ(item["labels"]["UUID"], kGpu);
  }
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end(), [](const auto& a, const auto& b) {
    return a.first < b.first;
  }));
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected);
  // Values and units as stored.
  for (const auto& item : body["items"]) {
    if (item["metric_name"] == "DCGM_FI_DEV_GPU_TEMP") {
      EXPECT_EQ(item["unit"], "C");
      EXPECT_TRUE(item["value"].is_number());
    }
  }
}

TEST_F(GatewayTest, TimeBoundsAreInclusiveAtExactTimestamps) {
  const auto expected = Expected(kGpu);
  // Rows of the GPU with lo <= ts <= hi (RFC 3339 strings in UTC sort like times).
  const auto in_window = [&](const std::string& lo, const std::string& hi) {
    return static_cast<std::size_t>(
        std::count_if(expected.begin(), expected.end(), [&](const auto& e) {
          return e.first >= lo && e.first <= hi;
        }));
  };
  const auto count = [&](const std::string& q) {
    return GetJson(TelemetryUrl(kGpu, q + "&limit=1000"))["items"].size();
  };
  const std::string lo = "0000", hi = "9999";
  std::set<std::string> stamps;
  for (const auto& e : expected) {
    stamps.insert(e.first);
  }
  ASSERT_GE(stamps.size(), 3u);
  for (const std::string& t : stamps) {
    const auto time = *ParseRfc3339(t);
    const std::string before = FormatRfc3339(time - std::chrono::microseconds(1));
    const std::string after = FormatRfc3339(time + std::chrono::microseconds(1));
    ASSERT_GT(in_window(t, t), 0u);
    EXPECT_EQ(count("start_time=" + t + "&end_time=" + t), in_window(t, t)) << t;
    EXPECT_EQ(count("start_time=" + t), in_window(t, hi)) << t;
    EXPECT_EQ(count("end_time=" + t), in_window(lo, t)) << t;
    EXPECT_EQ(count("start_time=" + after), in_window(after, hi)) << t;
    EXPECT_EQ(count("end_time=" + before), in_window(lo, before)) << t;
    EXPECT_EQ(
        Get(TelemetryUrl(kGpu, "start_time=" + after + "&end_time=" + before)).status,
        400)
        << t;
  }
  // Any offset is accepted; the answer is in UTC.
  const std::string t0 = *stamps.begin();
  ASSERT_EQ(t0, "2025-07-18T20:42:34.000000Z");
  nlohmann::json shifted = GetJson(TelemetryUrl(
      kGpu,
      "start_time=2025-07-18T22:42:34%2B02:00&end_time=2025-07-18T15:42:34.000-05:00"));
  ASSERT_EQ(shifted["items"].size(), in_window(t0, t0));
  EXPECT_EQ(shifted["items"][0]["timestamp"], t0);
  // An empty window of a known GPU is 200 with no items, not 404.
  nlohmann::json empty = GetJson(TelemetryUrl(
      kGpu, "start_time=2024-01-01T00:00:00Z&end_time=2024-01-02T00:00:00Z"));
  EXPECT_TRUE(empty["items"].empty());
  EXPECT_EQ(empty["next_cursor"], nullptr);
}

TEST_F(GatewayTest, PaginationVisitsEveryRowExactlyOnceBothOrders) {
  const auto expected = Expected(kGpu);
  for (const std::string& order : std::vector<std::string>{"asc", "desc"}) {
    for (int limit : {1, 7, 10, 30}) {
      auto items = AllPages(
          TelemetryUrl(kGpu, "order=" + order + "&limit=" + std::to_string(limit)));
      std::vector<std::pair<std::string, std::string>> got;
      for (const auto& item : items) {
        got.emplace_back(item["timestamp"], item["metric_name"]);
      }
      auto by_time = [&](const auto& a, const auto& b) {
        return order == "asc" ? a.first < b.first : a.first > b.first;
      };
      EXPECT_TRUE(std::is_sorted(got.begin(), got.end(), by_time)) << order << limit;
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, expected) << order << " limit " << limit;
    }
  }
  // A cursor is bound to its query.
  nlohmann::json page = GetJson(TelemetryUrl(kGpu, "limit=5"));
  const std::string cursor = page["next_cursor"];
  Response other_order = Get(TelemetryUrl(kGpu, "limit=5&order=desc&cursor=" + cursor));
  EXPECT_EQ(other_order.status, 400);
  EXPECT_EQ(Body(other_order)["field"], "cursor");
  const std::string other_gpu = data_->rows[1].record.uuid;
  EXPECT_EQ(Get(TelemetryUrl(other_gpu, "cursor=" + cursor)).status, 400);
  EXPECT_EQ(Get("/api/v1/gpus?cursor=" + cursor).status, 400);
}

TEST_F(GatewayTest, MetricFilter) {
  auto one = GetJson(TelemetryUrl(kGpu, "metric=DCGM_FI_DEV_GPU_UTIL"))["items"];
  ASSERT_EQ(one.size(), 3u);
  for (const auto& item : one) {
    EXPECT_EQ(item["metric_name"], "DCGM_FI_DEV_GPU_UTIL");
    EXPECT_EQ(item["unit"], "%");
  }
  auto two = AllPages(TelemetryUrl(
      kGpu, "metric=DCGM_FI_DEV_GPU_UTIL&metric=DCGM_FI_DEV_GPU_TEMP&limit=4"));
  ASSERT_EQ(two.size(), 6u);
  for (const auto& item : two) {
    EXPECT_TRUE(item["metric_name"] == "DCGM_FI_DEV_GPU_UTIL" ||
                item["metric_name"] == "DCGM_FI_DEV_GPU_TEMP");
  }
  auto one_paged =
      AllPages(TelemetryUrl(kGpu, "metric=DCGM_FI_DEV_FB_USED&limit=1&order=desc"));
  ASSERT_EQ(one_paged.size(), 3u);
  EXPECT_GT(one_paged[0]["timestamp"], one_paged[2]["timestamp"]);
  EXPECT_TRUE(GetJson(TelemetryUrl(kGpu, "metric=DCGM_FI_NO_SUCH"))["items"].empty());
}

TEST_F(GatewayTest, UnknownGpuIsNotFound) {
  for (const std::string& target :
       {TelemetryUrl(kUnknownGpu),
        std::string("/api/v1/gpus/") + kUnknownGpu + "/telemetry/summary?start_time=" +
            "2025-07-18T20:00:00Z&end_time=2025-07-18T21:00:00Z",
        std::string("/api/v1/gpus/") + kUnknownGpu}) {
    Response r = Get(target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.content_type, "application/problem+json");
    EXPECT_EQ(Body(r)["status"], 404);
  }
}

TEST_F(GatewayTest, SummaryBucketsMatchTheData) {
  const std::string base = std::string("/api/v1/gpus/") + kGpu +
                           "/telemetry/summary?start_time=2025-07-18T20:40:00Z"
                           "&end_time=2025-07-18T20:45:00Z";
  // Expected per 10 s bucket for GPU_TEMP.
  std::map<std::string, std::vector<double>> temps;
  for (const auto& r : data_->rows) {
    if (r.record.uuid == kGpu && r.record.metric_name == "DCGM_FI_DEV_GPU_TEMP") {
      auto us = r.record.timestamp.time_since_epoch().count();
      us -= us % 10'000'000;
      temps[FormatRfc3339(telemetry::Timestamp(std::chrono::microseconds(us)))].push_back(
          *r.record.value);
    }
  }
  ASSERT_EQ(temps.size(), 3u);
  nlohmann::json body = GetJson(base + "&bucket=10s&metric=DCGM_FI_DEV_GPU_TEMP");
  ASSERT_EQ(body["items"].size(), 3u);
  EXPECT_EQ(body["next_cursor"], nullptr);
  for (const auto& b : body["items"]) {
    const auto& values = temps[b["bucket_start"]];
    ASSERT_EQ(values.size(), 1u) << b;
    EXPECT_EQ(b["metric_name"], "DCGM_FI_DEV_GPU_TEMP");
    EXPECT_EQ(b["unit"], "C");
    EXPECT_EQ(b["count"], 1);
    EXPECT_DOUBLE_EQ(b["min"].get<double>(), values[0]);
    EXPECT_DOUBLE_EQ(b["max"].get<double>(), values[0]);
  }
  // Default bucket 60s: the three scrapes fall into one minute per metric.
  nlohmann::json minute = GetJson(base);
  ASSERT_EQ(minute["items"].size(), 10u);
  for (const auto& b : minute["items"]) {
    EXPECT_EQ(b["bucket_start"], "2025-07-18T20:42:00.000000Z");
    EXPECT_EQ(b["count"], 3);
    EXPECT_LE(b["min"].get<double>(), b["avg"].get<double>());
    EXPECT_LE(b["avg"].get<double>(), b["max"].get<double>());
  }
  nlohmann::json two =
      GetJson(base + "&metric=DCGM_FI_DEV_GPU_TEMP&metric=DCGM_FI_DEV_GPU_UTIL");
  EXPECT_EQ(two["items"].size(), 2u);
}

TEST_F(GatewayTest, MetricsListsNamesWithUnits) {
  nlohmann::json body = GetJson("/api/v1/metrics");
  ASSERT_EQ(body["items"].size(), 10u);
  std::map<std::string, std::string> units;
  for (const auto& m : body["items"]) {
    units[m["name"]] = m["unit"];
  }
  EXPECT_EQ(units["DCGM_FI_DEV_GPU_TEMP"], "C");
  EXPECT_EQ(units["DCGM_FI_DEV_POWER_USAGE"], "W");
  EXPECT_EQ(body["next_cursor"], nullptr);
}

TEST_F(GatewayTest, BadInputIsAProblem) {
  const std::string gpu = std::string("/api/v1/gpus/") + kGpu;
  const std::string tel = gpu + "/telemetry?";
  const std::string sum = gpu +
                          "/telemetry/summary?start_time=2025-07-18T20:00:00Z&"
                          "end_time=2025-07-18T21:00:00Z&";
  struct Case {
    std::string target;
    int status;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"/api/v1/gpus/not-a-gpu/telemetry", 400, "id"},
      {"/api/v1/gpus/GPU-5fd4f087%27%3B%20DROP%20TABLE%20telemetry%3B--/telemetry",
       400,
       "id"},
      {"/api/v1/gpus/GPU-5fd4f087-86f3-7a43-b711-4771313afc50%20OR%201=1", 400, "id"},
      {tel + "start_time=yesterday", 400, "start_time"},
      {tel + "start_time=2025-07-18", 400, "start_time"},
      {tel + "start_time=2025-02-30T00:00:00Z", 400, "start_time"},
      {tel + "end_time=2025-07-18T25:00:00Z", 400, "end_time"},
      {tel + "start_time=", 400, "start_time"},
      {tel + "start_time=2025-07-18T21:00:00Z&end_time=2025-07-18T20:00:00Z",
       400,
       "start_time"},
      {tel + "limit=0", 400, "limit"},
      {tel + "limit=-1", 400, "limit"},
      {tel + "limit=1001", 400, "limit"},
      {tel + "limit=99999999999999999999999", 400, "limit"},
      {tel + "limit=ten", 400, "limit"},
      {tel + "limit=10&limit=20", 400, "limit"},
      {tel + "order=sideways", 400, "order"},
      {tel + "metric=x%27%20OR%20%271%27=%271", 400, "metric"},
      {tel + "metric=DCGM_FI_DEV_GPU_UTIL%3B%20DELETE%20FROM%20telemetry", 400, "metric"},
      {tel + "cursor=not*base64", 400, "cursor"},
      {tel + "cursor=eyJrIjoiZ3B1cyJ9", 400, "cursor"},
      {tel + "cursor=e30", 400, "cursor"},
      {tel + "foo=1", 400, "foo"},
      {tel + "startTime=2025-07-18T20:00:00Z", 400, "startTime"},
      {"/api/v1/gpus?limit=5000", 400, "limit"},
      {"/api/v1/gpus?hostname=a%27%3B%20--", 400, "hostname"},
      {"/api/v1/gpus?host=x", 400, "host"},
      {"/api/v1/gpus?cursor=%27%20OR%201%3D1", 400, "cursor"},
      {"/api/v1/metrics?x=1", 400, "x"},
      {sum + "bucket=0s", 400, "bucket"},
      {sum + "bucket=1ms", 400, "bucket"},
      {sum + "bucket=2d", 400, "bucket"},
      {sum + "bucket=60", 400, "bucket"},
      {sum + "bucket=1s", 400, "bucket"},  // 3601 buckets > 2000
      {gpu + "/telemetry/summary?end_time=2025-07-18T21:00:00Z", 400, "start_time"},
      {gpu + "/telemetry/summary?start_time=2025-07-18T21:00:00Z", 400, "end_time"},
  };
  for (const Case& c : cases) {
    Response r = Get(c.target);
    EXPECT_EQ(r.status, c.status) << c.target << " -> " << r.body;
    EXPECT_EQ(r.content_type, "application/problem+json") << c.target;
    nlohmann::json body = Body(r);
    EXPECT_EQ(body["status"], c.status) << c.target;
    EXPECT_EQ(body["field"], c.field) << c.target << " -> " << r.body;
    EXPECT_TRUE(body["detail"].is_string());
  }
  // Nothing above reached the database as SQL.
  EXPECT_EQ(GetJson(TelemetryUrl(kGpu, "limit=1000"))["items"].size(), 30u);
}

TEST_F(GatewayTest, BearerTokenGuardsApiOnly) {
  Start(data_->conninfo, "s3cret-token");
  EXPECT_EQ(Get("/api/v1/gpus").status, 401);
  Response wrong = Get("/api/v1/gpus", {{"Authorization", "Bearer s3cret-tokem"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.content_type, "application/problem+json");
  EXPECT_TRUE(wrong.headers.contains("WWW-Authenticate"));
  EXPECT_EQ(
      Get("/api/v1/gpus", {{"Authorization", "Bearer s3cret-token-and-more"}}).status,
      401);
  EXPECT_EQ(Get("/api/v1/gpus", {{"Authorization", "Basic s3cret-token"}}).status, 401);
  EXPECT_EQ(Get("/api/v1/gpus", {{"Authorization", "Bearer s3cret-token"}}).status, 200);
  EXPECT_EQ(Get("/api/v1/metrics", {{"authorization", "bearer s3cret-token"}}).status,
            200);
  EXPECT_EQ(Get(TelemetryUrl(kGpu)).status, 401);
  // Health, metrics and docs stay open.
  EXPECT_EQ(Get("/healthz").status, 200);
  EXPECT_EQ(Get("/readyz").status, 200);
  EXPECT_EQ(Get("/metrics").status, 200);
  EXPECT_EQ(Get("/openapi.json").status, 200);
}

TEST(ConstantTimeEqualsTest, ComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abd", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("ab", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abcd", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("", ""));
}

TEST_F(GatewayTest, ReadinessNeedsTheSchema) {
  EXPECT_EQ(Get("/readyz").status, 200);
  ASSERT_OK_AND_ASSIGN(auto server, tp::testing::SharedPostgresServer());
  ASSERT_OK_AND_ASSIGN(auto empty, server->CreateDatabase("apigw_no_schema"));
  Start(empty);
  Response r = Get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.content_type, "application/problem+json");
  EXPECT_EQ(Get("/healthz").status, 200);
  // Unreachable database: not ready, API answers 503.
  Start("host=/nonexistent-socket-dir dbname=x connect_timeout=1");
  EXPECT_EQ(Get("/readyz").status, 503);
  Response api = Get("/api/v1/gpus");
  EXPECT_EQ(api.status, 503) << api.body;
  EXPECT_EQ(api.content_type, "application/problem+json");
}

TEST_F(GatewayTest, ServesBrowserAssetsWithoutTraversal) {
  Response swagger = Get("/swagger");
  EXPECT_EQ(swagger.status, 200);
  EXPECT_NE(swagger.body.find("/openapi.json"), std::string::npos);
  Response bundle = Get("/swagger/swagger-ui-bundle.js");
  EXPECT_EQ(bundle.status, 200);
  EXPECT_GT(bundle.body.size(), 100000u);
  EXPECT_EQ(bundle.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Get("/swagger/swagger-ui.css").status, 200);
  Response dashboard = Get("/");
  EXPECT_EQ(dashboard.status, 200);
  EXPECT_EQ(dashboard.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(Get("/static/app.js").status, 200);
  EXPECT_EQ(Get("/vendor/uplot/uPlot.iife.min.js").status, 200);
  for (const char* target : {"/swagger/..%2F..%2F..%2Fetc%2Fpasswd",
                             "/swagger/..",
                             "/static/%2e%2e",
                             "/static/.hidden",
                             "/static/..%2Findex.html",
                             "/vendor/uplot/%2Fetc%2Fpasswd",
                             "/static/no-such-file.js",
                             "/swagger/package.json%00.js"}) {
    Response r = Get(target);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << target << " -> " << r.status;
    EXPECT_EQ(r.content_type, "application/problem+json") << target;
  }
}

// Rows inserted while a client pages neither repeat nor shift the rows already seen.
TEST(GatewayPagingTest, KeysetCursorIsStableUnderConcurrentInserts) {
  ASSERT_OK_AND_ASSIGN(auto server, tp::testing::SharedPostgresServer());
  ASSERT_OK_AND_ASSIGN(auto conninfo, server->CreateDatabase("apigw_concurrent"));
  ASSERT_OK(testing::ApplySchema(conninfo));
  ASSERT_OK_AND_ASSIGN(auto rows,
                       testing::SeedFromCsv(conninfo, testing::RealCsvPath(), 2, kShift));
  GatewayOptions options;
  options.database_url = conninfo;
  ASSERT_OK_AND_ASSIGN(auto gateway, Gateway::Create(options));
  http::Router router;
  ASSERT_OK(gateway->Install(router));
  ASSERT_OK_AND_ASSIGN(auto conn, pg::Connect(conninfo));

  const std::string base = std::string("/api/v1/gpus/") + kGpu + "/telemetry?limit=4";
  std::set<std::string> seen;
  std::vector<std::string> order;
  std::string target = base;
  int inserted = 0;
  for (int page = 0; page < 100; ++page) {
    nlohmann::json body = Body(testing::Dispatch(router, target));
    ASSERT_TRUE(body.contains("items")) << body;
    for (const auto& item : body["items"]) {
      const std::string key = item["timestamp"].get<std::string>() + "/" +
                              item["metric_name"].get<std::string>() + "/" +
                              item["value"].dump();
      EXPECT_TRUE(seen.insert(key).second) << "repeated " << key;
      order.push_back(item["timestamp"]);
    }
    // Between pages: one row in the past (before the cursor: never shown) and one in
    // the future (after it: shown once, at the end).
    pqxx::work tx(*conn);
    tx.exec0(
        "INSERT INTO telemetry (msg_uuid, ts, gpu_uuid, gpu_index, device, model_name, "
        "hostname, metric_name, value) VALUES "
        "(gen_random_uuid(), TIMESTAMPTZ '2025-07-18T20:00:00Z', '" +
        std::string(kGpu) + "', 0, 'nvidia0', 'm', 'h', 'PAST_" + std::to_string(page) +
        "', 1), "
        "(gen_random_uuid(), TIMESTAMPTZ '2025-07-18T21:00:00Z' + " +
        std::to_string(page) + " * INTERVAL '1 second', '" + std::string(kGpu) +
        "', 0, 'nvidia0', 'm', 'h', "
        "'FUTURE', 1)");
    tx.commit();
    ++inserted;
    if (body["next_cursor"].is_null()) {
      break;
    }
    target = base + "&cursor=" + body["next_cursor"].get<std::string>();
  }
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  for (const auto& key : seen) {
    EXPECT_EQ(key.find("PAST_"), std::string::npos) << key;
  }
  // The 20 seeded rows, plus every future row inserted before the last page was read.
  EXPECT_GE(seen.size(), 20u);
  EXPECT_LE(seen.size(), 20u + static_cast<std::size_t>(inserted));
}

}  // namespace
}  // namespace tp::apigw
