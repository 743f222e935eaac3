// broker: the `writer` mode (the reader modes join when broker/reader is wired in).
// Flags also read their environment variables (--data-dir reads DATA_DIR); the flag wins.
#include <csignal>
#include <cstdio>
#include <thread>

#include <CLI/CLI.hpp>

#include "broker/main_support.h"
#include "tp/cli.h"
#include "tp/log.h"

int main(int argc, char** argv) {
  tp::broker::BrokerFlags flags;
  tp::LogFlags log_flags;
  CLI::App app{"Durable partitioned message broker for GPU telemetry"};
  app.require_subcommand(1);
  tp::AddLogFlags(app, &log_flags);
  CLI::App* writer = app.add_subcommand("writer", "Accept publishes into the local log");
  tp::broker::AddWriterFlags(*writer, &flags);
  tp::BindEnvironment(app);
  CLI11_PARSE(app, argc, argv);

  auto log_options = log_flags.ToOptions();
  if (!log_options.ok()) {
    std::fprintf(stderr, "broker: %s\n", log_options.status().message().c_str());
    return 2;
  }
  tp::InitLogging(*log_options);

  // Termination signals are taken synchronously by the main thread; every other thread
  // inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  return writer->parsed() ? tp::broker::RunWriter(flags, signals) : 2;
}
