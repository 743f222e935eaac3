// The gateway over real sockets: the in-process server with request metrics, and the
// apigw binary (flags from the environment, SIGTERM stops it cleanly).
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apigw/gateway.h"
#include "seed.h"
#include "test_util.h"
#include "tp/http/client.h"
#include "tp/http/server.h"
#include "tp/metrics/metrics.h"
#include "tp/testing/postgres_server.h"
#include "tp/testing/testing.h"

namespace tp::apigw {
namespace {

class SocketTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = tp::testing::SharedPostgresServer();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    auto conninfo = (*server)->CreateDatabase("apigw_socket");
    ASSERT_TRUE(conninfo.ok()) << conninfo.status().ToString();
    conninfo_ = new std::string(*conninfo);
    ASSERT_OK(testing::ApplySchema(*conninfo_));
    ASSERT_TRUE(testing::SeedFromCsv(*conninfo_, testing::RealCsvPath()).ok());
  }
  static std::string* conninfo_;
};
std::string* SocketTest::conninfo_ = nullptr;

TEST_F(SocketTest, ServesApiAndCountsRequestsPerRoute) {
  ASSERT_NE(conninfo_, nullptr);
  metrics::Registry registry;
  GatewayOptions options;
  options.database_url = *conninfo_;
  options.auth_token = "t0ken";
  options.web_dir = TP_APIGW_WEB_DIR;
  ASSERT_OK_AND_ASSIGN(auto served, testing::ServeGateway(options, &registry));
  ASSERT_OK_AND_ASSIGN(auto client, http::Client::Create(served.url()));
  const http::Headers auth = {{"Authorization", "Bearer t0ken"}};

  ASSERT_OK_AND_ASSIGN(auto health, client->Get("/healthz"));
  EXPECT_EQ(health.status, 200);
  ASSERT_OK_AND_ASSIGN(auto ready, client->Get("/readyz"));
  EXPECT_EQ(ready.status, 200) << ready.body;
  ASSERT_OK_AND_ASSIGN(auto denied, client->Get("/api/v1/gpus"));
  EXPECT_EQ(denied.status, 401);
  ASSERT_OK_AND_ASSIGN(auto gpus,
                       client->Request("GET", "/api/v1/gpus?limit=5", {}, {}, auth));
  ASSERT_EQ(gpus.status, 200) << gpus.body;
  auto body = nlohmann::json::parse(gpus.body);
  EXPECT_EQ(body["items"].size(), 5u);
  const std::string id = body["items"][0]["id"];
  ASSERT_OK_AND_ASSIGN(
      auto tel,
      client->Request("GET", "/api/v1/gpus/" + id + "/telemetry", {}, {}, auth));
  EXPECT_EQ(tel.status, 200);
  EXPECT_EQ(nlohmann::json::parse(tel.body)["items"].size(), 10u);
  ASSERT_OK_AND_ASSIGN(
      auto bad,
      client->Request("GET", "/api/v1/gpus/" + id + "/telemetry?limit=0", {}, {}, auth));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Header("Content-Type").value_or(""), "application/problem+json");
  ASSERT_OK_AND_ASSIGN(auto spec, client->Get("/openapi.json"));
  EXPECT_EQ(spec.status, 200);
  ASSERT_OK_AND_ASSIGN(auto swagger, client->Get("/swagger/swagger-ui-bundle.js"));
  EXPECT_EQ(swagger.status, 200);

  ASSERT_OK_AND_ASSIGN(auto metrics, client->Get("/metrics"));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("route=\"/api/v1/gpus/{id}/telemetry\""), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("code=\"400\""), std::string::npos);
  EXPECT_NE(metrics.body.find("code=\"401\""), std::string::npos);
  EXPECT_NE(metrics.body.find("http_request_duration_seconds_bucket"), std::string::npos);
  served.server->Stop();
}

// Starts build/bin/apigw with `env` added to the environment; returns its pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  pid_t pid = fork();
  if (pid == 0) {
    for (const auto& e : env) {
      putenv(const_cast<char*>(e.c_str()));
    }
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

TEST_F(SocketTest, BinaryReadsEnvironmentAndStopsOnSigterm) {
  ASSERT_NE(conninfo_, nullptr);
  // A free port: bind one, release it, hand it to the binary.
  std::uint16_t port = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto probe, http::Server::Create({.listen = "127.0.0.1:0"}));
    port = probe->port();
  }
  const std::string listen = "127.0.0.1:" + std::to_string(port);
  const std::string bin = (tp::testing::BinDir() / "apigw").string();
  pid_t pid = Spawn({bin, "--listen", listen, "--log-format", "text"},
                    {"DATABASE_URL=" + *conninfo_, "AUTH_TOKEN=envtoken"});
  ASSERT_GT(pid, 0);
  ASSERT_OK_AND_ASSIGN(auto client, http::Client::Create("http://" + listen));
  int ready = 0;
  for (int i = 0; i < 100 && ready != 200; ++i) {
    auto r = client->Get("/readyz");
    ready = r.ok() ? r->status : 0;
    if (ready != 200) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_EQ(ready, 200);
  auto denied = client->Get("/api/v1/metrics");
  ASSERT_TRUE(denied.ok());
  EXPECT_EQ(denied->status, 401);
  auto ok = client->Request(
      "GET", "/api/v1/metrics", {}, {}, {{"Authorization", "Bearer envtoken"}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200);

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = -1;
  bool exited = false;
  for (int i = 0; i < 100 && !exited; ++i) {
    exited = waitpid(pid, &status, WNOHANG) == pid;
    if (!exited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  ASSERT_TRUE(exited) << "apigw did not stop within 10 s of SIGTERM";
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace tp::apigw
