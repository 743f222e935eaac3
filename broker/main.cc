// broker: `writer`, `reader` and `standalone` (writer and reader in one process with no
// HTTP hop between them, for one machine). Flags also read their environment variables
// (--data-dir reads DATA_DIR); the flag wins.
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "broker/main_support.h"
#include "tp/allocator.h"
#include "tp/cli.h"
#include "tp/log.h"

int main(int argc, char** argv) {
  tp::broker::BrokerFlags flags;
  tp::LogFlags log_flags;
  CLI::App app{"Durable partitioned message broker for GPU telemetry"};
  app.require_subcommand(1);
  app.fallthrough();  // --log-format etc. may follow the subcommand
  tp::AddLogFlags(app, &log_flags);
  CLI::App* writer = app.add_subcommand("writer", "Accept publishes into the local log");
  CLI::App* reader = app.add_subcommand("reader", "Lease messages replayed from writers");
  CLI::App* standalone =
      app.add_subcommand("standalone", "Writer and reader in one process (one machine)");
  for (CLI::App* sub : {writer, reader, standalone})
    tp::broker::AddCommonFlags(*sub, &flags);
  tp::broker::AddWriterFlags(*writer, &flags);
  tp::broker::AddWriterFlags(*standalone, &flags);
  tp::broker::AddReaderFlags(*reader, &flags, /*standalone=*/false);
  tp::broker::AddReaderFlags(*standalone, &flags, /*standalone=*/true);
  tp::BindEnvironment(app);
  CLI11_PARSE(app, argc, argv);

  auto log_options = log_flags.ToOptions();
  if (!log_options.ok()) {
    std::fprintf(stderr, "broker: %s\n", log_options.status().message().c_str());
    return 2;
  }
  tp::InitLogging(*log_options);
  tp::KeepFreedMemoryMapped();

  // Termination signals are taken synchronously by the main thread; every thread started
  // later inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const tp::broker::Mode mode = writer->parsed()   ? tp::broker::Mode::kWriter
                                : reader->parsed() ? tp::broker::Mode::kReader
                                                   : tp::broker::Mode::kStandalone;
  return tp::broker::RunBroker(mode, flags, signals);
}
