#include "tp/telemetry/units.h"

#include <gtest/gtest.h>

namespace tp::telemetry {
namespace {

TEST(UnitsTest, KnowsTheShippedCsvMetrics) {
  EXPECT_EQ(MetricUnit("DCGM_FI_DEV_GPU_UTIL"), "%");
  EXPECT_EQ(MetricUnit("DCGM_FI_DEV_MEM_COPY_UTIL"), "%");
  EXPECT_EQ(MetricUnit("DCGM_FI_DEV_ENC_UTIL"), "%");
  EXPECT_EQ(MetricUnit("DCGM_FI_DEV_DEC_UTIL"), "%");
  EXPECT_EQ(MetricUnit("DCGM_FI_DEV_GPU_TEMP"), "C");
  EXPECT_EQ(MetricUnit("DCGM_FI_DEV_POWER_USAGE"), "W");
  EXPECT_EQ(MetricUnit("DCGM_FI_DEV_FB_FREE"), "MiB");
  EXPECT_EQ(MetricUnit("DCGM_FI_DEV_FB_USED"), "MiB");
  EXPECT_EQ(MetricUnit("DCGM_FI_DEV_SM_CLOCK"), "MHz");
  EXPECT_EQ(MetricUnit("DCGM_FI_DEV_MEM_CLOCK"), "MHz");
}

TEST(UnitsTest, FallsBackOnSuffixAndUnknownIsEmpty) {
  EXPECT_EQ(MetricUnit("DCGM_FI_DEV_APP_SM_CLOCK"), "MHz");
  EXPECT_EQ(MetricUnit("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"), "mJ");
  EXPECT_EQ(MetricUnit("DCGM_FI_DEV_XID_ERRORS"), "");
  EXPECT_EQ(MetricUnit("something_else"), "");
  EXPECT_EQ(MetricUnit(""), "");
  EXPECT_EQ(MetricUnit("_CLOCK"), "");
}

}  // namespace
}  // namespace tp::telemetry
