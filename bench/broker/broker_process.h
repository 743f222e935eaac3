// A `broker` child process for one load phase: a fresh data directory, a free loopback
// port, started and waited for (GET /readyz), scraped (GET /metrics), stopped with
// SIGTERM (SIGKILL after a grace period). The destructor always reaps the child.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "tp/status.h"

namespace tp::http {
class Client;
}  // namespace tp::http
namespace tp::testing {
class ChildProcess;
}  // namespace tp::testing

namespace tp::bench {

struct BrokerProcessOptions {
  std::filesystem::path binary;       // build/bin/broker
  std::string mode = "standalone";    // or "writer"
  std::filesystem::path data_dir;     // created by the broker if missing
  std::filesystem::path stderr_file;  // the broker's log
  std::string sync = "always";
  std::string topics;  // --topics ("telemetry:256,warmup:1"); empty: the broker's default
  int threads = 0;     // HTTP io threads; 0: the broker's default
  std::chrono::seconds ready_timeout{20};
};

class BrokerProcess {
 public:
  // Starts the broker on a free 127.0.0.1 port and waits until /readyz answers 200.
  // Unavailable (with the broker's stderr) when it exits or is not ready in time.
  static Result<std::unique_ptr<BrokerProcess>> Start(
      const BrokerProcessOptions& options);
  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  const std::string& url() const { return url_; }
  pid_t pid() const;

  // The Prometheus text of GET /metrics.
  Result<std::string> Metrics();

  // SIGTERM, then SIGKILL after `grace`. Idempotent.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  BrokerProcess() = default;
  std::string url_;
  std::unique_ptr<testing::ChildProcess> child_;
  std::unique_ptr<http::Client> client_;
};

// Sum of the samples named `name` whose label set contains every one of `labels`
// (each written as in the exposition, e.g. route="/v1/publish"). 0 when none match.
double SumSamples(std::string_view metrics_text,
                  std::string_view name,
                  const std::vector<std::string_view>& labels = {});

}  // namespace tp::bench
