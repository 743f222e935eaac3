// apigw: the telemetry REST API, OpenAPI document, Swagger UI and dashboard.
//   apigw --listen 0.0.0.0:8080 --database-url URL [--auth-token T | --auth-token-file F]
//         [--web-dir DIR] [--log-format json|text] [--log-level info]
//   apigw --print-openapi          (writes the OpenAPI document to stdout and exits)
// Every flag also reads its environment variable (--database-url: DATABASE_URL).
// SIGTERM/SIGINT stop it gracefully. Exit status: 0 stopped cleanly; 1 failed; 2 usage.
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>

#include "apigw/gateway.h"
#include "apigw/spec.h"
#include "tp/allocator.h"
#include "tp/cli.h"
#include "tp/http/server.h"
#include "tp/log.h"
#include "tp/metrics/metrics.h"

namespace {

struct Flags {
  std::string listen = "0.0.0.0:8080";
  std::string database_url;
  std::string auth_token;
  std::string auth_token_file;
  std::string web_dir = TP_APIGW_DEFAULT_WEB_DIR;
  std::size_t pool_size = 8;
  std::size_t workers = 4;
  int http_threads = 2;
  int statement_timeout_ms = 5000;
  bool print_openapi = false;
  tp::LogFlags log;
};

tp::Result<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return tp::Status::NotFound("cannot read --auth-token-file " + path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = ss.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' ||
                            token.back() == ' ' || token.back() == '\t')) {
    token.pop_back();
  }
  if (token.empty()) {
    return tp::Status::InvalidArgument("--auth-token-file " + path + " is empty");
  }
  return token;
}

tp::Status Run(const Flags& flags) {
  auto log = tp::Logger("apigw");
  tp::apigw::GatewayOptions options;
  options.database_url = flags.database_url;
  options.pool_size = flags.pool_size;
  options.worker_threads = flags.workers;
  options.statement_timeout = std::chrono::milliseconds(flags.statement_timeout_ms);
  options.web_dir = flags.web_dir;
  if (!flags.auth_token.empty() && !flags.auth_token_file.empty()) {
    return tp::Status::InvalidArgument(
        "give --auth-token or --auth-token-file, not both");
  }
  options.auth_token = flags.auth_token;
  if (!flags.auth_token_file.empty()) {
    TP_ASSIGN_OR_RETURN(options.auth_token, ReadToken(flags.auth_token_file));
  }

  // Block the stop signals in every thread (the server's threads inherit the mask), so
  // that only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  tp::metrics::Registry registry;
  TP_ASSIGN_OR_RETURN(auto gateway, tp::apigw::Gateway::Create(options, &registry));
  tp::http::Router router;
  TP_RETURN_IF_ERROR(gateway->Install(router));
  tp::http::ServerOptions server_options;
  server_options.listen = flags.listen;
  server_options.threads = flags.http_threads;
  server_options.registry = &registry;
  server_options.log_component = "apigw";
  TP_ASSIGN_OR_RETURN(auto server, tp::http::Server::Create(server_options));
  TP_RETURN_IF_ERROR(server->Start(std::move(router)));
  SPDLOG_LOGGER_INFO(log,
                     "apigw listening on {} (auth {}, web dir {})",
                     server->address(),
                     options.auth_token.empty() ? "off" : "on",
                     flags.web_dir);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  SPDLOG_LOGGER_INFO(log, "signal {}: stopping", sig);
  server->Stop();
  server.reset();
  gateway.reset();
  SPDLOG_LOGGER_INFO(log, "stopped");
  return tp::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"GPU telemetry API gateway: REST API, OpenAPI, Swagger UI, dashboard."};
  Flags flags;
  app.add_option("--listen", flags.listen, "host:port to listen on")
      ->capture_default_str();
  app.add_option("--database-url",
                 flags.database_url,
                 "libpq connection string or URI (postgresql://user@host/db)");
  app.add_option("--auth-token",
                 flags.auth_token,
                 "Bearer token required on /api/* (empty: no authentication)");
  app.add_option("--auth-token-file",
                 flags.auth_token_file,
                 "Read the bearer token from this file (trailing newline ignored)");
  app.add_option("--web-dir",
                 flags.web_dir,
                 "Folder with the dashboard and the npm-installed Swagger UI/uPlot")
      ->capture_default_str();
  app.add_option("--pool-size", flags.pool_size, "PostgreSQL connections at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--workers", flags.workers, "Threads running database queries")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--http-threads", flags.http_threads, "HTTP io threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--statement-timeout-ms",
                 flags.statement_timeout_ms,
                 "PostgreSQL statement_timeout per query")
      ->capture_default_str()
      ->check(CLI::Range(0, 600000));
  app.add_flag("--print-openapi",
               flags.print_openapi,
               "Write the OpenAPI 3 document to stdout and exit");
  tp::AddLogFlags(app, &flags.log);
  tp::BindEnvironment(app);
  CLI11_PARSE(app, argc, argv);

  if (flags.print_openapi) {
    std::cout << tp::apigw::OpenApiDocument().dump(2) << std::endl;
    return 0;
  }
  if (flags.database_url.empty()) {
    std::cerr << "apigw: --database-url (or DATABASE_URL) is required" << std::endl;
    return 2;
  }
  auto log_options = flags.log.ToOptions();
  if (!log_options.ok()) {
    std::cerr << "apigw: " << log_options.status().message() << std::endl;
    return 2;
  }
  tp::InitLogging(*log_options);
  tp::KeepFreedMemoryMapped();
  tp::Status status = Run(flags);
  if (!status.ok()) {
    SPDLOG_LOGGER_ERROR(tp::Logger("apigw"), "apigw failed: {}", status.ToString());
    std::cerr << "apigw: " << status.ToString() << std::endl;
    return 1;
  }
  return 0;
}
