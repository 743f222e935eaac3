// The blocking client against real sockets: pooling, reconnects and timeouts.
#include "tp/http/client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_server.h"
#include "tp/testing/testing.h"

namespace tp::http {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)
using Clock = std::chrono::steady_clock;
using tcp = net::ip::tcp;

TEST(ClientTest, RejectsBadUrlsAndArguments) {
  auto https = Client::Create("https://broker:8081");
  EXPECT_EQ(https.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(https.status().message().find("https"), std::string::npos);
  EXPECT_EQ(Client::Create("broker:8081").status().code(), StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(auto client, Client::Create("http://127.0.0.1:1"));
  EXPECT_EQ(client->Request("BAD METHOD", "/").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Request("GET", "relative").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client->ConnectionsOpened(), 0u);
}

TEST(ClientTest, ConnectionRefusedIsUnavailable) {
  std::uint16_t port = 0;
  {
    net::io_context ioc;
    tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    port = acceptor.local_endpoint().port();
  }  // closed: nothing listens there now
  ASSERT_OK_AND_ASSIGN(auto client,
                       Client::Create("http://127.0.0.1:" + std::to_string(port)));
  auto r = client->Get("/healthz");
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
}

TEST(ClientTest, TimesOutAgainstServerThatNeverAnswers) {
  // Listening but never accepting: the kernel completes the handshake, nobody answers.
  net::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  ClientOptions options;
  options.timeout = 300ms;
  ASSERT_OK_AND_ASSIGN(
      auto client, Client::Create("http://127.0.0.1:" + std::to_string(port), options));
  const auto t0 = Clock::now();
  auto r = client->Post("/v1/publish", "{}");
  EXPECT_EQ(r.status().code(), StatusCode::kTimeout) << r.status().ToString();
  EXPECT_GE(Clock::now() - t0, 250ms);
  EXPECT_LT(Clock::now() - t0, 3s);
  // A per-call timeout overrides the default.
  const auto t1 = Clock::now();
  auto r2 = client->Request("GET", "/x", {}, {}, {}, 100ms);
  EXPECT_EQ(r2.status().code(), StatusCode::kTimeout);
  EXPECT_LT(Clock::now() - t1, 2s);
}

TEST(ClientTest, ReconnectsWhenServerClosedPooledConnection) {
  Router router;
  ASSERT_OK(
      router.AddSync("GET", "/ping", [](const Request&) { return Text(200, "pong"); }));
  ServerOptions options;
  options.idle_timeout = 100ms;
  auto server = testing::StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  ClientOptions client_options;
  client_options.max_idle_time = 1h;  // do not let the pool's own expiry hide the case
  ASSERT_OK_AND_ASSIGN(auto client,
                       Client::Create(testing::BaseUrlOf(*server), client_options));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(ClientResponse r, client->Get("/ping"));
    EXPECT_EQ(r.body, "pong");
    std::this_thread::sleep_for(300ms);  // the server closes the idle connection
  }
  EXPECT_EQ(client->ConnectionsOpened(), 3u);
}

TEST(ClientTest, PrefixHeadersAndBody) {
  Router router;
  ASSERT_OK(router.AddSync("PUT", "/api/items/{id}", [](const Request& req) {
    return Json(201,
                {{"target", req.target},
                 {"ct", req.Header("content-type").value_or("")},
                 {"custom", req.Header("x-request-id").value_or("")},
                 {"body", req.body}});
  }));
  auto server = testing::StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  ASSERT_OK_AND_ASSIGN(auto client,
                       Client::Create(testing::BaseUrlOf(*server) + "/api/"));
  ASSERT_OK_AND_ASSIGN(ClientResponse r,
                       client->Request("PUT",
                                       "/items/7?x=1",
                                       "payload",
                                       "application/x-flatbuffers",
                                       {{"X-Request-Id", "abc"}}));
  EXPECT_EQ(r.status, 201);
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["target"], "/api/items/7?x=1");
  EXPECT_EQ(body["ct"], "application/x-flatbuffers");
  EXPECT_EQ(body["custom"], "abc");
  EXPECT_EQ(body["body"], "payload");
}

TEST(ClientTest, ResponseBodyOverLimitIsUnavailable) {
  Router router;
  ASSERT_OK(router.AddSync(
      "GET", "/big", [](const Request&) { return Text(200, std::string(10000, 'z')); }));
  auto server = testing::StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  ClientOptions options;
  options.max_response_body = 100;
  ASSERT_OK_AND_ASSIGN(auto client, Client::Create(testing::BaseUrlOf(*server), options));
  EXPECT_EQ(client->Get("/big").status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tp::http
