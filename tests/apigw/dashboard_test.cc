// The dashboard in headless Chromium against a gateway on a real socket, with a database
// seeded from the real DCGM export (20 loops, 45 s apart: 15 minutes of data ending
// 2025-07-18T20:56:52Z, long before "now", so the page must fall back to the GPU's
// last_seen). Screenshots: <build>/tests/apigw/artifacts/dashboard*.png.
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "apigw/gateway.h"
#include "seed.h"
#include "test_util.h"
#include "tp/http/server.h"
#include "tp/metrics/metrics.h"
#include "tp/testing/postgres_server.h"
#include "tp/testing/testing.h"

namespace tp::apigw {
namespace {

bool Exists(const char* path) {
  return std::filesystem::exists(path);
}

TEST(DashboardTest, LoadsChartsAndSwitchesGpusInChromium) {
  if (!Exists("/usr/bin/chromium") || !Exists("/usr/bin/node")) {
    GTEST_SKIP() << "needs /usr/bin/chromium and /usr/bin/node";
  }
  ASSERT_OK_AND_ASSIGN(auto server, tp::testing::SharedPostgresServer());
  ASSERT_OK_AND_ASSIGN(auto conninfo, server->CreateDatabase("apigw_dashboard"));
  ASSERT_OK(testing::ApplySchema(conninfo));
  ASSERT_OK_AND_ASSIGN(
      auto rows,
      testing::SeedFromCsv(
          conninfo, testing::RealCsvPath(), 20, std::chrono::seconds(45)));
  ASSERT_GT(rows.size(), 40000u);

  metrics::Registry registry;
  GatewayOptions options;
  options.database_url = conninfo;
  options.web_dir = TP_APIGW_WEB_DIR;
  ASSERT_OK_AND_ASSIGN(auto served, testing::ServeGateway(options, &registry));

  const std::string url = served.url();
  const std::string node_path = std::string("NODE_PATH=") + TP_APIGW_NODE_PATH;
  auto out = tp::testing::RunProcess({"/usr/bin/env",
                                      node_path,
                                      "/usr/bin/node",
                                      TP_APIGW_BROWSER_SCRIPT,
                                      url,
                                      TP_APIGW_ARTIFACTS});
  EXPECT_EQ(out.exit_code, 0) << out.out << out.err;
  std::cout << "browser: " << out.out << std::endl;
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(TP_APIGW_ARTIFACTS) /
                                      "dashboard.png"));
  served.server->Stop();
}

}  // namespace
}  // namespace tp::apigw
