// The OpenAPI document and the request validator read one route table: every route the
// server serves is documented with its parameters, responses and examples, and every
// documented constraint is enforced.
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "apigw/gateway.h"
#include "apigw/spec.h"
#include "test_util.h"
#include "tp/http/url.h"
#include "tp/metrics/metrics.h"
#include "tp/testing/testing.h"

namespace tp::apigw {
namespace {

using testing::Body;

std::string Lower(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GatewayOptions options;
    // Never connected: every request below fails validation before any query.
    options.database_url = "host=/nonexistent dbname=none connect_timeout=1";
    options.web_dir = TP_APIGW_WEB_DIR;
    ASSERT_OK_AND_ASSIGN(gateway_, Gateway::Create(options, &registry_));
    ASSERT_OK(gateway_->Install(router_));
    doc_ = OpenApiDocument();
  }

  // A request for `route` with every path parameter and every required query parameter
  // set to its documented example, plus `extra` ("name=value").
  std::string Target(const RouteSpec& route, const std::string& extra = {}) {
    std::string path = route.path;
    std::string query;
    for (const ParamSpec& p : route.params) {
      if (p.in == ParamIn::kPath) {
        path.replace(path.find("{" + p.name + "}"),
                     p.name.size() + 2,
                     http::PercentEncode(p.example));
      } else if (p.required && extra.rfind(p.name + "=", 0) != 0) {
        query +=
            (query.empty() ? "" : "&") + p.name + "=" + http::PercentEncode(p.example);
      }
    }
    if (!extra.empty()) {
      query += (query.empty() ? "" : "&") + extra;
    }
    return query.empty() ? path : path + "?" + query;
  }

  metrics::Registry registry_;
  http::Router router_;
  std::unique_ptr<Gateway> gateway_;
  nlohmann::json doc_;
};

TEST_F(OpenApiTest, EveryServedRouteIsDocumentedWithParametersResponsesAndExamples) {
  EXPECT_EQ(doc_["openapi"], "3.0.3");
  std::set<std::string> served;
  for (const auto& r : router_.Routes()) {
    served.insert(r.method + " " + r.pattern);
    ASSERT_TRUE(doc_["paths"].contains(r.pattern)) << r.pattern;
    const auto& path = doc_["paths"][r.pattern];
    ASSERT_TRUE(path.contains(Lower(r.method))) << r.method << " " << r.pattern;
    const auto& op = path[Lower(r.method)];
    EXPECT_TRUE(op.contains("operationId"));
    EXPECT_TRUE(op.contains("summary"));
    const RouteSpec* spec = FindRoute(r.method, r.pattern);
    ASSERT_NE(spec, nullptr) << r.pattern;
    // Parameters: the same names, locations and constraints as the validator's.
    const auto params = op.value("parameters", nlohmann::json::array());
    ASSERT_EQ(params.size(), spec->params.size()) << r.pattern;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const ParamSpec& p = spec->params[i];
      EXPECT_EQ(params[i]["name"], p.name);
      EXPECT_EQ(params[i]["in"], p.in == ParamIn::kPath ? "path" : "query");
      EXPECT_EQ(params[i]["required"], p.required || p.in == ParamIn::kPath);
      EXPECT_FALSE(params[i]["description"].get<std::string>().empty()) << p.name;
      EXPECT_TRUE(params[i].contains("example")) << p.name;
      const auto& schema =
          p.repeatable ? params[i]["schema"]["items"] : params[i]["schema"];
      if (p.maximum && p.type == ParamType::kInteger) {
        EXPECT_EQ(schema["maximum"], *p.maximum) << p.name;
      }
      if (p.minimum && p.type == ParamType::kInteger) {
        EXPECT_EQ(schema["minimum"], *p.minimum) << p.name;
      }
      if (!p.pattern.empty()) {
        EXPECT_EQ(schema["pattern"], p.pattern) << p.name;
      }
      if (!p.enum_values.empty()) {
        EXPECT_EQ(schema["enum"], p.enum_values) << p.name;
      }
      if (!p.format.empty()) {
        EXPECT_EQ(schema["format"], p.format) << p.name;
      }
      if (p.repeatable) {
        EXPECT_EQ(params[i]["schema"]["type"], "array") << p.name;
      }
    }
    // Responses: every documented status has content with an example.
    ASSERT_EQ(op["responses"].size(), spec->responses.size()) << r.pattern;
    EXPECT_TRUE(op["responses"].contains("200")) << r.pattern;
    for (const auto& [status, resp] : op["responses"].items()) {
      EXPECT_FALSE(resp["description"].get<std::string>().empty());
      ASSERT_EQ(resp["content"].size(), 1u);
      for (const auto& [type, media] : resp["content"].items()) {
        EXPECT_TRUE(media.contains("example")) << r.pattern << " " << status;
        EXPECT_TRUE(media.contains("schema")) << r.pattern << " " << status;
      }
    }
    if (spec->auth) {
      EXPECT_TRUE(op["responses"].contains("401")) << r.pattern;
    }
  }
  // ... and the spec documents nothing the server does not serve.
  std::set<std::string> documented;
  for (const RouteSpec& r : Routes()) {
    documented.insert(r.method + " " + r.path);
  }
  EXPECT_EQ(served, documented);
  // Every $ref resolves.
  const std::string text = doc_.dump();
  for (std::size_t pos = text.find("#/components/schemas/"); pos != std::string::npos;
       pos = text.find("#/components/schemas/", pos + 1)) {
    const std::size_t start = pos + std::string("#/components/schemas/").size();
    const std::string name = text.substr(start, text.find('"', start) - start);
    EXPECT_TRUE(doc_["components"]["schemas"].contains(name)) << name;
  }
}

TEST_F(OpenApiTest, DocumentIsServedAndPrintedIdentically) {
  http::Response r = testing::Dispatch(router_, "/openapi.json");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(Body(r), doc_);
  auto out = tp::testing::RunProcess(
      {(tp::testing::BinDir() / "apigw").string(), "--print-openapi"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(nlohmann::json::parse(out.out, nullptr, false), doc_);
}

// Build a value that breaks one documented constraint of `p`; empty if none applies.
std::vector<std::string> Violations(const ParamSpec& p) {
  std::vector<std::string> out = {""};  // empty values are never valid
  if (p.type == ParamType::kInteger) {
    out.push_back("abc");
    if (p.maximum) {
      out.push_back(std::to_string(*p.maximum + 1));
    }
    if (p.minimum) {
      out.push_back(std::to_string(*p.minimum - 1));
    }
  }
  if (!p.enum_values.empty()) {
    out.push_back("not-in-enum");
  }
  if (!p.pattern.empty()) {
    out.push_back("bad value'; --");
  }
  if (p.format == "date-time") {
    out.push_back("2025-13-01T00:00:00Z");
  }
  if (p.format == "duration") {
    if (p.minimum) {
      out.push_back("1ms");
    }
    if (p.maximum) {
      out.push_back(std::to_string(*p.maximum + 1) + "s");
    }
  }
  out.push_back(std::string(p.max_length.value_or(256) + 1, '7'));
  return out;
}

TEST_F(OpenApiTest, RequestsViolatingADocumentedConstraintAreRejected) {
  int checked = 0;
  for (const RouteSpec& route : Routes()) {
    // The example request passes validation.
    const http::Request ok_request = [&] {
      http::Request req;
      req.method = route.method;
      EXPECT_TRUE(http::ParseTarget(Target(route), req));
      for (const ParamSpec& p : route.params) {
        if (p.in == ParamIn::kPath) {
          req.path_params[p.name] = p.example;
        }
      }
      return req;
    }();
    Validated ok = ValidateRequest(route, ok_request);
    EXPECT_FALSE(ok.problem.has_value())
        << route.path << ": " << (ok.problem ? ok.problem->body : "");

    for (const ParamSpec& p : route.params) {
      for (const std::string& bad : Violations(p)) {
        http::Response r;
        if (p.in == ParamIn::kPath) {
          if (bad.empty()) {
            continue;  // an empty segment never matches the route
          }
          http::Request req = ok_request;
          req.path_params[p.name] = bad;
          r = gateway_->Handle(route, req);
        } else {
          r = testing::Dispatch(router_,
                                Target(route, p.name + "=" + http::PercentEncode(bad)));
        }
        EXPECT_EQ(r.status, 400) << route.path << " " << p.name << "=" << bad;
        EXPECT_EQ(r.content_type, "application/problem+json");
        EXPECT_EQ(Body(r)["field"], p.name) << route.path << " " << p.name << "=" << bad;
        ++checked;
      }
      if (p.in == ParamIn::kQuery && !p.repeatable) {
        const std::string v = http::PercentEncode(p.example);
        http::Response r = testing::Dispatch(
            router_, Target(route, p.name + "=" + v + "&" + p.name + "=" + v));
        EXPECT_EQ(r.status, 400) << route.path << " repeated " << p.name;
        ++checked;
      }
      if (p.required && p.in == ParamIn::kQuery) {
        std::string target = Target(route);
        const std::string piece = p.name + "=" + http::PercentEncode(p.example);
        target.erase(target.find(piece), piece.size());
        http::Response r = testing::Dispatch(router_, target);
        EXPECT_EQ(r.status, 400) << route.path << " without " << p.name;
        EXPECT_EQ(Body(r)["field"], p.name);
        ++checked;
      }
    }
    // Unknown query parameters.
    http::Response r = testing::Dispatch(router_, Target(route, "no_such_param=1"));
    EXPECT_EQ(r.status, 400) << route.path;
    EXPECT_EQ(Body(r)["field"], "no_such_param");
    ++checked;
  }
  EXPECT_GT(checked, 60);
}

TEST(DurationTest, ParsesUnits) {
  EXPECT_EQ(*ParseDurationMicros("60s"), 60'000'000);
  EXPECT_EQ(*ParseDurationMicros("500ms"), 500'000);
  EXPECT_EQ(*ParseDurationMicros("5m"), 300'000'000);
  EXPECT_EQ(*ParseDurationMicros("2h"), 7'200'000'000);
  EXPECT_EQ(*ParseDurationMicros("1d"), 86'400'000'000);
  EXPECT_FALSE(ParseDurationMicros("s").ok());
  EXPECT_FALSE(ParseDurationMicros("60").ok());
  EXPECT_FALSE(ParseDurationMicros("6w").ok());
  EXPECT_FALSE(ParseDurationMicros("-5s").ok());
}

}  // namespace
}  // namespace tp::apigw
