// Load against a running broker through the project's own clients: Publishers
// (clients::Publisher, one keep-alive connection each, one request in flight each) and,
// optionally, Consumers leasing and acking at the same time.
//
// A publisher thread queues `batch` messages and Flush()es: one POST /v1/publish per
// batch, answered once the batch is durable; its latency is Publish() of the first
// message to Flush() returning. Every message carries its publish time in its
// `timestamp` (as the streamer stamps emissions), so a consumer measures
// publish-to-lease latency from the leased payload alone.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "broker_process.h"
#include "load_stats.h"
#include "messages.h"
#include "tp/status.h"

namespace tp::bench {

// Topics the broker must declare (--topics "telemetry:N,warmup:1"). Before the clock
// starts, every publisher publishes for budget.warmup (at least one batch): to kTopic
// when the phase has no consumers, else to kWarmupTopic, which no consumer reads.
inline constexpr std::string_view kTopic = "telemetry";
inline constexpr std::string_view kWarmupTopic = "warmup";

struct PublishLoad {
  int publishers = 4;
  std::size_t batch = 100;
};

struct ConsumeLoad {
  int consumers = 0;  // 0: publish only
  std::size_t lease_batch = 100;
};

struct ScenarioResult {
  PhaseResult publish;
  std::optional<PhaseResult> consume;  // when consumers ran
};

// Publishes (and consumes) until the budget is spent. Consumers go on after publishing
// stopped until everything published was acked, bounded by another budget.duration (at
// least 5 s). Broker-side figures come from `broker`'s /metrics and /proc.
Result<ScenarioResult> RunBrokerScenario(BrokerProcess& broker,
                                         const PublishLoad& publish,
                                         const ConsumeLoad& consume,
                                         const MessageBodies& bodies,
                                         const Budget& budget);

}  // namespace tp::bench
