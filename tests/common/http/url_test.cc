#include "tp/http/url.h"

#include <gtest/gtest.h>

#include "tp/http/message.h"
#include "tp/testing/testing.h"

namespace tp::http {
namespace {

TEST(UrlTest, PercentDecode) {
  ASSERT_OK_AND_ASSIGN(std::string s, PercentDecode("a%20b%2Fc+d", false));
  EXPECT_EQ(s, "a b/c+d");
  ASSERT_OK_AND_ASSIGN(std::string q, PercentDecode("a%20b+c", true));
  EXPECT_EQ(q, "a b c");
  EXPECT_EQ(PercentDecode("bad%2", false).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PercentDecode("bad%zz", false).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PercentDecode("%", false).status().code(), StatusCode::kInvalidArgument);
}

TEST(UrlTest, PercentEncodeRoundTrips) {
  const std::string raw = "GPU-1/2 ü&=?";
  const std::string enc = PercentEncode(raw);
  EXPECT_EQ(enc.find_first_of("/ &=?"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(std::string back, PercentDecode(enc, false));
  EXPECT_EQ(back, raw);
}

TEST(UrlTest, ParseQueryRepeatedKeysAndEscapes) {
  ASSERT_OK_AND_ASSIGN(auto q, ParseQuery("metric=a&metric=b%20c&flag&&x=1%2B1&empty="));
  auto [b, e] = q.equal_range("metric");
  ASSERT_EQ(std::distance(b, e), 2);
  EXPECT_EQ(b->second, "a");
  EXPECT_EQ(std::next(b)->second, "b c");
  EXPECT_EQ(q.find("flag")->second, "");
  EXPECT_EQ(q.find("x")->second, "1+1");
  EXPECT_EQ(q.find("empty")->second, "");
  EXPECT_EQ(q.size(), 5u);
  EXPECT_FALSE(ParseQuery("a=%G0").ok());
}

TEST(UrlTest, ParseTargetSplitsPathAndQuery) {
  Request r;
  ASSERT_TRUE(ParseTarget(
      "/api/v1/gpus/GPU%2D1/telemetry?start_time=2024-01-01T00%3A00%3A00Z&m=a&m=b", r));
  EXPECT_EQ(r.path, "/api/v1/gpus/GPU%2D1/telemetry");
  EXPECT_EQ(r.Query("start_time").value(), "2024-01-01T00:00:00Z");
  EXPECT_EQ(r.QueryAll("m"), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(r.Query("nope").has_value());
  Request bad;
  EXPECT_FALSE(ParseTarget("http://x/", bad));
  EXPECT_FALSE(ParseTarget("/a?b=%", bad));
}

TEST(UrlTest, ParseBaseUrl) {
  ASSERT_OK_AND_ASSIGN(BaseUrl a, ParseBaseUrl("http://broker-0.broker:8081"));
  EXPECT_EQ(a.host, "broker-0.broker");
  EXPECT_EQ(a.port, 8081);
  EXPECT_EQ(a.prefix, "");
  ASSERT_OK_AND_ASSIGN(BaseUrl b, ParseBaseUrl("http://127.0.0.1:80/api/"));
  EXPECT_EQ(b.prefix, "/api");
  ASSERT_OK_AND_ASSIGN(BaseUrl c, ParseBaseUrl("http://[::1]:9000"));
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.HostPort(), "[::1]:9000");
  ASSERT_OK_AND_ASSIGN(BaseUrl d, ParseBaseUrl("http://localhost"));
  EXPECT_EQ(d.port, 80);

  auto https = ParseBaseUrl("https://broker:8081");
  EXPECT_EQ(https.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(https.status().message().find("https is not supported"), std::string::npos);
  for (const char* bad : {"broker:8081",
                          "http://",
                          "http://:80",
                          "http://h:0",
                          "http://h:65536",
                          "http://h:x",
                          "http://h:",
                          "http://u@h:1",
                          "http://h:1/?q=1",
                          "ftp://h:1"}) {
    EXPECT_EQ(ParseBaseUrl(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(UrlTest, ParseHostPort) {
  ASSERT_OK_AND_ASSIGN(auto a, ParseHostPort("0.0.0.0:8081"));
  EXPECT_EQ(a.first, "0.0.0.0");
  EXPECT_EQ(a.second, 8081);
  ASSERT_OK_AND_ASSIGN(auto b, ParseHostPort("[::]:0"));
  EXPECT_EQ(b.first, "::");
  EXPECT_EQ(b.second, 0);
  for (const char* bad : {"8080", ":8080", "h:", "h:99999", "::1:80", "[::1]80"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace tp::http
