#include "streamer/exposition.h"

#include <gtest/gtest.h>

#include "tp/telemetry/labels.h"
#include "tp/testing/testing.h"

namespace tp::streamer {
namespace {

using telemetry::FormatRfc3339;
using telemetry::Timestamp;

const Timestamp kScrapeTime{std::chrono::microseconds(1752871354000000)};

// Shaped like a dcgm-exporter 3.x page, with Go runtime series mixed in.
constexpr const char* kPage = R"(# HELP DCGM_FI_DEV_SM_CLOCK SM clock frequency (in MHz).
# TYPE DCGM_FI_DEV_SM_CLOCK gauge
DCGM_FI_DEV_SM_CLOCK{gpu="0",UUID="GPU-5fd4f087-86f3-7a43-b711-4771313afc50",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="mtv5-dgx1-hgpu-031",DCGM_FI_DRIVER_VERSION="535.129.03",container="",namespace="",pod=""} 1980
DCGM_FI_DEV_SM_CLOCK{gpu="1",UUID="GPU-bc7a12ab-4998-fdc5-0785-2678a929a142",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="mtv5-dgx1-hgpu-031",DCGM_FI_DRIVER_VERSION="535.129.03",container="trainer",namespace="ml",pod="job-0"} 1755
# HELP DCGM_FI_DEV_GPU_TEMP GPU temperature (in C).
# TYPE DCGM_FI_DEV_GPU_TEMP gauge
DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-5fd4f087-86f3-7a43-b711-4771313afc50",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="mtv5-dgx1-hgpu-031",DCGM_FI_DRIVER_VERSION="535.129.03",container="",namespace="",pod=""} 34
# HELP DCGM_FI_DEV_POWER_USAGE Power draw (in W).
# TYPE DCGM_FI_DEV_POWER_USAGE gauge
DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-5fd4f087-86f3-7a43-b711-4771313afc50",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="mtv5-dgx1-hgpu-031",DCGM_FI_DRIVER_VERSION="535.129.03",container="",namespace="",pod=""} 156.596 1752871355123

# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 12
process_cpu_seconds_total 0.5
DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-5fd4f087-86f3-7a43-b711-4771313afc50",Hostname="h",note="a \"quoted\" } brace"} NaN
DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-5fd4f087-86f3-7a43-b711-4771313afc50"} 9223372036854775794
)";

TEST(ExpositionTest, ParsesDcgmExporterPage) {
  const ExpositionResult result = ParseExposition(kPage, kScrapeTime);
  EXPECT_TRUE(result.errors.empty()) << result.errors.front().ToString();
  EXPECT_EQ(result.skipped_series, 2u);
  ASSERT_EQ(result.records.size(), 6u);

  const auto& sm = result.records[0];
  EXPECT_EQ(sm.metric_name, "DCGM_FI_DEV_SM_CLOCK");
  EXPECT_EQ(sm.gpu_id, 0);
  EXPECT_EQ(sm.uuid, "GPU-5fd4f087-86f3-7a43-b711-4771313afc50");
  EXPECT_EQ(sm.device, "nvidia0");
  EXPECT_EQ(sm.model_name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(sm.hostname, "mtv5-dgx1-hgpu-031");
  EXPECT_EQ(sm.value, 1980.0);
  EXPECT_EQ(sm.timestamp, kScrapeTime);
  // Rebuilt like the CSV's labels_raw: sorted by key, __name__ included.
  EXPECT_EQ(sm.labels_raw,
            R"(DCGM_FI_DRIVER_VERSION="535.129.03",Hostname="mtv5-dgx1-hgpu-031",)"
            R"(UUID="GPU-5fd4f087-86f3-7a43-b711-4771313afc50",)"
            R"(__name__="DCGM_FI_DEV_SM_CLOCK",container="",device="nvidia0",gpu="0",)"
            R"(modelName="NVIDIA H100 80GB HBM3",namespace="",pod="")");

  const auto& sm1 = result.records[1];
  EXPECT_EQ(sm1.gpu_id, 1);
  EXPECT_EQ(sm1.container, "trainer");
  EXPECT_EQ(sm1.namespace_, "ml");
  EXPECT_EQ(sm1.pod, "job-0");

  EXPECT_EQ(result.records[2].value, 34.0);

  const auto& power = result.records[3];
  EXPECT_EQ(power.value, 156.596);
  EXPECT_EQ(FormatRfc3339(power.timestamp), "2025-07-18T20:42:35.123000Z");

  const auto& fb_used = result.records[4];
  EXPECT_EQ(fb_used.value, std::nullopt);
  ASSERT_OK_AND_ASSIGN(telemetry::Labels labels,
                       telemetry::ParseLabels(fb_used.labels_raw));
  EXPECT_EQ(labels["note"], R"(a "quoted" } brace)");

  EXPECT_EQ(result.records[5].value, std::nullopt);  // blank sentinel
}

TEST(ExpositionTest, BadLinesAreReportedWithLineNumbersAndSkipped) {
  const std::string page =
      "# TYPE DCGM_FI_DEV_GPU_TEMP gauge\r\n"
      "DCGM_FI_DEV_GPU_TEMP{gpu=\"0\",UUID=\"GPU-a\"} 30\r\n"
      "DCGM_FI_DEV_GPU_TEMP{gpu=\"1\"} 31\n"
      "DCGM_FI_DEV_GPU_TEMP{UUID=\"GPU-c\"} 32\n"
      "DCGM_FI_DEV_GPU_TEMP{gpu=\"x\",UUID=\"GPU-d\"} 33\n"
      "DCGM_FI_DEV_GPU_TEMP{gpu=\"3\",UUID=\"GPU-e\"\n"
      "DCGM_FI_DEV_GPU_TEMP{gpu=\"4\",UUID=\"GPU-f\"} abc\n"
      "DCGM_FI_DEV_GPU_TEMP{gpu=\"5\",UUID=\"GPU-g\"}\n"
      "DCGM_FI_DEV_GPU_TEMP{gpu=\"6\",UUID=\"GPU-h\"} 1 2 3\n"
      "DCGM_FI_DEV_GPU_TEMP{gpu=\"7\",UUID=\"GPU-i\"} 1 soon\n"
      "DCGM_FI_DEV_GPU_TEMP{gpu=7} 1\n"
      "{gpu=\"8\"} 1\n"
      "DCGM_FI_DEV_GPU_TEMP{gpu=\"9\",UUID=\"GPU-j\"} +Inf\n"
      "DCGM_FI_DEV_GPU_TEMP{gpu=\"10\",UUID=\"GPU-k\"}1\n"
      "DCGM_FI_DEV_GPU_TEMP{gpu=\"11\",UUID=\"GPU-l\"} 41";
  const ExpositionResult result = ParseExposition(page, kScrapeTime);
  ASSERT_EQ(result.records.size(), 2u);
  EXPECT_EQ(result.records[0].uuid, "GPU-a");
  EXPECT_EQ(result.records[1].uuid, "GPU-l");
  struct Expected {
    int64_t line;
    const char* why;
  };
  const std::vector<Expected> expected = {
      {3, "missing label 'UUID'"},
      {4, "missing label 'gpu'"},
      {5, "label gpu: bad gpu id"},
      {6, "unclosed '{'"},
      {7, "value: bad number"},
      {8, "missing value"},
      {9, "unexpected text"},
      {10, "bad timestamp 'soon'"},
      {11, "malformed labels"},
      {12, "expected a metric name"},
      {13, "value: not a finite"},
      {14, "expected a space"},
  };
  ASSERT_EQ(result.errors.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(result.errors[i].line, expected[i].line) << result.errors[i].ToString();
    EXPECT_NE(result.errors[i].reason.find(expected[i].why), std::string::npos)
        << result.errors[i].ToString();
  }
  EXPECT_EQ(result.errors[0].ToString(), "line 3: missing label 'UUID'");
}

TEST(ExpositionTest, EmptyPageHasNothing) {
  const ExpositionResult result = ParseExposition("", kScrapeTime);
  EXPECT_TRUE(result.records.empty());
  EXPECT_TRUE(result.errors.empty());
  EXPECT_EQ(result.skipped_series, 0u);
}

}  // namespace
}  // namespace tp::streamer
