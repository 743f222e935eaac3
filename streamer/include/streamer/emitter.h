// Emitter: the streamer's main loop. Reads datapoints from a CSV export (looping over
// the file) or from a dcgm-exporter page (scraped every interval), stamps each emission
// with the current UTC time, applies the shard and the rate limit, and hands the
// messages to a clients::Publisher keyed by GPU UUID (the partition key).
//
// A bad CSV row is counted, logged with its line number (at most one log line per
// second) and skipped; a missing required column is an error from Open(), before
// anything is sent. Backpressure: when the broker throttles (429) the Publisher's queue
// fills and Publish() blocks, which slows the loop down to what the broker takes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "streamer/shard.h"
#include "tp/status.h"

namespace tp::clients {
class Publisher;
}  // namespace tp::clients
namespace tp::metrics {
class Registry;
}  // namespace tp::metrics

namespace tp::streamer {

struct EmitterOptions {
  std::string topic = "telemetry";
  std::filesystem::path csv;                   // either csv ...
  std::string scrape_url;                      // ... or scrape_url
  std::chrono::milliseconds interval{15'000};  // scrape period
  int64_t loops = 0;  // passes over the file (or scrapes); 0: forever
  int64_t count = 0;  // stop after this many messages; 0: no limit
  double rate = 0;    // messages per second; 0: unlimited
  ShardSpec shard;
};

struct EmitterCounters {
  std::atomic<uint64_t> rows_read{0};  // datapoints read (before sharding)
  std::atomic<uint64_t> emitted{0};    // handed to the publisher
  std::atomic<uint64_t> rejected{0};   // bad rows / bad exposition lines
  std::atomic<uint64_t> scrape_failures{0};
  std::atomic<uint64_t> loops{0};  // completed passes
};

class Emitter {
 public:
  // `publisher` must outlive the Emitter. registry may be null.
  Emitter(EmitterOptions options,
          clients::Publisher* publisher,
          metrics::Registry* registry);
  ~Emitter();

  // Checks the source: opens the CSV and reads its header (NotFound, IOError,
  // InvalidArgument "missing required column 'uuid'"), or validates the scrape URL.
  Status Open();

  // Runs until the source is exhausted (loops/count reached) or `stop` becomes true.
  // Returns OK in both cases; an I/O error on the file or a failing Publish (other than
  // a full queue, which is retried) is returned.
  Status Run(const std::atomic<bool>& stop);

  const EmitterCounters& counters() const { return counters_; }

 private:
  enum class Outcome { kContinue, kDone, kStopped };
  Status RunCsv(const std::atomic<bool>& stop);
  Status RunScrape(const std::atomic<bool>& stop);
  // Publishes one record's JSON, honouring rate limit, count and stop.
  Result<Outcome> Emit(const std::string& key,
                       const std::string& json,
                       const std::atomic<bool>& stop);

  struct State;
  EmitterOptions options_;
  clients::Publisher* publisher_;
  EmitterCounters counters_;
  std::unique_ptr<State> state_;
};

}  // namespace tp::streamer
