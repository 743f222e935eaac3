// Flag parsing and process lifecycle of the `broker` binary, kept out of main.cc so main
// stays thin.
#pragma once

#include <csignal>
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

namespace tp::broker {

enum class Mode { kWriter, kReader, kStandalone };

struct BrokerFlags {
  std::string listen = "0.0.0.0:8081";
  int threads = 0;  // HTTP io threads; 0: one per CPU the process may use (AvailableCpus)
  uint64_t body_limit = 8 << 20;
  std::string topics;  // "telemetry:256,..." overrides --partitions
  uint32_t partitions = 256;
  uint32_t drain_timeout_seconds = 30;
  // writer
  std::string data_dir;
  std::string sync = "always";
  uint32_t sync_interval_ms = 100;
  uint64_t disk_budget_bytes = 0;
  uint64_t retention_bytes = 0;
  uint64_t retention_seconds = 0;
  uint64_t max_inflight_bytes = 64 << 20;
  // reader
  std::string writers;                  // URL[,URL...] or dns:NAME:PORT
  uint32_t writers_refresh_ms = 10000;  // dns: re-resolution period
  int ordinal = -1;
  int replicas = -1;
  std::string membership_file;
  std::string membership_dns;
  uint32_t membership_refresh_ms = 5000;
  uint32_t max_attempts = 5;
  uint64_t buffer_bytes = 64 << 20;
};

// Flags of each mode; `standalone` takes the writer's and the reader's minus membership.
void AddCommonFlags(CLI::App& app, BrokerFlags* flags);
void AddWriterFlags(CLI::App& app, BrokerFlags* flags);
void AddReaderFlags(CLI::App& app, BrokerFlags* flags, bool standalone);

// Runs until a signal in `signals` arrives, then drains: a writer refuses publishes (503)
// and waits, bounded by the drain timeout, until readers committed every partition to
// its end; a reader stops leasing, waits for outstanding leases and commits what was
// acked. Returns the exit code: 0 after the drain, 1 on a start-up or runtime error, 2 on
// bad flags.
int RunBroker(Mode mode, const BrokerFlags& flags, const sigset_t& signals);

}  // namespace tp::broker
