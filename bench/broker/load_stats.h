// What one phase of the broker load generator measured, and the bounds every phase runs
// under (a message count and a wall-clock deadline, whichever comes first).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace tp::bench {

using Clock = std::chrono::steady_clock;

// The name tp::wal::Store gives its writer thread.
inline constexpr std::string_view kWriterThread = "wal-writer";

struct Budget {
  uint64_t count = 0;  // messages per phase
  std::chrono::milliseconds duration{0};
  // Before the clock starts, every worker of a phase runs its load (not counted) until
  // this much time has passed, at least one batch: the measured part then sees a store,
  // a broker and allocators that are already running, not starting.
  std::chrono::milliseconds warmup{0};

  // When the warm-up of a phase that starts its workers now ends.
  Clock::time_point WarmupEnd() const { return Clock::now() + warmup; }
};

// Hands a phase's message budget out to its workers in batches. Thread-safe.
class Quota {
 public:
  Quota(uint64_t count, Clock::time_point deadline)
      : count_(count), deadline_(deadline) {}

  // Claims `n` messages. False once the deadline passed or the count would be exceeded:
  // the worker stops.
  bool Claim(uint64_t n) {
    if (Clock::now() >= deadline_)
      return false;
    return claimed_.fetch_add(n) + n <= count_;
  }

  Clock::time_point deadline() const { return deadline_; }

 private:
  const uint64_t count_;
  const Clock::time_point deadline_;
  std::atomic<uint64_t> claimed_{0};
};

struct Latency {
  uint64_t samples = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double mean_ms = 0;
  double max_ms = 0;
};

// Nearest-rank percentiles of `ms`.
Latency Summarize(std::vector<double> ms);

inline double Millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Server-side figures of a broker phase, from the broker's /metrics before and after it.
struct BrokerBreakdown {
  double publish_handler_mean_ms = 0;  // http_request_duration_seconds, /v1/publish
  double append_mean_ms = 0;           // tp_broker_append_seconds (one partition's share)
  double appends_per_request = 0;      // partition shares per publish request
  double open_connections = 0;         // http_open_connections at the end of the phase
  double cpu_seconds = 0;              // the broker process's user+system CPU
};

// Scheduler figures of a thread (/proc/<pid>/task/<tid>/schedstat), summed over the
// threads of one name: time on a CPU, and time runnable but waiting for one.
struct ThreadSched {
  double cpu_seconds = 0;
  double wait_seconds = 0;
  ThreadSched operator-(const ThreadSched& earlier) const {
    return {cpu_seconds - earlier.cpu_seconds, wait_seconds - earlier.wait_seconds};
  }
};

// The wal writer's figures over a phase ("wal-writer" threads: of the broker in broker
// phases, of this process in wal phases), as shares of the phase's wall time. A group
// commit waits for its writer, so wait_share is time every publish in flight lost.
struct WriterSched {
  double cpu_share = 0;
  double wait_share = 0;
};

struct PhaseResult {
  std::string id;         // stable name for --json: "wal_ceiling", "publish_batch", ...
  std::string label;      // what ran, for people
  int round = 1;          // --rounds: which repetition of the phase sequence
  uint64_t messages = 0;  // acknowledged (durable) messages
  uint64_t requests = 0;  // appends, Puts or HTTP requests
  uint64_t errors = 0;    // messages that failed
  uint64_t retries = 0;   // HTTP requests the clients had to repeat (429, 5xx, timeouts)
  double seconds = 0;
  Latency latency;  // per request; for lease+ack phases: publish-to-lease per message
  double loadgen_cpu_seconds = 0;  // this process's user+system CPU during the phase
  std::optional<BrokerBreakdown> broker;
  std::optional<WriterSched> writer;  // unset where schedstat is not readable
  // Lease+ack phases only.
  uint64_t redelivered = 0;
  uint64_t backlog_at_publish_end = 0;
  double drain_seconds = 0;  // from the end of publishing to the last ack
  Latency lease_call;        // POST /v1/lease round trips that returned messages
  Latency ack_call;          // POST /v1/ack round trips

  double rate() const {
    return seconds > 0 ? static_cast<double>(messages) / seconds : 0;
  }
};

// User+system CPU seconds of process `pid` so far (/proc/<pid>/stat); 0 if unreadable.
double ProcessCpuSeconds(pid_t pid);
// This process's user+system CPU seconds so far.
double SelfCpuSeconds();

// The summed figures of `pid`'s threads named `name`; nullopt if there is none or the
// kernel has no schedstat.
std::optional<ThreadSched> ThreadSchedOf(pid_t pid, std::string_view name);

// `after - before` over `seconds` of wall time, if both were read.
std::optional<WriterSched> WriterShares(const std::optional<ThreadSched>& before,
                                        const std::optional<ThreadSched>& after,
                                        double seconds);

// The first three fields of /proc/loadavg ("0.71 1.56 1.79").
std::string LoadAverage();

}  // namespace tp::bench
