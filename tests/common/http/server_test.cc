// The server over real sockets on 127.0.0.1:0. Every wait is bounded.
#include "tp/http/server.h"

#include <atomic>
#include <future>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_server.h"
#include "tp/http/client.h"
#include "tp/metrics/metrics.h"
#include "tp/testing/testing.h"

namespace tp::http {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)
using Clock = std::chrono::steady_clock;
using testing::BaseUrlOf;
using testing::RawConnection;
using testing::StartServer;

// A coroutine handler that sleeps on a timer, as a long-poll does. Takes its state as
// parameters: coroutine lambdas never capture.
net::awaitable<Response> Sleep(std::chrono::milliseconds d, std::atomic<int>* started) {
  if (started != nullptr) {
    started->fetch_add(1);
  }
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(d);
  co_await timer.async_wait(net::use_awaitable);
  co_return Text(200, "slept");
}

Response EchoRequest(const Request& req) {
  nlohmann::json query = nlohmann::json::object();
  for (const auto& [k, v] : req.query) {
    query[k].push_back(v);
  }
  return Json(200,
              {{"method", req.method},
               {"id", req.PathParam("id")},
               {"query", query},
               {"x_test", req.Header("X-TEST").value_or("")},
               {"remote", req.remote_address},
               {"body", req.body}});
}

std::unique_ptr<Client> MakeClient(const Server& server, ClientOptions options = {}) {
  auto c = Client::Create(BaseUrlOf(server), options);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

// Polls `pred` every 5 ms for at most `limit`.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit = 5s) {
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (pred()) {
      return true;
    }
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

class ServerTest : public ::testing::Test {
 protected:
  void Serve(ServerOptions options = {}) {
    options.registry = &registry_;
    ASSERT_OK(InstallStandardEndpoints(router_, {&registry_, nullptr}));
    server_ = StartServer(std::move(router_), options);
    ASSERT_NE(server_, nullptr);
    client_ = MakeClient(*server_);
    ASSERT_NE(client_, nullptr);
  }

  metrics::Registry registry_;
  Router router_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ServerTest, RoutesWithParamsQueryAndHeaders) {
  ASSERT_OK(router_.AddSync("GET", "/api/v1/gpus/{id}/telemetry", EchoRequest));
  ASSERT_OK(router_.AddSync("POST", "/v1/publish", EchoRequest));
  Serve();
  ASSERT_OK_AND_ASSIGN(
      ClientResponse r,
      client_->Request("GET",
                       "/api/v1/gpus/GPU-1%2F2/"
                       "telemetry?m=a&m=b%20c&start_time=2024-01-01T00%3A00%3A00Z",
                       {},
                       {},
                       {{"x-test", "hello"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("content-type").value(), "application/json");
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["id"], "GPU-1/2");
  EXPECT_EQ(body["query"]["m"], nlohmann::json({"a", "b c"}));
  EXPECT_EQ(body["query"]["start_time"][0], "2024-01-01T00:00:00Z");
  EXPECT_EQ(body["x_test"], "hello");
  EXPECT_THAT(body["remote"].get<std::string>(), ::testing::StartsWith("127.0.0.1:"));

  ASSERT_OK_AND_ASSIGN(ClientResponse p, client_->Post("/v1/publish", R"({"a":1})"));
  EXPECT_EQ(nlohmann::json::parse(p.body)["body"], R"({"a":1})");
}

TEST_F(ServerTest, UnknownPathIs404WrongMethodIs405) {
  ASSERT_OK(router_.AddSync("POST", "/v1/publish", EchoRequest));
  Serve();
  ASSERT_OK_AND_ASSIGN(ClientResponse nf, client_->Get("/v1/nope"));
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.Header("Content-Type").value(), "application/problem+json");
  ASSERT_OK_AND_ASSIGN(ClientResponse na, client_->Get("/v1/publish"));
  EXPECT_EQ(na.status, 405);
  EXPECT_EQ(na.Header("allow").value(), "POST");
  EXPECT_EQ(nlohmann::json::parse(na.body)["status"], 405);
}

TEST_F(ServerTest, BodyOverLimitIs413Problem) {
  ASSERT_OK(router_.AddSync("POST", "/v1/publish", EchoRequest));
  ServerOptions options;
  options.body_limit = 1024;
  Serve(options);
  ASSERT_OK_AND_ASSIGN(ClientResponse ok,
                       client_->Post("/v1/publish", std::string(1024, 'a')));
  EXPECT_EQ(ok.status, 200);
  ASSERT_OK_AND_ASSIGN(ClientResponse big,
                       client_->Post("/v1/publish", std::string(256 * 1024, 'a')));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(big.Header("Content-Type").value(), "application/problem+json");
  EXPECT_EQ(nlohmann::json::parse(big.body)["status"], 413);
  // The refused connection is closed; the next call transparently opens another.
  ASSERT_OK_AND_ASSIGN(ClientResponse again, client_->Post("/v1/publish", "x"));
  EXPECT_EQ(again.status, 200);
}

TEST_F(ServerTest, HandlerExceptionIs500AndServerKeepsServing) {
  ASSERT_OK(router_.AddSync("GET", "/boom", [](const Request&) -> Response {
    throw std::runtime_error("kaboom");
  }));
  ASSERT_OK(
      router_.AddSync("GET", "/ok", [](const Request&) { return Text(200, "fine"); }));
  Serve();
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(ClientResponse r, client_->Get("/boom"));
    EXPECT_EQ(r.status, 500);
    auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body["title"], "Internal Server Error");
    EXPECT_EQ(r.body.find("kaboom"), std::string::npos) << "internals must not leak";
    ASSERT_OK_AND_ASSIGN(ClientResponse ok, client_->Get("/ok"));
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "fine");
  }
  EXPECT_EQ(client_->ConnectionsOpened(), 1u);
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  ASSERT_OK(router_.AddSync("GET", "/echo", EchoRequest));
  Serve();
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.connected());
  std::set<std::string> remotes;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        conn.Send("GET /echo?i=" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto res = conn.Read();
    ASSERT_TRUE(res.has_value()) << "request " << i;
    EXPECT_EQ(res->result_int(), 200u);
    EXPECT_TRUE(res->keep_alive());
    auto body = nlohmann::json::parse(res->body());
    EXPECT_EQ(body["query"]["i"][0], std::to_string(i));
    remotes.insert(body["remote"].get<std::string>());
  }
  EXPECT_EQ(remotes, std::set<std::string>{conn.LocalAddress()});

  // The client pool reuses one connection for sequential calls.
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK_AND_ASSIGN(ClientResponse r, client_->Get("/echo"));
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_EQ(client_->ConnectionsOpened(), 1u);
  EXPECT_EQ(client_->IdleConnections(), 1u);
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  ASSERT_OK(router_.AddSync("GET", "/echo", EchoRequest));
  Serve();
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send("GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  auto res = conn.Read();
  ASSERT_TRUE(res.has_value());
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(conn.WaitClosed(2s));
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosed) {
  ServerOptions options;
  options.idle_timeout = 200ms;
  Serve(options);
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(conn.Read().has_value());
  const auto start = Clock::now();
  EXPECT_TRUE(conn.WaitClosed(5s));
  EXPECT_GE(Clock::now() - start, 150ms);
}

TEST_F(ServerTest, ReadTimeoutClosesHalfSentRequest) {
  ServerOptions options;
  options.read_timeout = 200ms;
  Serve(options);
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send("GET /healthz HTTP/1.1\r\nHost: t\r\n"));  // no blank line
  const auto start = Clock::now();
  EXPECT_TRUE(conn.WaitClosed(5s));
  EXPECT_LT(Clock::now() - start, 3s);
  ASSERT_OK_AND_ASSIGN(ClientResponse r, client_->Get("/healthz"));
  EXPECT_EQ(r.status, 200);
}

TEST_F(ServerTest, MalformedRequestIs400) {
  Serve();
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send("GET /healthz HTTP/1.1\r\nBad Header Line\r\n\r\n"));
  auto res = conn.Read();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 400u);
}

TEST_F(ServerTest, ConcurrentClientsFromSeveralThreads) {
  std::atomic<int> served{0};
  ASSERT_OK(router_.AddSync("POST", "/v1/items/{id}", [&served](const Request& req) {
    served.fetch_add(1);
    return Json(200, {{"id", req.PathParam("id")}, {"len", req.body.size()}});
  }));
  ServerOptions options;
  options.threads = 3;
  Serve(options);
  constexpr int kThreads = 6;
  constexpr int kPerThread = 40;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = std::to_string(t) + "-" + std::to_string(i);
        auto r =
            client_->Post("/v1/items/" + id, std::string(static_cast<size_t>(i), 'x'));
        if (r.ok() && r->status == 200) {
          auto body = nlohmann::json::parse(r->body);
          if (body["id"] == id && body["len"] == i) {
            good.fetch_add(1);
          }
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(good.load(), kThreads * kPerThread);
  EXPECT_EQ(served.load(), kThreads * kPerThread);
  EXPECT_LE(client_->ConnectionsOpened(), static_cast<size_t>(kThreads));
}

TEST_F(ServerTest, LongPollDoesNotBlockOtherRequests) {
  std::atomic<int> started{0};
  ASSERT_OK(router_.Add(
      "GET", "/wait", [&started](Request) { return Sleep(600ms, &started); }));
  ASSERT_OK(
      router_.AddSync("GET", "/fast", [](const Request&) { return Text(200, "f"); }));
  ServerOptions options;
  options.threads = 1;  // one io thread: only suspension lets /fast through
  Serve(options);
  auto waiter = std::async(std::launch::async, [this] {
    const auto t0 = Clock::now();
    auto r = client_->Get("/wait");
    return std::make_pair(r.ok() ? r->status : -1, Clock::now() - t0);
  });
  ASSERT_TRUE(WaitFor([&] { return started.load() == 1; }));
  const auto t0 = Clock::now();
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK_AND_ASSIGN(ClientResponse r, client_->Get("/fast"));
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_LT(Clock::now() - t0, 500ms) << "fast requests waited for the long poll";
  ASSERT_EQ(waiter.wait_for(10s), std::future_status::ready);
  auto [status, elapsed] = waiter.get();
  EXPECT_EQ(status, 200);
  EXPECT_GE(elapsed, 550ms);
}

TEST_F(ServerTest, HandlerMayOutliveReadAndIdleTimeouts) {
  // The socket timeouts cover reading and writing, not the time a handler waits.
  ASSERT_OK(router_.Add("GET", "/wait", [](Request) { return Sleep(400ms, nullptr); }));
  ServerOptions options;
  options.read_timeout = 100ms;
  options.idle_timeout = 100ms;
  Serve(options);
  ASSERT_OK_AND_ASSIGN(ClientResponse r, client_->Get("/wait"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "slept");
}

TEST_F(ServerTest, StopLetsInFlightRequestFinish) {
  std::atomic<int> started{0};
  ASSERT_OK(router_.Add(
      "GET", "/slow", [&started](Request) { return Sleep(300ms, &started); }));
  Serve();
  // An idle keep-alive connection: Stop closes it at once.
  RawConnection idle(server_->port());
  ASSERT_TRUE(idle.Send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(idle.Read().has_value());

  auto slow = std::async(std::launch::async, [this] { return client_->Get("/slow"); });
  ASSERT_TRUE(WaitFor([&] { return started.load() == 1; }));
  const auto t0 = Clock::now();
  server_->Stop();
  EXPECT_LT(Clock::now() - t0, 3s);
  ASSERT_EQ(slow.wait_for(5s), std::future_status::ready);
  auto r = slow.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "slept");
  EXPECT_EQ(r->Header("connection").value_or(""), "close");
  EXPECT_TRUE(idle.WaitClosed(2s));
  // No longer accepting.
  auto after = client_->Get("/healthz");
  EXPECT_EQ(after.status().code(), StatusCode::kUnavailable);
  server_->Stop();  // idempotent
}

TEST_F(ServerTest, StopBoundsStuckHandler) {
  std::atomic<int> started{0};
  ASSERT_OK(
      router_.Add("GET", "/stuck", [&started](Request) { return Sleep(60s, &started); }));
  ServerOptions options;
  options.stop_grace = 200ms;
  Serve(options);
  auto stuck = std::async(std::launch::async, [this] { return client_->Get("/stuck"); });
  ASSERT_TRUE(WaitFor([&] { return started.load() == 1; }));
  const auto t0 = Clock::now();
  server_->Stop();
  EXPECT_LT(Clock::now() - t0, 2s);
  ASSERT_EQ(stuck.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(stuck.get().status().code(), StatusCode::kUnavailable);
  server_.reset();  // destroys the suspended handler frame
}

TEST_F(ServerTest, StopIsThreadSafeAndIdempotent) {
  Serve();
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([this] { server_->Stop(); });
  }
  for (auto& t : threads) {
    t.join();
  }
  server_->Stop();
  EXPECT_FALSE(server_->Start(Router()).ok());
}

TEST_F(ServerTest, MetricsRecordedPerRoute) {
  ASSERT_OK(router_.AddSync("GET", "/api/v1/gpus/{id}", EchoRequest));
  Serve();
  for (const char* id : {"a", "b"}) {
    ASSERT_OK_AND_ASSIGN(ClientResponse r,
                         client_->Get(std::string("/api/v1/gpus/") + id));
    EXPECT_EQ(r.status, 200);
  }
  ASSERT_OK_AND_ASSIGN(ClientResponse nf, client_->Get("/random/path"));
  EXPECT_EQ(nf.status, 404);
  ASSERT_OK_AND_ASSIGN(ClientResponse m, client_->Get("/metrics"));
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.Header("content-type").value(), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(m.body, ::testing::HasSubstr("# TYPE http_requests_total counter\n"));
  EXPECT_THAT(m.body,
              ::testing::HasSubstr("http_requests_total{route=\"/api/v1/gpus/"
                                   "{id}\",method=\"GET\",code=\"200\"} 2\n"));
  EXPECT_THAT(
      m.body,
      ::testing::HasSubstr(
          "http_requests_total{route=\"unmatched\",method=\"GET\",code=\"404\"} 1\n"));
  EXPECT_THAT(
      m.body,
      ::testing::HasSubstr("http_request_duration_seconds_count{route=\"/api/v1/gpus/"
                           "{id}\",method=\"GET\",code=\"200\"} 2\n"));
  EXPECT_THAT(
      m.body,
      ::testing::HasSubstr("http_request_duration_seconds_bucket{route=\"/api/v1/gpus/"
                           "{id}\",method=\"GET\",code=\"200\",le=\"+Inf\"} 2\n"));
  EXPECT_THAT(m.body, ::testing::HasSubstr("http_open_connections 1\n"));
  // The /metrics request itself is in flight while rendering.
  EXPECT_THAT(m.body, ::testing::HasSubstr("http_requests_in_flight 1\n"));
}

TEST_F(ServerTest, ComponentWorkRunsOnServerExecutor) {
  Serve();
  std::promise<bool> ran;
  net::post(server_->executor(), [&ran] { ran.set_value(true); });
  auto f = ran.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(f.get());
}

TEST(ServerCreateTest, PortZeroAndBindConflict) {
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  ASSERT_OK_AND_ASSIGN(auto a, Server::Create(options));
  EXPECT_NE(a->port(), 0);
  EXPECT_EQ(a->address(), "127.0.0.1:" + std::to_string(a->port()));
  options.listen = a->address();
  auto b = Server::Create(options);
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  options.listen = "nonsense";
  EXPECT_EQ(Server::Create(options).status().code(), StatusCode::kInvalidArgument);
  options.listen = "127.0.0.1:0";
  options.threads = 0;
  EXPECT_EQ(Server::Create(options).status().code(), StatusCode::kInvalidArgument);
  // Never started: destruction must not hang.
}

}  // namespace
}  // namespace tp::http
