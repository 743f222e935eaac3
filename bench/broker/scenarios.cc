#include "scenarios.h"

#include <algorithm>
#include <atomic>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

#include "clients/consumer.h"
#include "clients/publisher.h"
#include "tp/telemetry/time.h"

namespace tp::bench {
namespace {

constexpr std::string_view kGroup = "bench";

struct PublisherWorker {
  std::unique_ptr<clients::Publisher> publisher;
  std::vector<double> ms;
  uint64_t messages = 0;
  uint64_t errors = 0;
  Status error;
  Clock::time_point finished{};
};

struct ConsumerWorker {
  std::unique_ptr<clients::Consumer> consumer;
  std::vector<double> publish_to_lease_ms;
  std::vector<double> lease_ms;
  std::vector<double> ack_ms;
  uint64_t acked = 0;
  uint64_t redelivered = 0;
  uint64_t errors = 0;
  Status error;
  Clock::time_point last_ack{};
};

// Shared by the threads of one scenario.
struct Shared {
  std::atomic<uint64_t> published{0};  // acknowledged by the writer
  std::atomic<uint64_t> acked{0};
  std::atomic<bool> publishing_done{false};
  std::unique_ptr<Quota> quota;  // set before `go` opens
  Clock::time_point consume_deadline{};
};

// Queues one batch (stamped with the current time) and waits until it is durable.
Status SendBatch(clients::Publisher& publisher,
                 std::string_view topic,
                 const MessageBodies& bodies,
                 std::size_t batch,
                 std::size_t* next_row,
                 std::string* body) {
  const auto stamp = telemetry::NowMicros();
  for (std::size_t i = 0; i < batch; ++i, ++*next_row) {
    bodies.Render(*next_row, stamp, body);
    TP_RETURN_IF_ERROR(
        publisher.Publish(topic, bodies.row(*next_row).key, *body).status());
  }
  return publisher.Flush(std::chrono::seconds(60));
}

// Warm-up: batches to `warmup_topic` until `warmup_end`, at least one.
void RunPublisher(PublisherWorker& w,
                  Shared& shared,
                  const MessageBodies& bodies,
                  std::size_t batch,
                  std::size_t first_row,
                  std::string_view warmup_topic,
                  Clock::time_point warmup_end,
                  std::latch& warmed,
                  std::latch& go) {
  std::size_t next_row = first_row;
  std::string body;
  do {
    w.error = SendBatch(*w.publisher, warmup_topic, bodies, batch, &next_row, &body);
  } while (w.error.ok() && Clock::now() < warmup_end);
  warmed.count_down();
  go.wait();
  while (w.error.ok() && shared.quota->Claim(batch)) {
    const auto t0 = Clock::now();
    Status s = SendBatch(*w.publisher, kTopic, bodies, batch, &next_row, &body);
    if (!s.ok()) {
      w.errors += batch;
      w.error = s;
      break;
    }
    w.ms.push_back(Millis(Clock::now() - t0));
    w.messages += batch;
    shared.published.fetch_add(batch);
  }
  w.finished = Clock::now();
}

void RunConsumer(ConsumerWorker& w,
                 Shared& shared,
                 const clients::LeaseRequest& request,
                 std::latch& warmed,
                 std::latch& go) {
  w.error = w.consumer->Ping();
  warmed.count_down();
  go.wait();
  while (w.error.ok() && Clock::now() < shared.consume_deadline) {
    if (shared.publishing_done.load() && shared.acked.load() >= shared.published.load()) {
      break;
    }
    const auto t0 = Clock::now();
    auto lease = w.consumer->Lease(request);
    const auto t1 = Clock::now();
    if (!lease.ok()) {
      const StatusCode code = lease.status().code();
      if (code != StatusCode::kUnavailable && code != StatusCode::kTimeout)
        w.error = lease.status();
      ++w.errors;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    if (lease->messages.empty())
      continue;
    w.lease_ms.push_back(Millis(t1 - t0));
    const auto leased_at = telemetry::NowMicros();
    for (const auto& m : lease->messages) {
      if (auto published_at = MessageBodies::PayloadTimestamp(m.payload)) {
        w.publish_to_lease_ms.push_back(
            std::chrono::duration<double, std::milli>(leased_at - *published_at).count());
      }
      if (m.attempt > 1)
        ++w.redelivered;
    }
    const auto t2 = Clock::now();
    auto acked = w.consumer->Ack(lease->lease_id);
    const auto t3 = Clock::now();
    if (!acked.ok()) {
      w.errors += lease->messages.size();
      continue;  // the messages come back after the lease expires
    }
    w.ack_ms.push_back(Millis(t3 - t2));
    w.acked += static_cast<uint64_t>(*acked);
    shared.acked.fetch_add(static_cast<uint64_t>(*acked));
    w.last_ack = t3;
  }
}

// Broker-side figures between two /metrics scrapes.
BrokerBreakdown Breakdown(const std::string& before,
                          const std::string& after,
                          double cpu_seconds) {
  auto delta = [&](std::string_view name, const std::vector<std::string_view>& labels) {
    return SumSamples(after, name, labels) - SumSamples(before, name, labels);
  };
  const std::vector<std::string_view> publish_ok = {R"(route="/v1/publish")",
                                                    R"(code="200")"};
  const double handler_s = delta("http_request_duration_seconds_sum", publish_ok);
  const double handled = delta("http_request_duration_seconds_count", publish_ok);
  const double append_s = delta("tp_broker_append_seconds_sum", {});
  const double appends = delta("tp_broker_append_seconds_count", {});
  BrokerBreakdown b;
  b.publish_handler_mean_ms = handled > 0 ? 1000 * handler_s / handled : 0;
  b.append_mean_ms = appends > 0 ? 1000 * append_s / appends : 0;
  b.appends_per_request = handled > 0 ? appends / handled : 0;
  b.open_connections = SumSamples(after, "http_open_connections");
  b.cpu_seconds = cpu_seconds;
  return b;
}

}  // namespace

Result<ScenarioResult> RunBrokerScenario(BrokerProcess& broker,
                                         const PublishLoad& publish,
                                         const ConsumeLoad& consume,
                                         const MessageBodies& bodies,
                                         const Budget& budget) {
  std::vector<PublisherWorker> publishers(static_cast<std::size_t>(publish.publishers));
  for (auto& w : publishers) {
    clients::PublisherOptions options;
    options.broker_url = broker.url();
    options.max_batch_messages = publish.batch;
    // A batch leaves when it is full or flushed, never half-full on a timer.
    options.linger = std::chrono::seconds(10);
    options.max_queued_messages = std::max<std::size_t>(2 * publish.batch, 1000);
    options.request_timeout = std::chrono::seconds(30);
    options.max_attempts = 5;
    TP_ASSIGN_OR_RETURN(w.publisher, clients::Publisher::Create(options));
  }
  std::vector<ConsumerWorker> consumers(static_cast<std::size_t>(consume.consumers));
  for (auto& w : consumers) {
    clients::ConsumerOptions options;
    options.reader_url = broker.url();
    options.topic = std::string(kTopic);
    TP_ASSIGN_OR_RETURN(w.consumer, clients::Consumer::Create(options));
  }

  Shared shared;
  std::latch warmed(publish.publishers + consume.consumers);
  std::latch go(1);
  // Publish-only phases warm up on the measured topic, so its partitions are warm too;
  // with consumers, on a topic they do not read, so they lease only measured messages.
  const std::string_view warmup_topic = consumers.empty() ? kTopic : kWarmupTopic;
  const auto warmup_end = budget.WarmupEnd();
  std::vector<std::thread> publisher_threads;
  std::vector<std::thread> consumer_threads;
  for (std::size_t i = 0; i < publishers.size(); ++i) {
    const std::size_t first_row = i * bodies.size() / publishers.size();
    publisher_threads.emplace_back([&, i, first_row] {
      RunPublisher(publishers[i],
                   shared,
                   bodies,
                   publish.batch,
                   first_row,
                   warmup_topic,
                   warmup_end,
                   warmed,
                   go);
    });
  }
  for (std::size_t i = 0; i < consumers.size(); ++i) {
    clients::LeaseRequest request;
    request.group = std::string(kGroup);
    request.consumer_id = "c" + std::to_string(i);
    request.max = static_cast<int>(consume.lease_batch);
    request.lease_seconds = std::chrono::seconds(30);
    request.wait = std::chrono::milliseconds(200);
    consumer_threads.emplace_back(
        [&, i, request] { RunConsumer(consumers[i], shared, request, warmed, go); });
  }
  warmed.wait();
  auto metrics_before = broker.Metrics();
  const double broker_cpu0 = ProcessCpuSeconds(broker.pid());
  const auto writer0 = ThreadSchedOf(broker.pid(), kWriterThread);
  const double self_cpu0 = SelfCpuSeconds();
  const auto start = Clock::now();
  shared.quota = std::make_unique<Quota>(budget.count, start + budget.duration);
  shared.consume_deadline =
      start + budget.duration +
      std::max<std::chrono::milliseconds>(budget.duration, std::chrono::seconds(5));
  go.count_down();

  for (auto& t : publisher_threads)
    t.join();
  const auto publish_end = Clock::now();
  shared.publishing_done = true;
  const uint64_t backlog =
      shared.published.load() - std::min(shared.published.load(), shared.acked.load());
  const double broker_cpu1 = ProcessCpuSeconds(broker.pid());
  const auto writer1 = ThreadSchedOf(broker.pid(), kWriterThread);
  const double self_cpu1 = SelfCpuSeconds();
  auto metrics_after = broker.Metrics();
  for (auto& t : consumer_threads)
    t.join();

  ScenarioResult result;
  PhaseResult& p = result.publish;
  std::vector<double> ms;
  Clock::time_point last_publish = start;
  for (auto& w : publishers) {
    if (!w.error.ok() && w.messages == 0 && w.ms.empty())
      return w.error.WithContext("publisher");
    p.messages += w.messages;
    p.errors += w.errors;
    p.retries += w.publisher->Stats().retries;
    p.requests += w.ms.size();
    ms.insert(ms.end(), w.ms.begin(), w.ms.end());
    last_publish = std::max(last_publish, w.finished);
  }
  p.seconds = std::chrono::duration<double>(last_publish - start).count();
  p.latency = Summarize(std::move(ms));
  p.loadgen_cpu_seconds = self_cpu1 - self_cpu0;
  p.writer = WriterShares(
      writer0, writer1, std::chrono::duration<double>(publish_end - start).count());
  if (metrics_before.ok() && metrics_after.ok())
    p.broker = Breakdown(*metrics_before, *metrics_after, broker_cpu1 - broker_cpu0);

  if (!consumers.empty()) {
    PhaseResult c;
    std::vector<double> p2l;
    std::vector<double> lease_ms;
    std::vector<double> ack_ms;
    Clock::time_point last_ack = start;
    for (auto& w : consumers) {
      if (!w.error.ok())
        return w.error.WithContext("consumer");
      c.messages += w.acked;
      c.errors += w.errors;
      c.redelivered += w.redelivered;
      c.requests += w.lease_ms.size() + w.ack_ms.size();
      p2l.insert(p2l.end(), w.publish_to_lease_ms.begin(), w.publish_to_lease_ms.end());
      lease_ms.insert(lease_ms.end(), w.lease_ms.begin(), w.lease_ms.end());
      ack_ms.insert(ack_ms.end(), w.ack_ms.begin(), w.ack_ms.end());
      last_ack = std::max(last_ack, w.last_ack);
    }
    c.seconds = std::chrono::duration<double>(last_ack - start).count();
    c.latency = Summarize(std::move(p2l));
    c.lease_call = Summarize(std::move(lease_ms));
    c.ack_call = Summarize(std::move(ack_ms));
    c.backlog_at_publish_end = backlog;
    c.drain_seconds = last_ack > publish_end
                          ? std::chrono::duration<double>(last_ack - publish_end).count()
                          : 0.0;
    c.loadgen_cpu_seconds = SelfCpuSeconds() - self_cpu0;
    result.consume = std::move(c);
  }
  return result;
}

}  // namespace tp::bench
