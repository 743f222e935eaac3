#include "broker/main_support.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>

#include <netdb.h>
#include <unistd.h>

#include "broker/membership.h"
#include "broker/reader.h"
#include "broker/writer.h"
#include "tp/cpus.h"
#include "tp/http/server.h"
#include "tp/log.h"
#include "tp/metrics/metrics.h"

namespace tp::broker {
namespace {

Result<std::vector<TopicConfig>> TopicsFromFlags(const BrokerFlags& flags) {
  if (!flags.topics.empty())
    return ParseTopics(flags.topics);
  if (flags.partitions == 0 || flags.partitions > 65536) {
    return Status::InvalidArgument("--partitions must be 1..65536");
  }
  return std::vector<TopicConfig>{{"telemetry", flags.partitions}};
}

Result<WriterOptions> WriterOptionsFromFlags(const BrokerFlags& flags) {
  WriterOptions options;
  if (flags.data_dir.empty())
    return Status::InvalidArgument("--data-dir is required");
  TP_ASSIGN_OR_RETURN(options.topics, TopicsFromFlags(flags));
  TP_ASSIGN_OR_RETURN(options.wal.sync, wal::ParseSyncPolicy(flags.sync));
  options.wal.sync_interval = std::chrono::milliseconds(flags.sync_interval_ms);
  options.wal.disk_budget_bytes = flags.disk_budget_bytes;
  options.wal.retention_bytes = flags.retention_bytes;
  options.wal.retention_age = std::chrono::seconds(flags.retention_seconds);
  options.max_inflight_bytes = flags.max_inflight_bytes;
  TP_RETURN_IF_ERROR(options.Validate());
  return options;
}

Result<ReaderOptions> ReaderOptionsFromFlags(const BrokerFlags& flags) {
  ReaderOptions options;
  TP_ASSIGN_OR_RETURN(auto topics, TopicsFromFlags(flags));
  options.topics.clear();
  for (const auto& t : topics)
    options.topics.push_back(t.name);
  options.max_attempts = flags.max_attempts;
  options.buffer_bytes = flags.buffer_bytes;
  options.drain_timeout = std::chrono::seconds(flags.drain_timeout_seconds);
  options.membership_interval = std::chrono::milliseconds(flags.membership_refresh_ms);
  options.writers_refresh = std::chrono::milliseconds(flags.writers_refresh_ms);
  // A writer that left DNS is draining (or gone): read it for as long as a writer's
  // drain may wait for readers, so its drain can finish.
  options.removed_writer_grace = std::chrono::seconds(flags.drain_timeout_seconds);
  TP_RETURN_IF_ERROR(options.Validate());
  return options;
}

std::vector<std::string> SplitComma(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos)
      end = text.size();
    if (end > start)
      out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool IsDnsWriters(const BrokerFlags& flags) {
  return flags.writers.rfind("dns:", 0) == 0;
}

// --writers dns:NAME:PORT: every address of NAME, resolved at start and again every
// --writers-refresh-ms (the Reader adds and drops writers as the answer changes).
Result<WriterDiscovery> WriterDiscoveryFromFlags(const BrokerFlags& flags) {
  TP_ASSIGN_OR_RETURN(DnsWriters dns, ParseDnsWriters(flags.writers));
  WriterDiscovery discovery;
  discovery.description = "dns " + dns.name + ":" + std::to_string(dns.port);
  discovery.resolve = [dns] {
    return ResolveWriterUrls(dns);
  };
  discovery.open = [](const std::string& url) -> Result<std::shared_ptr<LogSource>> {
    TP_ASSIGN_OR_RETURN(auto source, MakeHttpLogSource(url));
    return std::shared_ptr<LogSource>(std::move(source));
  };
  return discovery;
}

// --writers http://a:8081,http://b:8081: a fixed list.
Result<std::vector<std::shared_ptr<LogSource>>> WritersFromFlags(
    const BrokerFlags& flags) {
  const std::vector<std::string> urls = SplitComma(flags.writers);
  if (urls.empty())
    return Status::InvalidArgument("--writers: at least one writer is needed");
  std::vector<std::shared_ptr<LogSource>> sources;
  for (const auto& url : urls) {
    TP_ASSIGN_OR_RETURN(auto source, MakeHttpLogSource(url));
    sources.push_back(std::move(source));
  }
  return sources;
}

Result<std::unique_ptr<Membership>> MembershipFromFlags(const BrokerFlags& flags) {
  const int sources = (flags.ordinal >= 0 || flags.replicas >= 0 ? 1 : 0) +
                      (flags.membership_file.empty() ? 0 : 1) +
                      (flags.membership_dns.empty() ? 0 : 1);
  if (sources != 1) {
    return Status::InvalidArgument(
        "give exactly one membership source: --ordinal N --replicas M, --membership-file "
        "F "
        "or --membership-dns NAME");
  }
  if (!flags.membership_file.empty())
    return FileMembership(flags.membership_file);
  if (!flags.membership_dns.empty())
    return DnsMembership(flags.membership_dns);
  if (flags.ordinal < 0 || flags.replicas <= 0) {
    return Status::InvalidArgument("--ordinal and --replicas go together (0 <= N < M)");
  }
  Assignment assignment{static_cast<uint32_t>(flags.ordinal),
                        static_cast<uint32_t>(flags.replicas)};
  TP_RETURN_IF_ERROR(ValidateAssignment(assignment));
  return StaticMembership(assignment);
}

int WaitForSignal(const sigset_t& signals) {
  int sig = 0;
  sigwait(&signals, &sig);
  return sig;
}

int Fail(const Status& s, int code) {
  std::fprintf(stderr, "broker: %s\n", s.ToString().c_str());
  return code;
}

}  // namespace

void AddCommonFlags(CLI::App& app, BrokerFlags* f) {
  app.add_option("--listen", f->listen, "Address to serve HTTP on (host:port)");
  app.add_option("--threads",
                 f->threads,
                 "HTTP io threads (0: one per CPU the process may use, counting "
                 "affinity and cgroup CPU limits)")
      ->check(CLI::Range(0, 64));
  app.add_option(
      "--body-limit", f->body_limit, "Largest request body in bytes (413 above)");
  app.add_option("--partitions", f->partitions, "Partitions of the telemetry topic");
  app.add_option("--topics",
                 f->topics,
                 "Topics and partition counts, e.g. telemetry:256,events:16 "
                 "(overrides --partitions)");
  app.add_option("--drain-timeout-seconds",
                 f->drain_timeout_seconds,
                 "On SIGTERM, how long to wait for commits (writer) or leases (reader)");
}

void AddWriterFlags(CLI::App& app, BrokerFlags* f) {
  app.add_option("--data-dir", f->data_dir, "Directory of the log (created if missing)");
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
}

void AddReaderFlags(CLI::App& app, BrokerFlags* f, bool standalone) {
  if (!standalone) {
    app.add_option(
        "--writers", f->writers, "Writer URLs (comma-separated) or dns:NAME:PORT");
    app.add_option("--writers-refresh-ms",
                   f->writers_refresh_ms,
                   "How often --writers dns:NAME:PORT is resolved again")
        ->check(CLI::Range(1u, 3600000u));
    app.add_option("--ordinal", f->ordinal, "This reader's ordinal (static membership)");
    app.add_option("--replicas", f->replicas, "Number of readers (static membership)");
    app.add_option("--membership-file",
                   f->membership_file,
                   "JSON file {\"ordinal\":N,\"replicas\":M}, re-read on change");
    app.add_option("--membership-dns",
                   f->membership_dns,
                   "Headless Service name whose records count the readers");
    app.add_option("--membership-refresh-ms",
                   f->membership_refresh_ms,
                   "How often the membership file or DNS is read again")
        ->check(CLI::Range(1u, 3600000u));
  }
  app.add_option("--max-attempts",
                 f->max_attempts,
                 "Deliveries of a message before it is dead-lettered");
  app.add_option("--buffer-bytes", f->buffer_bytes, "Reader's in-memory window in bytes");
}

int RunBroker(Mode mode, const BrokerFlags& flags, const sigset_t& signals) {
  auto log = Logger("broker");
  const bool has_writer = mode != Mode::kReader;
  const bool has_reader = mode != Mode::kWriter;

  Result<WriterOptions> writer_options = WriterOptions{};
  if (has_writer)
    writer_options = WriterOptionsFromFlags(flags);
  if (!writer_options.ok())
    return Fail(writer_options.status(), 2);
  Result<ReaderOptions> reader_options = ReaderOptions{};
  if (has_reader)
    reader_options = ReaderOptionsFromFlags(flags);
  if (!reader_options.ok())
    return Fail(reader_options.status(), 2);

  metrics::Registry registry;
  http::ServerOptions server_options;
  server_options.listen = flags.listen;
  // More io threads than CPUs only adds hand-offs between threads: on 2 CPUs, 4 threads
  // cost the broker about 15% more CPU per published message than 2 (docs/BENCHMARKS.md).
  server_options.threads =
      flags.threads > 0 ? flags.threads : std::min(AvailableCpus(), 64);
  server_options.body_limit = flags.body_limit;
  server_options.registry = &registry;
  server_options.log_component = "broker";
  auto server = http::Server::Create(server_options);
  if (!server.ok())
    return Fail(server.status(), 1);

  std::unique_ptr<LogService> service;
  if (has_writer) {
    auto opened = LogService::Open(
        *writer_options, flags.data_dir, (*server)->executor(), &registry);
    if (!opened.ok())
      return Fail(opened.status(), 1);
    service = std::move(opened).value();
  }
  std::shared_ptr<Reader> reader;
  if (has_reader) {
    std::vector<std::shared_ptr<LogSource>> writers;
    std::optional<WriterDiscovery> discovery;
    std::unique_ptr<Membership> membership;
    if (mode == Mode::kStandalone) {
      writers.push_back(service->MakeLocalSource());
      membership = StaticMembership(Assignment{0, 1});
    } else {
      if (IsDnsWriters(flags)) {
        auto d = WriterDiscoveryFromFlags(flags);
        if (!d.ok())
          return Fail(d.status(), 2);
        discovery = std::move(d).value();
      } else {
        auto w = WritersFromFlags(flags);
        if (!w.ok())
          return Fail(w.status(), 2);
        writers = std::move(w).value();
      }
      auto m = MembershipFromFlags(flags);
      if (!m.ok())
        return Fail(m.status(), 2);
      membership = std::move(m).value();
    }
    auto created =
        discovery
            ? Reader::Create(*reader_options,
                             std::move(*discovery),
                             std::move(membership),
                             &registry)
            : Reader::Create(
                  *reader_options, std::move(writers), std::move(membership), &registry);
    if (!created.ok())
      return Fail(created.status(), 2);
    reader = std::move(created).value();
  }

  http::Router router;
  LogService* svc = service.get();
  Reader* rdr = reader.get();
  Status s;
  if (svc)
    s = InstallWriterRoutes(router, *svc);
  if (s.ok() && reader)
    s = InstallReaderRoutes(router, reader);
  if (s.ok()) {
    s = http::InstallStandardEndpoints(router, {&registry, [svc, rdr]() -> Status {
                                                  if (svc)
                                                    TP_RETURN_IF_ERROR(svc->Ready());
                                                  if (rdr)
                                                    TP_RETURN_IF_ERROR(rdr->Readiness());
                                                  return Status::Ok();
                                                }});
  }
  if (s.ok() && reader)
    s = reader->Start();
  if (s.ok())
    s = (*server)->Start(std::move(router));
  if (!s.ok())
    return Fail(s, 1);
  SPDLOG_LOGGER_INFO(log,
                     "broker {} listening on {} with {} io threads",
                     mode == Mode::kWriter   ? "writer"
                     : mode == Mode::kReader ? "reader"
                                             : "standalone",
                     (*server)->address(),
                     server_options.threads);

  const int sig = WaitForSignal(signals);
  SPDLOG_LOGGER_INFO(
      log, "signal {}: draining for up to {} s", sig, flags.drain_timeout_seconds);
  if (svc)
    svc->BeginDrain();
  if (reader) {
    // Leases stop; outstanding ones are acked or expire; what was acked is committed.
    Status drained = reader->Drain();
    if (!drained.ok())
      SPDLOG_LOGGER_WARN(log, "reader drain: {}", drained.ToString());
  }
  if (svc && mode == Mode::kWriter) {
    // Remote readers go on committing until everything is committed or time is up.
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::seconds(flags.drain_timeout_seconds);
    while (!svc->FullyCommitted() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (svc->FullyCommitted()) {
      SPDLOG_LOGGER_INFO(log, "drained: every partition is committed to its end");
    } else {
      SPDLOG_LOGGER_WARN(log, "drain timeout: uncommitted records stay in the log");
    }
  }
  (*server)->Stop();
  if (reader)
    reader->Stop();
  reader.reset();
  service.reset();
  SPDLOG_LOGGER_INFO(log, "stopped");
  return 0;
}

}  // namespace tp::broker
