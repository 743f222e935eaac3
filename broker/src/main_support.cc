#include "broker/main_support.h"

#include <chrono>
#include <cstdio>
#include <thread>

#include "broker/writer.h"
#include "tp/http/server.h"
#include "tp/log.h"
#include "tp/metrics/metrics.h"

namespace tp::broker {
namespace {

auto Log() {
  return Logger("broker");
}

Result<WriterOptions> WriterOptionsFromFlags(const BrokerFlags& flags) {
  WriterOptions options;
  if (flags.data_dir.empty())
    return Status::InvalidArgument("--data-dir is required");
  if (!flags.topics.empty()) {
    TP_ASSIGN_OR_RETURN(options.topics, ParseTopics(flags.topics));
  } else {
    if (flags.partitions == 0 || flags.partitions > 65536) {
      return Status::InvalidArgument("--partitions must be 1..65536");
    }
    options.topics = {{"telemetry", flags.partitions}};
  }
  TP_ASSIGN_OR_RETURN(options.wal.sync, wal::ParseSyncPolicy(flags.sync));
  options.wal.sync_interval = std::chrono::milliseconds(flags.sync_interval_ms);
  options.wal.disk_budget_bytes = flags.disk_budget_bytes;
  options.wal.retention_bytes = flags.retention_bytes;
  options.wal.retention_age = std::chrono::seconds(flags.retention_seconds);
  options.max_inflight_bytes = flags.max_inflight_bytes;
  TP_RETURN_IF_ERROR(options.Validate());
  return options;
}

// Blocks until one of `signals` arrives.
int WaitForSignal(const sigset_t& signals) {
  int sig = 0;
  sigwait(&signals, &sig);
  return sig;
}

}  // namespace

void AddWriterFlags(CLI::App& app, BrokerFlags* f) {
  app.add_option("--listen", f->listen, "Address to serve HTTP on (host:port)");
  app.add_option("--threads", f->threads, "HTTP io threads")->check(CLI::Range(1, 64));
  app.add_option(
      "--body-limit", f->body_limit, "Largest request body in bytes (413 above)");
  app.add_option("--data-dir", f->data_dir, "Directory of the log (created if missing)");
  app.add_option("--partitions", f->partitions, "Partitions of the telemetry topic");
  app.add_option("--topics",
                 f->topics,
                 "Topics and partition counts, e.g. telemetry:256,events:16 "
                 "(overrides --partitions)");
  app.add_option("--sync", f->sync, "always (fsync per group commit), interval, none")
      ->check(CLI::IsMember({"always", "interval", "none"}));
  app.add_option(
      "--sync-interval-ms", f->sync_interval_ms, "fsync period with --sync=interval");
  app.add_option("--disk-budget-bytes",
                 f->disk_budget_bytes,
                 "Publishes get 429 while the log's files exceed this (0 = no limit)");
  app.add_option("--retention-bytes",
                 f->retention_bytes,
                 "Per-partition size limit; oldest records are trimmed (0 = none)");
  app.add_option("--retention-seconds",
                 f->retention_seconds,
                 "Records older than this are trimmed (0 = none)");
  app.add_option("--max-inflight-bytes",
                 f->max_inflight_bytes,
                 "Publish bytes accepted but not yet durable before 429");
  app.add_option("--drain-timeout-seconds",
                 f->drain_timeout_seconds,
                 "On SIGTERM, how long to wait for readers to commit everything");
}

int RunWriter(const BrokerFlags& flags, const sigset_t& signals) {
  auto log = Log();
  auto options = WriterOptionsFromFlags(flags);
  if (!options.ok()) {
    std::fprintf(stderr, "broker: %s\n", options.status().message().c_str());
    return 2;
  }
  metrics::Registry registry;
  http::ServerOptions server_options;
  server_options.listen = flags.listen;
  server_options.threads = flags.threads;
  server_options.body_limit = flags.body_limit;
  server_options.registry = &registry;
  server_options.log_component = "broker";
  auto server = http::Server::Create(server_options);
  if (!server.ok()) {
    std::fprintf(stderr, "broker: %s\n", server.status().ToString().c_str());
    return 1;
  }
  auto service =
      LogService::Open(*options, flags.data_dir, (*server)->executor(), &registry);
  if (!service.ok()) {
    std::fprintf(stderr, "broker: %s\n", service.status().ToString().c_str());
    return 1;
  }
  http::Router router;
  LogService* svc = service->get();
  Status routes = InstallWriterRoutes(router, *svc);
  if (routes.ok()) {
    routes = http::InstallStandardEndpoints(router, {&registry, [svc] {
                                                       return svc->Ready();
                                                     }});
  }
  if (routes.ok())
    routes = (*server)->Start(std::move(router));
  if (!routes.ok()) {
    std::fprintf(stderr, "broker: %s\n", routes.ToString().c_str());
    return 1;
  }
  SPDLOG_LOGGER_INFO(log,
                     "broker writer listening on {} with log in {}",
                     (*server)->address(),
                     flags.data_dir);

  const int sig = WaitForSignal(signals);
  SPDLOG_LOGGER_INFO(log,
                     "signal {}: draining (publishes refused, waiting up to {} s for "
                     "readers to commit)",
                     sig,
                     flags.drain_timeout_seconds);
  svc->BeginDrain();
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::seconds(flags.drain_timeout_seconds);
  bool drained = svc->FullyCommitted();
  while (!drained && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    drained = svc->FullyCommitted();
  }
  if (drained) {
    SPDLOG_LOGGER_INFO(log, "drained: every partition is committed to its end");
  } else {
    SPDLOG_LOGGER_WARN(log,
                       "drain timeout: uncommitted records stay in the log for later");
  }
  (*server)->Stop();
  service->reset();
  return 0;
}

}  // namespace tp::broker
