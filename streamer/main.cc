// streamer: publishes DCGM telemetry to the broker.
//   streamer --broker URL --csv PATH [--loops N] [--count N] [--rate R] [--shard i/N]
//            [--listen ADDR] [--topic telemetry]
//   streamer --broker URL --scrape URL [--interval 15s] ...
// Every flag also reads its environment variable (--broker -> BROKER). SIGTERM/SIGINT
// stop reading, flush the publisher for at most --flush-timeout, and exit 0. With
// --loops/--count the streamer exits 0 once everything was acknowledged (1 if some
// messages could not be published).
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include "clients/publisher.h"
#include "streamer/emitter.h"
#include "streamer/scrape_source.h"
#include "streamer/shard.h"
#include "tp/cli.h"
#include "tp/http/endpoint_server.h"
#include "tp/http/server.h"
#include "tp/log.h"
#include "tp/metrics/metrics.h"

namespace {

struct Flags {
  std::string broker;
  std::string csv;
  std::string scrape;
  std::string interval = "15s";
  int64_t loops = 0;
  int64_t count = 0;
  double rate = 0;
  std::string shard = "0/1";
  std::string listen = "0.0.0.0:8084";
  std::string topic = "telemetry";
  int batch = 500;
  int linger_ms = 20;
  std::string flush_timeout = "10s";
  tp::LogFlags log;
};

int Run(const Flags& flags) {
  auto log = tp::Logger("streamer");
  tp::streamer::EmitterOptions options;
  options.topic = flags.topic;
  options.csv = flags.csv;
  options.scrape_url = flags.scrape;
  options.loops = flags.loops;
  options.count = flags.count;
  options.rate = flags.rate;
  auto shard = tp::streamer::ParseShard(flags.shard);
  auto interval = tp::streamer::ParseDuration(flags.interval);
  auto flush_timeout = tp::streamer::ParseDuration(flags.flush_timeout);
  for (const tp::Status& s :
       {shard.status(), interval.status(), flush_timeout.status()}) {
    if (!s.ok()) {
      log->error("{}", s.ToString());
      return 2;
    }
  }
  if (flags.loops < 0 || flags.count < 0 || flags.rate < 0 || flags.batch < 1) {
    log->error("--loops, --count and --rate must not be negative, --batch >= 1");
    return 2;
  }
  options.shard = *shard;
  options.interval = *interval;

  tp::clients::PublisherOptions publisher_options;
  publisher_options.broker_url = flags.broker;
  publisher_options.max_batch_messages = static_cast<std::size_t>(flags.batch);
  publisher_options.linger = std::chrono::milliseconds(flags.linger_ms);
  publisher_options.enqueue_timeout = std::chrono::milliseconds(200);  // re-checks stop
  auto publisher = tp::clients::Publisher::Create(publisher_options);
  if (!publisher.ok()) {
    log->error("--broker: {}", publisher.status().ToString());
    return 2;
  }
  tp::clients::Publisher* pub = publisher->get();

  tp::metrics::Registry registry;
  tp::streamer::Emitter emitter(options, pub, &registry);
  if (tp::Status s = emitter.Open(); !s.ok()) {
    log->error("source: {}", s.ToString());
    return 2;
  }
  auto stat = [pub](uint64_t tp::clients::PublisherStats::*field) {
    return [pub, field] {
      return static_cast<double>(pub->Stats().*field);
    };
  };
  using S = tp::clients::PublisherStats;
  registry.AddCallbackGauge("streamer_published_total",
                            "Messages acknowledged by the broker",
                            stat(&S::published));
  registry.AddCallbackGauge(
      "streamer_publish_retries_total", "Publish requests retried", stat(&S::retries));
  registry.AddCallbackGauge(
      "streamer_publish_failures_total", "Messages given up", stat(&S::failures));
  registry.AddCallbackGauge("streamer_publish_throttled_total",
                            "429 answers from the broker",
                            stat(&S::throttled));
  registry.AddCallbackGauge(
      "streamer_lag_messages",
      "Messages emitted but not yet acknowledged (queued or in flight)",
      stat(&S::pending));

  auto server =
      tp::http::StartEndpointServer(flags.listen, &registry, nullptr, "streamer-http");
  if (!server.ok()) {
    log->error("--listen: {}", server.status().ToString());
    return 2;
  }
  log->info("streaming {} to {} topic {} shard {}",
            flags.csv.empty() ? flags.scrape : flags.csv,
            flags.broker,
            flags.topic,
            flags.shard);

  tp::Status run = emitter.Run(tp::StopFlag());
  const bool interrupted = tp::StopFlag().load();
  tp::Status flushed = pub->Close(*flush_timeout);
  const auto stats = pub->Stats();
  // The process's CPU time, for sizing streamers (and the pipeline benchmark's report).
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu_seconds =
      static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
      static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  log->info(
      "done: read {} emitted {} rejected {} published {} retries {} failures {} "
      "cpu_seconds {:.3f}",
      emitter.counters().rows_read.load(),
      emitter.counters().emitted.load(),
      emitter.counters().rejected.load(),
      stats.published,
      stats.retries,
      stats.failures,
      cpu_seconds);
  (*server)->Stop();
  if (!run.ok()) {
    log->error("source failed: {}", run.ToString());
    return 1;
  }
  if (!flushed.ok()) {
    log->error("not everything was published: {}", flushed.ToString());
    return interrupted ? 0 : 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"streamer: publishes DCGM telemetry to the broker"};
  app.add_option("--broker", flags.broker, "Broker writer base URL")->required();
  auto* csv = app.add_option("--csv", flags.csv, "DCGM CSV export (plain or gzip)");
  auto* scrape = app.add_option("--scrape", flags.scrape, "dcgm-exporter /metrics URL");
  csv->excludes(scrape);
  app.add_option("--interval", flags.interval, "Scrape period (15s, 500ms)")
      ->capture_default_str();
  app.add_option("--loops", flags.loops, "Passes over the file / scrapes (0: forever)")
      ->capture_default_str();
  app.add_option("--count", flags.count, "Stop after N messages (0: no limit)")
      ->capture_default_str();
  app.add_option("--rate", flags.rate, "Messages per second (0: unlimited)")
      ->capture_default_str();
  app.add_option("--shard", flags.shard, "Emit rows i mod N (i/N)")
      ->capture_default_str();
  app.add_option("--listen", flags.listen, "HTTP address for /healthz /readyz /metrics")
      ->capture_default_str();
  app.add_option("--topic", flags.topic, "Topic")->capture_default_str();
  app.add_option("--batch", flags.batch, "Messages per publish request")
      ->capture_default_str();
  app.add_option(
         "--linger-ms", flags.linger_ms, "Wait for a fuller batch up to this long")
      ->capture_default_str();
  app.add_option("--flush-timeout", flags.flush_timeout, "Bound on the final flush")
      ->capture_default_str();
  tp::AddLogFlags(app, &flags.log);
  tp::BindEnvironment(app);
  CLI11_PARSE(app, argc, argv);
  if (flags.csv.empty() == flags.scrape.empty()) {
    std::fprintf(stderr, "exactly one of --csv and --scrape is required\n");
    return 2;
  }
  return tp::RunMain(flags.log, "streamer", [&] { return Run(flags); });
}
