#include "tp/cpus.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sched.h>

namespace tp {
namespace {

std::string_view Trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos)
    return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::optional<int64_t> ParseInt(std::string_view s) {
  s = Trim(s);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size())
    return std::nullopt;
  return value;
}

std::optional<double> Limit(std::optional<int64_t> quota, std::optional<int64_t> period) {
  if (!quota || !period || *quota <= 0 || *period <= 0)
    return std::nullopt;
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::optional<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in)
    return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The directories of `cgroup_path` and of each of its ancestors under `root`, deepest
// first.
std::vector<std::filesystem::path> SelfAndAncestors(const std::filesystem::path& root,
                                                    std::string_view cgroup_path) {
  std::vector<std::filesystem::path> out;
  std::string rel(Trim(cgroup_path));
  while (true) {
    out.push_back(root / std::filesystem::path(rel).relative_path());
    const auto slash = rel.find_last_of('/');
    if (rel.empty() || rel == "/" || slash == std::string::npos)
      break;
    rel = slash == 0 ? "/" : rel.substr(0, slash);
  }
  return out;
}

// The lowest quota on the way from the process's cgroup to the root, in CPUs.
std::optional<double> CgroupLimit(const std::filesystem::path& proc_self_cgroup,
                                  const std::filesystem::path& cgroup_root) {
  const auto membership = ReadFile(proc_self_cgroup);
  if (!membership)
    return std::nullopt;
  std::optional<double> lowest;
  auto consider = [&](std::optional<double> limit) {
    if (limit && (!lowest || *limit < *lowest))
      lowest = limit;
  };
  std::istringstream lines(*membership);
  std::string line;
  while (std::getline(lines, line)) {
    // "hierarchy-id:controllers:path"; v2 is "0::path".
    const auto first = line.find(':');
    const auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos)
      continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string_view path = std::string_view(line).substr(second + 1);
    if (line.compare(0, first, "0") == 0 && controllers.empty()) {
      for (const auto& dir : SelfAndAncestors(cgroup_root, path)) {
        if (auto text = ReadFile(dir / "cpu.max"))
          consider(CpuLimitFromCpuMax(*text));
      }
      continue;
    }
    std::istringstream names(controllers);
    std::string name;
    bool has_cpu = false;
    while (std::getline(names, name, ','))
      has_cpu = has_cpu || name == "cpu";
    if (!has_cpu)
      continue;
    for (const auto& dir : SelfAndAncestors(cgroup_root / controllers, path)) {
      auto quota = ReadFile(dir / "cpu.cfs_quota_us");
      auto period = ReadFile(dir / "cpu.cfs_period_us");
      if (quota && period)
        consider(CpuLimitFromCfs(*quota, *period));
    }
  }
  return lowest;
}

int AffinityCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0)
    return 1;
  return std::max(1, CPU_COUNT(&set));
}

}  // namespace

std::optional<double> CpuLimitFromCpuMax(std::string_view cpu_max) {
  cpu_max = Trim(cpu_max);
  const auto space = cpu_max.find(' ');
  if (space == std::string_view::npos)
    return std::nullopt;
  return Limit(ParseInt(cpu_max.substr(0, space)), ParseInt(cpu_max.substr(space + 1)));
}

std::optional<double> CpuLimitFromCfs(std::string_view quota_us,
                                      std::string_view period_us) {
  return Limit(ParseInt(quota_us), ParseInt(period_us));
}

int AvailableCpus(int affinity_cpus,
                  const std::filesystem::path& proc_self_cgroup,
                  const std::filesystem::path& cgroup_root) {
  int cpus = std::max(1, affinity_cpus);
  if (auto limit = CgroupLimit(proc_self_cgroup, cgroup_root))
    cpus = std::min(cpus, std::max(1, static_cast<int>(std::ceil(*limit))));
  return cpus;
}

int AvailableCpus() {
  return AvailableCpus(AffinityCpus(), "/proc/self/cgroup", "/sys/fs/cgroup");
}

}  // namespace tp
