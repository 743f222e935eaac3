// Flag parsing and process lifecycle of the `broker` binary, kept out of main.cc so it is
// testable and main stays thin.
#pragma once

#include <csignal>
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

namespace tp::broker {

struct BrokerFlags {
  std::string listen = "0.0.0.0:8081";
  int threads = 4;
  uint64_t body_limit = 8 << 20;
  // writer
  std::string data_dir;
  uint32_t partitions = 256;
  std::string topics;  // "telemetry:256,..." overrides --partitions
  std::string sync = "always";
  uint32_t sync_interval_ms = 100;
  uint64_t disk_budget_bytes = 0;
  uint64_t retention_bytes = 0;
  uint64_t retention_seconds = 0;
  uint64_t max_inflight_bytes = 64 << 20;
  uint32_t drain_timeout_seconds = 30;
};

void AddWriterFlags(CLI::App& app, BrokerFlags* flags);

// Runs the writer until a signal in `signals` arrives, then drains: publishes get 503,
// readiness turns false, and it waits (bounded by the drain timeout) until every
// partition is committed to its end. Returns the exit code: 0 after the drain, 1 on a
// start-up or runtime error, 2 on bad flags.
int RunWriter(const BrokerFlags& flags, const sigset_t& signals);

}  // namespace tp::broker
