#include "streamer/scrape_source.h"

#include <gtest/gtest.h>

#include "tp/http/server.h"
#include "tp/telemetry/time.h"
#include "tp/testing/testing.h"

namespace tp::streamer {
namespace {

// The exporter's own text format (dcgm-exporter 3.x), including go_* series it also
// serves, which the parser must skip.
constexpr const char* kExporterPage =
    R"(# HELP DCGM_FI_DEV_SM_CLOCK SM clock frequency (in MHz).
# TYPE DCGM_FI_DEV_SM_CLOCK gauge
DCGM_FI_DEV_SM_CLOCK{gpu="0",UUID="GPU-5fd4f087-86f3-7a43-b711-4771313afc50",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="mtv5-dgx1-hgpu-031",DCGM_FI_DRIVER_VERSION="535.129.03",container="",namespace="",pod=""} 1980
DCGM_FI_DEV_SM_CLOCK{gpu="1",UUID="GPU-bc7a12ab-4998-fdc5-0785-2678a929a142",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="mtv5-dgx1-hgpu-031",DCGM_FI_DRIVER_VERSION="535.129.03",container="trainer",namespace="ml",pod="job-0"} 1755
# HELP DCGM_FI_DEV_GPU_TEMP GPU temperature (in C).
# TYPE DCGM_FI_DEV_GPU_TEMP gauge
DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-5fd4f087-86f3-7a43-b711-4771313afc50",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="mtv5-dgx1-hgpu-031",DCGM_FI_DRIVER_VERSION="535.129.03",container="",namespace="",pod=""} 34
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 12
)";

class ScrapeSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http::Router router;
    ASSERT_OK(router.AddSync("GET", "/metrics", [](const http::Request&) {
      http::Response r = http::Text(200, kExporterPage);
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      return r;
    }));
    ASSERT_OK(router.AddSync(
        "GET", "/broken", [](const http::Request&) { return http::Text(500, "oops"); }));
    http::ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.threads = 1;
    ASSERT_OK_AND_ASSIGN(server_, http::Server::Create(o));
    ASSERT_OK(server_->Start(std::move(router)));
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  std::unique_ptr<http::Server> server_;
  std::string base_;
};

TEST_F(ScrapeSourceTest, ScrapesTheExporterPage) {
  ASSERT_OK_AND_ASSIGN(auto source, ScrapeSource::Create(base_ + "/metrics"));
  const auto now = telemetry::ParseRfc3339("2025-07-18T20:42:34.5Z").value();
  ASSERT_OK_AND_ASSIGN(auto page, source->Scrape(now));
  ASSERT_EQ(page.records.size(), 3u);
  EXPECT_TRUE(page.errors.empty());
  EXPECT_EQ(page.skipped_series, 1u);
  const auto& first = page.records[0];
  EXPECT_EQ(first.metric_name, "DCGM_FI_DEV_SM_CLOCK");
  EXPECT_EQ(first.uuid, "GPU-5fd4f087-86f3-7a43-b711-4771313afc50");
  EXPECT_EQ(first.model_name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(first.hostname, "mtv5-dgx1-hgpu-031");
  EXPECT_EQ(first.timestamp, now);
  EXPECT_EQ(first.value, 1980);
  EXPECT_EQ(page.records[1].pod, "job-0");
  EXPECT_EQ(page.records[2].value, 34);
  // A second scrape reuses the keep-alive connection.
  ASSERT_OK(source->Scrape(now).status());
}

TEST_F(ScrapeSourceTest, DefaultPathIsMetrics) {
  ASSERT_OK_AND_ASSIGN(auto source, ScrapeSource::Create(base_));
  ASSERT_OK_AND_ASSIGN(auto page, source->Scrape(telemetry::NowMicros()));
  EXPECT_EQ(page.records.size(), 3u);
}

TEST_F(ScrapeSourceTest, ErrorsAreStatuses) {
  ASSERT_OK_AND_ASSIGN(auto broken, ScrapeSource::Create(base_ + "/broken"));
  EXPECT_EQ(broken->Scrape(telemetry::NowMicros()).status().code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(ScrapeSource::Create("https://x:1/metrics").status().code(),
            StatusCode::kInvalidArgument);
  server_->Stop();
  ASSERT_OK_AND_ASSIGN(auto gone, ScrapeSource::Create(base_ + "/metrics"));
  EXPECT_FALSE(gone->Scrape(telemetry::NowMicros()).ok());
}

TEST(ParseDurationTest, Units) {
  EXPECT_EQ(ParseDuration("15s").value(), std::chrono::seconds(15));
  EXPECT_EQ(ParseDuration("500ms").value(), std::chrono::milliseconds(500));
  EXPECT_EQ(ParseDuration("2m").value(), std::chrono::minutes(2));
  EXPECT_EQ(ParseDuration("3").value(), std::chrono::seconds(3));
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("0s").ok());
  EXPECT_FALSE(ParseDuration("5x").ok());
  EXPECT_FALSE(ParseDuration("-1s").ok());
}

}  // namespace
}  // namespace tp::streamer
