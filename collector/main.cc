// collector: leases telemetry from a broker reader and stores it in PostgreSQL.
//   collector --reader URL --database-url URL [--listen ADDR] [--group collectors]
//             [--batch 1000] [--lease-seconds 30] [--inflight 3] [--migrate]
//             [--db-connections 1] [--gpu-seen-resolution-ms 5000]
// Every flag also reads its environment variable (--database-url -> DATABASE_URL).
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>
#include <pqxx/connection>
#include <unistd.h>

#include "clients/consumer.h"
#include "collector/collector.h"
#include "collector/telemetry_store.h"
#include "tp/cli.h"
#include "tp/http/endpoint_server.h"
#include "tp/http/server.h"
#include "tp/log.h"
#include "tp/metrics/metrics.h"
#include "tp/migrate/migrate.h"
#include "tp/pg/connection.h"
#include "tp/pg/pool.h"

namespace {

struct Flags {
  std::string reader;
  std::string database_url;
  std::string listen = "0.0.0.0:8083";
  std::string group = "collectors";
  std::string topic = "telemetry";
  std::string consumer_id;
  int batch = 1000;
  int lease_seconds = 30;
  int inflight = 3;
  int db_connections = 1;
  int wait_ms = 1000;
  int gpu_seen_resolution_ms = 5000;
  bool migrate = false;
  tp::LogFlags log;
};

// Readiness is computed by a background thread (the /readyz callback must not block).
class ReadinessProbe {
 public:
  ReadinessProbe(std::string conninfo, tp::clients::Consumer* consumer)
      : conninfo_(std::move(conninfo)), consumer_(consumer) {}

  tp::Status Check() {
    tp::Status reader = consumer_->Ping();
    if (!reader.ok()) {
      return reader.WithContext("reader");
    }
    if (!conn_) {
      auto c = tp::pg::Connect(conninfo_);
      if (!c.ok()) {
        return c.status().WithContext("database");
      }
      conn_ = std::move(c).value();
    }
    tp::migrate::Migrator migrator(*conn_, tp::migrate::EmbeddedMigrations());
    tp::Status schema = migrator.CheckCurrent();
    if (!schema.ok()) {
      if (schema.code() != tp::StatusCode::kFailedPrecondition) {
        conn_.reset();  // connection trouble: reconnect next time
      }
      return schema.WithContext("database");
    }
    return tp::Status::Ok();
  }

  void Run(const std::atomic<bool>& stop) {
    // Every 2 s while ready; every 200 ms while not, so a collector waiting for the
    // reader or the schema starts soon after they appear.
    while (!stop) {
      tp::Status s = Check();
      const int ticks = s.ok() ? 20 : 2;
      Set(std::move(s));
      for (int i = 0; i < ticks && !stop; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }

  void Set(tp::Status s) {
    std::lock_guard lock(mu_);
    status_ = std::move(s);
  }
  tp::Status Get() const {
    std::lock_guard lock(mu_);
    return status_;
  }

 private:
  std::string conninfo_;
  tp::clients::Consumer* consumer_;
  std::unique_ptr<pqxx::connection> conn_;
  mutable std::mutex mu_;
  tp::Status status_ = tp::Status::Unavailable("not checked yet");
};

tp::Status Migrate(const std::string& conninfo) {
  TP_ASSIGN_OR_RETURN(auto conn, tp::pg::Connect(conninfo));
  tp::migrate::Migrator migrator(*conn, tp::migrate::EmbeddedMigrations());
  TP_ASSIGN_OR_RETURN(int applied, migrator.Up());
  tp::Logger("collector")->info("migrations applied: {}", applied);
  return tp::Status::Ok();
}

int Run(const Flags& flags) {
  auto log = tp::Logger("collector");
  if (flags.lease_seconds < 1 || flags.inflight < 1) {
    log->error("--lease-seconds and --inflight must be >= 1");
    return 2;
  }
  if (tp::Status s = tp::pg::ValidateConnectionString(flags.database_url); !s.ok()) {
    log->error("--database-url: {}", s.ToString());
    return 2;
  }
  if (flags.migrate) {
    if (tp::Status s = Migrate(flags.database_url); !s.ok()) {
      log->error("migrate: {}", s.ToString());
      return 1;
    }
  }
  tp::pg::PoolOptions pool_options;
  pool_options.conninfo = flags.database_url;
  // The store runs at most --db-connections transactions and combines the leases that
  // wait (TelemetryStore::Write), so the pool needs no more connections than that.
  pool_options.max_size = static_cast<std::size_t>(flags.db_connections);
  pool_options.connect.application_name = "collector";
  auto pool = tp::pg::ConnectionPool::Create(pool_options);
  if (!pool.ok()) {
    log->error("database pool: {}", pool.status().ToString());
    return 2;
  }
  tp::collector::TelemetryStore store(
      *pool,
      {.gpu_seen_resolution = std::chrono::milliseconds(flags.gpu_seen_resolution_ms),
       .max_concurrent_writes = static_cast<std::size_t>(flags.db_connections)});

  tp::clients::ConsumerOptions consumer_options;
  consumer_options.reader_url = flags.reader;
  consumer_options.topic = flags.topic;
  auto consumer = tp::clients::Consumer::Create(consumer_options);
  if (!consumer.ok()) {
    log->error("--reader: {}", consumer.status().ToString());
    return 2;
  }

  tp::metrics::Registry registry;
  ReadinessProbe probe(flags.database_url, consumer->get());
  auto server = tp::http::StartEndpointServer(
      flags.listen, &registry, [&probe] { return probe.Get(); }, "collector-http");
  if (!server.ok()) {
    log->error("--listen: {}", server.status().ToString());
    return 2;
  }

  tp::collector::CollectorOptions options;
  options.group = flags.group;
  options.consumer_id = flags.consumer_id;
  if (options.consumer_id.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    options.consumer_id = std::string(host) + "-" + std::to_string(getpid());
  }
  options.batch = flags.batch;
  options.lease_seconds = std::chrono::seconds(flags.lease_seconds);
  options.inflight = flags.inflight;
  options.wait = std::chrono::milliseconds(flags.wait_ms);
  tp::collector::Collector collector(options, consumer->get(), &store, &registry);

  std::atomic<bool> probe_stop{false};
  std::thread probe_thread([&] { probe.Run(probe_stop); });

  // Do not lease while the schema is behind: writes would fail and burn attempts.
  // Polled often so leasing starts as soon as the probe passes; logged every 2 s.
  auto next_log = std::chrono::steady_clock::now();
  while (!tp::StopFlag()) {
    tp::Status ready = probe.Get();
    if (ready.ok()) {
      break;
    }
    if (std::chrono::steady_clock::now() >= next_log) {
      log->info("waiting until ready: {}", ready.ToString());
      next_log += std::chrono::seconds(2);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!tp::StopFlag()) {
    if (tp::Status s = collector.Start(); !s.ok()) {
      log->error("start: {}", s.ToString());
    }
    log->info("collector started: reader {} group {} inflight {}",
              flags.reader,
              flags.group,
              flags.inflight);
  }
  while (!tp::StopFlag()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  log->info("stopping");
  collector.Stop();
  probe_stop = true;
  probe_thread.join();
  (*server)->Stop();
  auto c = collector.counters();
  log->info("stopped: stored {} duplicates {} poison {} write failures {}",
            c.stored,
            c.duplicates,
            c.poison,
            c.write_failures);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"collector: stores leased telemetry in PostgreSQL"};
  app.add_option("--reader", flags.reader, "Broker reader base URL")->required();
  app.add_option("--database-url", flags.database_url, "libpq connection string or URI")
      ->required();
  app.add_option("--listen", flags.listen, "HTTP address for /healthz /readyz /metrics")
      ->capture_default_str();
  app.add_option("--group", flags.group, "Consumer group")->capture_default_str();
  app.add_option("--topic", flags.topic, "Topic to consume")->capture_default_str();
  app.add_option("--consumer-id", flags.consumer_id, "Consumer id (default host-pid)");
  // 1000 is the most a reader ever leases at once (its --max-lease-batch may be lower).
  app.add_option("--batch", flags.batch, "Messages per lease")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--lease-seconds", flags.lease_seconds, "Lease visibility timeout")
      ->capture_default_str();
  app.add_option("--inflight", flags.inflight, "Leases in flight (worker threads)")
      ->capture_default_str();
  app.add_option("--db-connections",
                 flags.db_connections,
                 "PostgreSQL connections for writes (concurrent transactions)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  // 30 s is the longest long-poll a reader grants by default.
  app.add_option("--wait-ms", flags.wait_ms, "Long-poll wait per lease request")
      ->check(CLI::Range(0, 30000))
      ->capture_default_str();
  app.add_option("--gpu-seen-resolution-ms",
                 flags.gpu_seen_resolution_ms,
                 "How far gpus.last_seen may lag the newest row of its GPU (0: exact)")
      ->check(CLI::Range(0, 3'600'000))
      ->capture_default_str();
  app.add_flag("--migrate", flags.migrate, "Apply schema migrations at start-up");
  tp::AddLogFlags(app, &flags.log);
  tp::BindEnvironment(app);
  CLI11_PARSE(app, argc, argv);
  return tp::RunMain(flags.log, "collector", [&] { return Run(flags); });
}
