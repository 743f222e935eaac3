// How many CPUs this process can use, for sizing thread pools. In a container the
// machine's count (std::thread::hardware_concurrency) overstates it: Kubernetes CPU
// limits are cgroup quotas, and cpusets narrow the affinity mask.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

namespace tp {

// The affinity mask's CPU count, capped by the CPU quota of the process's cgroup and
// of each of its ancestors (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us over
// cpu.cfs_period_us), rounded up. At least 1.
int AvailableCpus();

// As AvailableCpus, reading the process's cgroup membership from `proc_self_cgroup`
// (the format of /proc/self/cgroup) and the hierarchy under `cgroup_root` (where
// /sys/fs/cgroup is mounted); for tests.
int AvailableCpus(int affinity_cpus,
                  const std::filesystem::path& proc_self_cgroup,
                  const std::filesystem::path& cgroup_root);

// The CPUs a quota grants, from the text of a cgroup v2 cpu.max file ("150000 100000"
// grants 1.5; "max 100000" sets no limit). nullopt when there is no limit or the text
// is not of that form.
std::optional<double> CpuLimitFromCpuMax(std::string_view cpu_max);

// The same for cgroup v1: quota -1 sets no limit.
std::optional<double> CpuLimitFromCfs(std::string_view quota_us,
                                      std::string_view period_us);

}  // namespace tp
