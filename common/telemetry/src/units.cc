#include "tp/telemetry/units.h"

#include <array>
#include <utility>

namespace tp::telemetry {
namespace {

using Entry = std::pair<std::string_view, std::string_view>;

// Exact names first: the ten fields of the shipped export and the usual dcgm-exporter
// default set (etc/default-counters.csv).
constexpr std::array kUnits{
    Entry{"DCGM_FI_DEV_GPU_UTIL", "%"},
    Entry{"DCGM_FI_DEV_MEM_COPY_UTIL", "%"},
    Entry{"DCGM_FI_DEV_ENC_UTIL", "%"},
    Entry{"DCGM_FI_DEV_DEC_UTIL", "%"},
    Entry{"DCGM_FI_DEV_GPU_TEMP", "C"},
    Entry{"DCGM_FI_DEV_MEMORY_TEMP", "C"},
    Entry{"DCGM_FI_DEV_POWER_USAGE", "W"},
    Entry{"DCGM_FI_DEV_POWER_MGMT_LIMIT", "W"},
    Entry{"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "mJ"},
    Entry{"DCGM_FI_DEV_FB_FREE", "MiB"},
    Entry{"DCGM_FI_DEV_FB_USED", "MiB"},
    Entry{"DCGM_FI_DEV_FB_TOTAL", "MiB"},
    Entry{"DCGM_FI_DEV_FB_RESERVED", "MiB"},
    Entry{"DCGM_FI_DEV_SM_CLOCK", "MHz"},
    Entry{"DCGM_FI_DEV_MEM_CLOCK", "MHz"},
    Entry{"DCGM_FI_DEV_VIDEO_CLOCK", "MHz"},
    Entry{"DCGM_FI_DEV_PCIE_REPLAY_COUNTER", ""},
    Entry{"DCGM_FI_DEV_XID_ERRORS", ""},
    Entry{"DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", ""},
    Entry{"DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", ""},
    Entry{"DCGM_FI_DEV_VGPU_LICENSE_STATUS", ""},
    Entry{"DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", ""},
    Entry{"DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", ""},
    Entry{"DCGM_FI_DEV_ROW_REMAP_FAILURE", ""},
    Entry{"DCGM_FI_PROF_GR_ENGINE_ACTIVE", "ratio"},
    Entry{"DCGM_FI_PROF_SM_ACTIVE", "ratio"},
    Entry{"DCGM_FI_PROF_SM_OCCUPANCY", "ratio"},
    Entry{"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "ratio"},
    Entry{"DCGM_FI_PROF_PIPE_FP64_ACTIVE", "ratio"},
    Entry{"DCGM_FI_PROF_PIPE_FP32_ACTIVE", "ratio"},
    Entry{"DCGM_FI_PROF_PIPE_FP16_ACTIVE", "ratio"},
    Entry{"DCGM_FI_PROF_DRAM_ACTIVE", "ratio"},
    Entry{"DCGM_FI_PROF_PCIE_TX_BYTES", "B/s"},
    Entry{"DCGM_FI_PROF_PCIE_RX_BYTES", "B/s"},
    Entry{"DCGM_FI_PROF_NVLINK_TX_BYTES", "B/s"},
    Entry{"DCGM_FI_PROF_NVLINK_RX_BYTES", "B/s"},
};

// Suffix fallbacks for fields not listed above.
constexpr std::array kSuffixUnits{
    Entry{"_CLOCK", "MHz"},
    Entry{"_UTIL", "%"},
    Entry{"_TEMP", "C"},
    Entry{"_POWER_USAGE", "W"},
};

}  // namespace

std::string_view MetricUnit(std::string_view metric_name) {
  for (const auto& [name, unit] : kUnits) {
    if (name == metric_name)
      return unit;
  }
  for (const auto& [suffix, unit] : kSuffixUnits) {
    if (metric_name.size() > suffix.size() && metric_name.ends_with(suffix))
      return unit;
  }
  return {};
}

}  // namespace tp::telemetry
