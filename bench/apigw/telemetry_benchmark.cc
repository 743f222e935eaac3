// apigw_benchmark: telemetry query latency vs table size, and HTTP requests/s.
//
// It starts a private PostgreSQL (tp::testing::PostgresServer) and, for each row count
// (--rows 1000000,10000000), a database whose `telemetry` holds synthetic rows
// (generate_series: --gpus GPUs x 10 metrics, one scrape every 10 s, indexes rebuilt
// after the insert), then measures
//   1. latency of GET /api/v1/gpus/{id}/telemetry for one GPU and a 5-minute window
//      (limit 1000: the whole window, 300 rows) through Gateway::Handle (validation,
//      pool, prepared statement, JSON) on one thread: p50/p90/p99 over --queries, the
//      sizes interleaved query by query so machine noise hits them alike;
//   2. requests/s of the same request over loopback HTTP with --clients concurrent
//      clients for at most --seconds (and at most --max-requests).
// Finally it prints latency@largest / latency@smallest. Everything is bounded in count
// and time and stays on 127.0.0.1.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "apigw/gateway.h"
#include "apigw/spec.h"
#include "seed.h"
#include "tp/http/client.h"
#include "tp/http/server.h"
#include "tp/log.h"
#include "tp/metrics/metrics.h"
#include "tp/telemetry/time.h"
#include "tp/testing/postgres_server.h"

namespace {

using Clock = std::chrono::steady_clock;
using tp::apigw::testing::SyntheticGpu;

struct Flags {
  std::vector<std::int64_t> rows = {1'000'000, 10'000'000};
  int gpus = 100;
  int queries = 2000;
  int clients = 4;
  int seconds = 10;
  int max_requests = 200000;
  int pool = 4;
  int workers = 4;
  std::string shared_buffers = "1GB";
};

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

Percentiles Summarize(std::vector<double> ms) {
  Percentiles p;
  if (ms.empty()) {
    return p;
  }
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * ms.size()))];
  };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.max = ms.back();
  return p;
}

// A random GPU and 5-minute window inside the generated range.
std::string RandomTarget(std::mt19937_64& rng, int gpus, std::int64_t scrapes) {
  const auto end = *tp::telemetry::ParseRfc3339("2025-07-18T20:42:37Z");
  const std::int64_t span_s = (scrapes - 1) * 10;
  std::uniform_int_distribution<int> gpu(0, gpus - 1);
  std::uniform_int_distribution<std::int64_t> offset(300,
                                                     std::max<std::int64_t>(300, span_s));
  const auto window_end = end - std::chrono::seconds(offset(rng) - 300);
  const auto window_start = window_end - std::chrono::seconds(300);
  return "/api/v1/gpus/" + SyntheticGpu(gpu(rng)) + "/telemetry?limit=1000&start_time=" +
         tp::telemetry::FormatRfc3339(window_start) +
         "&end_time=" + tp::telemetry::FormatRfc3339(window_end);
}

struct RunResult {
  std::int64_t rows = 0;
  std::int64_t scrapes = 0;
  double seed_seconds = 0;
  std::vector<double> ms;
  Percentiles latency;
  double avg_items = 0;
  std::int64_t items = 0;
  double rps = 0;
  Percentiles http_latency;
  std::int64_t http_requests = 0;
  std::int64_t http_errors = 0;
  std::unique_ptr<tp::apigw::Gateway> gateway;
};

// One timed handler call; returns milliseconds or a failure.
tp::Result<double> TimeQuery(RunResult& run, std::mt19937_64& rng, int gpus) {
  static const tp::apigw::RouteSpec* route =
      tp::apigw::FindRoute("GET", "/api/v1/gpus/{id}/telemetry");
  tp::http::Request req;
  req.method = "GET";
  const std::string target = RandomTarget(rng, gpus, run.scrapes);
  tp::http::ParseTarget(target, req);
  req.path_params["id"] = target.substr(13, target.find("/telemetry") - 13);
  const auto t0 = Clock::now();
  tp::http::Response r = run.gateway->Handle(*route, req);
  const double elapsed =
      std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (r.status != 200) {
    return tp::Status::Internal("query failed: " + r.body);
  }
  run.items +=
      static_cast<std::int64_t>(std::count(r.body.begin(), r.body.end(), '{')) / 2;
  return elapsed;
}

tp::Status Seed(const Flags& flags,
                tp::testing::PostgresServer& server,
                RunResult& run,
                tp::metrics::Registry& registry) {
  TP_ASSIGN_OR_RETURN(std::string conninfo,
                      server.CreateDatabase("bench_" + std::to_string(run.rows)));
  TP_RETURN_IF_ERROR(tp::apigw::testing::ApplySchema(conninfo));
  const auto seed_start = Clock::now();
  TP_RETURN_IF_ERROR(tp::apigw::testing::SeedSynthetic(conninfo,
                                                       run.rows,
                                                       flags.gpus,
                                                       std::chrono::seconds(10),
                                                       "2025-07-18T20:42:37Z",
                                                       true));
  run.seed_seconds = std::chrono::duration<double>(Clock::now() - seed_start).count();
  run.scrapes = (run.rows + flags.gpus * 10 - 1) / (flags.gpus * 10);
  tp::apigw::GatewayOptions options;
  options.database_url = conninfo;
  options.pool_size = static_cast<std::size_t>(flags.pool);
  options.worker_threads = static_cast<std::size_t>(flags.workers);
  TP_ASSIGN_OR_RETURN(run.gateway, tp::apigw::Gateway::Create(options, &registry));
  return tp::Status::Ok();
}

// Requests/s over loopback HTTP against one table size.
tp::Status MeasureHttp(const Flags& flags,
                       RunResult& run,
                       tp::metrics::Registry& registry) {
  tp::http::Router router;
  TP_RETURN_IF_ERROR(run.gateway->Install(router));
  tp::http::ServerOptions server_options;
  server_options.listen = "127.0.0.1:0";
  server_options.registry = &registry;
  TP_ASSIGN_OR_RETURN(auto http_server, tp::http::Server::Create(server_options));
  TP_RETURN_IF_ERROR(http_server->Start(std::move(router)));
  const std::string url = "http://127.0.0.1:" + std::to_string(http_server->port());
  std::atomic<std::int64_t> issued{0};
  std::atomic<std::int64_t> errors{0};
  std::vector<std::vector<double>> per_client(flags.clients);
  const auto deadline = Clock::now() + std::chrono::seconds(flags.seconds);
  const auto http_start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < flags.clients; ++c) {
    threads.emplace_back([&, c] {
      auto client = tp::http::Client::Create(url);
      if (!client.ok()) {
        ++errors;
        return;
      }
      std::mt19937_64 local(1000 + c);
      while (Clock::now() < deadline && issued.fetch_add(1) < flags.max_requests) {
        const auto t0 = Clock::now();
        auto r = (*client)->Get(RandomTarget(local, flags.gpus, run.scrapes));
        per_client[c].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!r.ok() || r->status != 200) {
          ++errors;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  const double http_seconds =
      std::chrono::duration<double>(Clock::now() - http_start).count();
  std::vector<double> all;
  for (auto& v : per_client) {
    all.insert(all.end(), v.begin(), v.end());
  }
  run.http_requests = static_cast<std::int64_t>(all.size());
  run.http_errors = errors.load();
  run.rps = static_cast<double>(all.size()) / http_seconds;
  run.http_latency = Summarize(all);
  http_server->Stop();
  return tp::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"apigw telemetry query latency and HTTP throughput vs table size"};
  Flags flags;
  app.add_option("--rows", flags.rows, "Row counts to run, e.g. 1000000,10000000")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--gpus", flags.gpus, "GPUs (10 metrics each, a scrape every 10 s)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--queries", flags.queries, "Timed single-thread queries per size")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--clients", flags.clients, "Concurrent HTTP clients")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--seconds", flags.seconds, "HTTP phase duration bound")
      ->capture_default_str()
      ->check(CLI::Range(1, 300));
  app.add_option("--max-requests", flags.max_requests, "HTTP phase request bound")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  app.add_option("--pool", flags.pool, "Gateway connection pool size")
      ->capture_default_str();
  app.add_option("--workers", flags.workers, "Gateway worker threads")
      ->capture_default_str();
  app.add_option("--shared-buffers", flags.shared_buffers, "PostgreSQL shared_buffers")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  tp::InitLogging({tp::LogFormat::kText, spdlog::level::warn});

  // One PostgreSQL server, one database per size. The timed queries alternate between
  // the sizes, so that noise from other processes on the machine hits every size alike
  // and the ratio compares like with like.
  tp::testing::PostgresServerOptions pg_options;
  pg_options.database = "apigw_bench";
  pg_options.settings = {"shared_buffers = '1GB'",
                         "max_wal_size = '8GB'",
                         "checkpoint_timeout = '30min'",
                         "autovacuum = off"};
  auto server = tp::testing::PostgresServer::Start(pg_options);
  if (!server.ok()) {
    std::fprintf(stderr, "postgres: %s\n", server.status().ToString().c_str());
    return 1;
  }
  tp::metrics::Registry registry;
  std::vector<RunResult> results(flags.rows.size());
  for (std::size_t i = 0; i < flags.rows.size(); ++i) {
    results[i].rows = flags.rows[i];
    std::fprintf(stderr, "seeding %lld rows...\n", static_cast<long long>(flags.rows[i]));
    tp::Status s = Seed(flags, **server, results[i], registry);
    if (!s.ok()) {
      std::fprintf(stderr, "seed failed: %s\n", s.ToString().c_str());
      return 1;
    }
    std::fprintf(stderr, "  %.1f s\n", results[i].seed_seconds);
  }
  std::mt19937_64 rng(42);
  for (int q = 0; q < flags.queries + 50; ++q) {
    for (auto& run : results) {
      auto ms = TimeQuery(run, rng, flags.gpus);
      if (!ms.ok()) {
        std::fprintf(stderr, "%s\n", ms.status().ToString().c_str());
        return 1;
      }
      if (q >= 50) {  // warm-up: connections, prepared statements, generic plans
        run.ms.push_back(*ms);
      } else {
        run.items = 0;
      }
    }
  }
  for (auto& run : results) {
    run.latency = Summarize(run.ms);
    run.avg_items = static_cast<double>(run.items) / flags.queries;
    tp::Status s = MeasureHttp(flags, run, registry);
    if (!s.ok()) {
      std::fprintf(stderr, "http: %s\n", s.ToString().c_str());
      return 1;
    }
    std::printf(
        "rows=%lld seed=%.1fs | handler 5-min window (%.0f rows/answer, %d queries): "
        "p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms | HTTP %d clients %ds: %.0f req/s, "
        "p50=%.2fms p99=%.2fms, %lld requests, %lld errors\n",
        static_cast<long long>(run.rows),
        run.seed_seconds,
        run.avg_items,
        flags.queries,
        run.latency.p50,
        run.latency.p90,
        run.latency.p99,
        run.latency.max,
        flags.clients,
        flags.seconds,
        run.rps,
        run.http_latency.p50,
        run.http_latency.p99,
        static_cast<long long>(run.http_requests),
        static_cast<long long>(run.http_errors));
    std::fflush(stdout);
  }
  if (results.size() >= 2) {
    const RunResult& small = results.front();
    const RunResult& big = results.back();
    std::printf(
        "ratio %lld/%lld rows: p50 %.2fx, p99 %.2fx (goal <= 1.5x, p99 < 20 ms)\n",
        static_cast<long long>(big.rows),
        static_cast<long long>(small.rows),
        big.latency.p50 / small.latency.p50,
        big.latency.p99 / small.latency.p99);
  }
  return 0;
}
