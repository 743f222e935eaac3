#include "tp/http/router.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tp/http/message.h"
#include "tp/http/server.h"
#include "tp/metrics/metrics.h"
#include "tp/testing/testing.h"

namespace tp::http {
namespace {

// Runs the router without sockets, as component tests can.
Response DispatchFor(const Router& router, std::string method, std::string target) {
  Request req;
  req.method = std::move(method);
  EXPECT_TRUE(ParseTarget(target, req)) << target;
  boost::asio::io_context ioc;
  Response out;
  boost::asio::co_spawn(
      ioc, router.Dispatch(std::move(req)), [&out](std::exception_ptr e, Response r) {
        if (e) {
          std::rethrow_exception(e);
        }
        out = std::move(r);
      });
  ioc.run();
  return out;
}

Response Echo(const Request& req) {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [k, v] : req.path_params) {
    params[k] = v;
  }
  return Json(200, {{"params", params}, {"path", req.path}});
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(router_.AddSync("GET", "/api/v1/gpus", Echo));
    ASSERT_OK(router_.AddSync("GET", "/api/v1/gpus/{id}", Echo));
    ASSERT_OK(router_.AddSync("GET", "/api/v1/gpus/{id}/telemetry", Echo));
    ASSERT_OK(router_.AddSync("GET", "/api/v1/gpus/summary", Echo));
    ASSERT_OK(router_.AddSync("POST", "/v1/publish", Echo));
    ASSERT_OK(router_.AddSync("PUT", "/v1/publish", Echo));
  }
  Router router_;
};

TEST_F(RouterTest, ExtractsDecodedParams) {
  Response r = DispatchFor(router_, "GET", "/api/v1/gpus/GPU-a%2Fb%20c/telemetry?x=1");
  ASSERT_EQ(r.status, 200);
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["params"]["id"], "GPU-a/b c");
  EXPECT_EQ(body["path"], "/api/v1/gpus/GPU-a%2Fb%20c/telemetry");
}

TEST_F(RouterTest, LiteralSegmentBeatsParam) {
  auto body =
      nlohmann::json::parse(DispatchFor(router_, "GET", "/api/v1/gpus/summary").body);
  EXPECT_TRUE(body["params"].empty());
  body = nlohmann::json::parse(DispatchFor(router_, "GET", "/api/v1/gpus/other").body);
  EXPECT_EQ(body["params"]["id"], "other");
}

TEST_F(RouterTest, UnknownPathIs404Problem) {
  for (const char* target :
       {"/nope", "/api/v1/gpus/", "/api/v1/gpus/x/telemetry/more", "/API/v1/gpus"}) {
    Response r = DispatchFor(router_, "GET", target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.content_type, "application/problem+json");
    auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body["status"], 404);
    EXPECT_EQ(body["title"], "Not Found");
  }
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  Response r = DispatchFor(router_, "GET", "/v1/publish");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(FindHeader(r.headers, "allow").value(), "POST, PUT");
  EXPECT_EQ(r.content_type, "application/problem+json");
  EXPECT_EQ(DispatchFor(router_, "DELETE", "/api/v1/gpus/x").status, 405);
}

TEST_F(RouterTest, RejectsBadPatternsAndDuplicates) {
  EXPECT_EQ(router_.AddSync("GET", "/api/v1/gpus/{other}", Echo).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(router_.AddSync("GET", "no-slash", Echo).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(router_.AddSync("GET", "/a/{}", Echo).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router_.AddSync("GET", "/a/{x", Echo).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router_.AddSync("GET", "/a/x{y}", Echo).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router_.AddSync("GET", "/a/{x}/{x}", Echo).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(router_.AddSync("", "/a", Echo).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router_.Routes().size(), 6u);
  EXPECT_EQ(router_.Routes()[1].pattern, "/api/v1/gpus/{id}");
}

TEST(ProblemTest, HasRfc9457Members) {
  Response r = Problem(400,
                       "Bad Request",
                       "limit must be 1..1000",
                       "limit",
                       {{"errors", {"a"}}, {"status", 999}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/problem+json");
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["type"], "about:blank");
  EXPECT_EQ(body["title"], "Bad Request");
  EXPECT_EQ(body["status"], 400);
  EXPECT_EQ(body["detail"], "limit must be 1..1000");
  EXPECT_EQ(body["field"], "limit");
  EXPECT_EQ(body["errors"][0], "a");
}

TEST(StandardEndpointsTest, HealthReadyMetrics) {
  metrics::Registry registry;
  registry.AddCounter("things_total", "Things").Inc(3);
  Status ready = Status::Unavailable("replaying partition 7");
  Router router;
  ASSERT_OK(InstallStandardEndpoints(router, {&registry, [&ready] {
                                                return ready;
                                              }}));
  EXPECT_EQ(DispatchFor(router, "GET", "/healthz").status, 200);
  Response not_ready = DispatchFor(router, "GET", "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(nlohmann::json::parse(not_ready.body)["detail"], "replaying partition 7");
  ready = Status::Ok();
  EXPECT_EQ(DispatchFor(router, "GET", "/readyz").status, 200);
  Response m = DispatchFor(router, "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(m.body.find("things_total 3\n"), std::string::npos);
}

}  // namespace
}  // namespace tp::http
