#include "load_stats.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <sstream>

#include <sys/resource.h>
#include <unistd.h>

namespace tp::bench {

Latency Summarize(std::vector<double> ms) {
  Latency l;
  if (ms.empty())
    return l;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    const auto rank = static_cast<std::size_t>(q * static_cast<double>(ms.size()));
    return ms[std::min(ms.size() - 1, rank)];
  };
  l.samples = ms.size();
  l.p50_ms = at(0.50);
  l.p99_ms = at(0.99);
  l.mean_ms = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
  l.max_ms = ms.back();
  return l;
}

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  // Field 2 (comm) may hold spaces; fields after its closing ')' are space-separated.
  const auto close = text.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double utime = 0;
  double stime = 0;
  // After comm: state(3) ppid(4) ... utime(14) stime(15).
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14)
      utime = std::stod(field);
    if (i == 15)
      stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::optional<ThreadSched> ThreadSchedOf(pid_t pid, std::string_view name) {
  std::optional<ThreadSched> sum;
  std::error_code ec;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream comm_file(task.path() / "comm");
    std::string comm;
    std::getline(comm_file, comm);
    if (comm != name)
      continue;
    // "<ns on cpu> <ns waiting on a runqueue> <timeslices>"
    std::ifstream sched_file(task.path() / "schedstat");
    double on_cpu_ns = 0;
    double waiting_ns = 0;
    if (!(sched_file >> on_cpu_ns >> waiting_ns))
      continue;
    if (!sum)
      sum.emplace();
    sum->cpu_seconds += on_cpu_ns / 1e9;
    sum->wait_seconds += waiting_ns / 1e9;
  }
  return sum;
}

std::optional<WriterSched> WriterShares(const std::optional<ThreadSched>& before,
                                        const std::optional<ThreadSched>& after,
                                        double seconds) {
  if (!before || !after || seconds <= 0)
    return std::nullopt;
  const ThreadSched d = *after - *before;
  return WriterSched{d.cpu_seconds / seconds, d.wait_seconds / seconds};
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace tp::bench
