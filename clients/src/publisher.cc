// Publisher internals. State is a per-topic FIFO of message entries (key, msg_uuid,
// payload text) guarded by one mutex; a single sender thread turns the oldest ready
// topic's front into a batch request. The body is encoded once per batch (flatbuffers
// or JSON), so a retry resends the exact same bytes (and the same msg_uuids).
#include "clients/publisher.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <flatbuffers/flatbuffers.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "broker_generated.h"
#include "tp/http/client.h"
#include "tp/log.h"
#include "tp/thread_name.h"

namespace tp::clients {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kNoSeq = std::numeric_limits<uint64_t>::max();

std::string JsonString(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool LooksLikeObject(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  const auto last = text.find_last_not_of(" \t\r\n");
  return first != std::string_view::npos && text[first] == '{' && text[last] == '}';
}

// Per-message framing counted against max_batch_bytes besides key and payload.
constexpr std::size_t kEntryOverhead = 64;

struct Entry {
  std::string key;
  Uuid msg_uuid;
  std::string payload;  // JSON object text, embedded as it is
  uint64_t seq = 0;
  Clock::time_point enqueued_at;
  std::size_t size() const { return key.size() + payload.size() + kEntryOverhead; }
};

struct TopicQueue {
  std::deque<Entry> entries;
  std::size_t bytes = 0;
};

struct Batch {
  std::string topic;
  std::vector<Entry> entries;
};

bool Retryable(int http_status) {
  return http_status == 408 || http_status == 429 || http_status >= 500;
}

std::string EncodeJson(const std::string& topic, const std::vector<Entry>& entries) {
  std::string body;
  std::size_t reserve = 64 + topic.size();
  for (const Entry& e : entries) {
    reserve += e.size();
  }
  body.reserve(reserve);
  body += "{\"topic\":";
  body += JsonString(topic);
  body += ",\"messages\":[";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (i > 0) {
      body += ',';
    }
    body += "{\"key\":";
    body += JsonString(e.key);
    body += ",\"msg_uuid\":\"";
    body += e.msg_uuid.ToString();
    body += "\",\"payload\":";
    body += e.payload;
    body += '}';
  }
  body += "]}";
  return body;
}

// The flatbuffers form of the same request (broker/schema/broker.fbs): payload bytes
// are copied into the buffer as they are, nothing is parsed.
std::string EncodeFlatbuffers(const std::string& topic,
                              const std::vector<Entry>& entries) {
  std::size_t reserve = 64 + topic.size();
  for (const Entry& e : entries) {
    reserve += e.size();
  }
  flatbuffers::FlatBufferBuilder b(reserve);
  std::vector<flatbuffers::Offset<broker::fb::PublishMessage>> items;
  items.reserve(entries.size());
  for (const Entry& e : entries) {
    auto key = b.CreateString(e.key);
    auto uuid = b.CreateVector(e.msg_uuid.bytes().data(), e.msg_uuid.bytes().size());
    auto payload = b.CreateVector(reinterpret_cast<const uint8_t*>(e.payload.data()),
                                  e.payload.size());
    items.push_back(broker::fb::CreatePublishMessage(b, key, uuid, payload));
  }
  auto t = b.CreateString(topic);
  auto v = b.CreateVector(items);
  b.Finish(broker::fb::CreatePublishRequest(b, t, v));
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

}  // namespace

struct Publisher::Impl {
  PublisherOptions options;
  std::unique_ptr<http::Client> client;
  std::shared_ptr<spdlog::logger> log = Logger("clients");

  mutable std::mutex mu;
  std::condition_variable cv;  // any state change: queue, inflight, stop flags
  std::map<std::string, TopicQueue, std::less<>> topics;  // GUARDED_BY mu
  uint64_t next_seq = 1;                                  // GUARDED_BY mu
  uint64_t flush_through = 0;          // GUARDED_BY mu: send seqs <= this now
  uint64_t inflight_min_seq = kNoSeq;  // GUARDED_BY mu
  std::size_t pending = 0;             // GUARDED_BY mu: queued + in flight
  bool closed = false;                 // GUARDED_BY mu: Publish() refused
  bool abort = false;                  // GUARDED_BY mu: give up retries, exit
  Status first_error;                  // GUARDED_BY mu: since the last Flush
  PublisherStats stats;                // GUARDED_BY mu (pending filled on read)
  std::thread sender;

  // REQUIRES: mu held. Smallest seq not yet done (kNoSeq when idle).
  uint64_t OutstandingMin() const {
    uint64_t m = inflight_min_seq;
    for (const auto& [name, q] : topics) {
      if (!q.entries.empty()) {
        m = std::min(m, q.entries.front().seq);
      }
    }
    return m;
  }

  // REQUIRES: mu held. The topic to send now, or null; *wake is when to look again.
  const std::string* ReadyTopic(Clock::time_point now, Clock::time_point* wake) const {
    const std::string* best = nullptr;
    uint64_t best_seq = kNoSeq;
    *wake = Clock::time_point::max();
    for (const auto& [name, q] : topics) {
      if (q.entries.empty()) {
        continue;
      }
      const Entry& front = q.entries.front();
      const auto due = front.enqueued_at + options.linger;
      const bool ready = closed || front.seq <= flush_through ||
                         q.entries.size() >= options.max_batch_messages ||
                         q.bytes >= options.max_batch_bytes || due <= now;
      if (ready) {
        if (front.seq < best_seq) {
          best = &name;
          best_seq = front.seq;
        }
      } else {
        *wake = std::min(*wake, due);
      }
    }
    return best;
  }

  // REQUIRES: mu held.
  Batch TakeBatch(const std::string& topic) {
    TopicQueue& q = topics[topic];
    Batch batch;
    batch.topic = topic;
    std::size_t bytes = 0;
    while (!q.entries.empty() && batch.entries.size() < options.max_batch_messages) {
      const std::size_t size = q.entries.front().size();
      if (!batch.entries.empty() && bytes + size > options.max_batch_bytes) {
        break;
      }
      bytes += size;
      q.bytes -= size;
      batch.entries.push_back(std::move(q.entries.front()));
      q.entries.pop_front();
    }
    inflight_min_seq = batch.entries.front().seq;
    return batch;
  }

  // REQUIRES: mu held.
  void FinishBatch(const Batch& batch,
                   const Status& status,
                   uint64_t accepted,
                   uint64_t duplicates) {
    const uint64_t n = batch.entries.size();
    if (status.ok()) {
      stats.published += n;
      stats.accepted += accepted;
      stats.duplicates += duplicates;
    } else {
      stats.failures += n;
      if (first_error.ok()) {
        first_error = status;
      }
    }
    pending -= n;
    inflight_min_seq = kNoSeq;
    cv.notify_all();
  }

  // Waits `d` unless abort is set first. Returns false on abort.
  bool SleepUnlessAborted(std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    return !cv.wait_for(lock, d, [&] { return abort; });
  }

  // Sends one batch until it is acknowledged, fails permanently, or abort.
  void Send(const Batch& batch) {
    const bool flatbuffers = options.format == PublishFormat::kFlatbuffers;
    const std::string body = flatbuffers ? EncodeFlatbuffers(batch.topic, batch.entries)
                                         : EncodeJson(batch.topic, batch.entries);
    const std::string_view content_type =
        flatbuffers ? "application/x-flatbuffers" : "application/json";

    for (int attempt = 0;; ++attempt) {
      {
        std::lock_guard lock(mu);
        if (abort) {
          FinishBatch(batch,
                      Status::Unavailable("publisher closed before the batch was "
                                          "acknowledged"),
                      0,
                      0);
          return;
        }
        ++stats.requests;
        if (attempt > 0) {
          ++stats.retries;
        }
      }
      auto response = client->Request(
          "POST", "/v1/publish", body, content_type, {}, options.request_timeout);
      Status error;
      std::optional<std::chrono::milliseconds> retry_after;
      if (!response.ok()) {
        error = response.status();  // Timeout / Unavailable: always worth a retry
        if (error.code() == StatusCode::kInvalidArgument) {
          std::lock_guard lock(mu);
          FinishBatch(batch, error, 0, 0);
          return;
        }
      } else if (response->status >= 200 && response->status < 300) {
        uint64_t accepted = batch.entries.size();
        uint64_t duplicates = 0;
        auto parsed = nlohmann::json::parse(response->body, nullptr, false);
        if (parsed.is_object() && parsed.contains("accepted") &&
            parsed["accepted"].is_number_unsigned()) {
          accepted = parsed["accepted"].get<uint64_t>();
          if (parsed.contains("duplicates") &&
              parsed["duplicates"].is_number_unsigned()) {
            duplicates = parsed["duplicates"].get<uint64_t>();
          }
        }
        std::lock_guard lock(mu);
        FinishBatch(batch, Status::Ok(), accepted, duplicates);
        return;
      } else {
        const int code = response->status;
        std::string detail = response->body.substr(0, 300);
        if (!Retryable(code)) {
          Status status = code == 404   ? Status::NotFound(detail)
                          : code == 413 ? Status::Full(detail)
                                        : Status::InvalidArgument(detail);
          status = status.WithContext(
              fmt::format("publish to topic '{}': HTTP {}", batch.topic, code));
          std::lock_guard lock(mu);
          FinishBatch(batch, status, 0, 0);
          return;
        }
        if (code == 429) {
          std::lock_guard lock(mu);
          ++stats.throttled;
        }
        if (code == 429 || code == 503) {
          if (auto h = response->Header("Retry-After")) {
            retry_after = ParseRetryAfter(*h);
          }
        }
        error = (code == 429 ? Status::Full(detail) : Status::Unavailable(detail))
                    .WithContext(fmt::format("publish: HTTP {}", code));
      }
      if (options.max_attempts > 0 && attempt + 1 >= options.max_attempts) {
        std::lock_guard lock(mu);
        FinishBatch(batch,
                    error.WithContext(
                        fmt::format("gave up after {} attempts", options.max_attempts)),
                    0,
                    0);
        return;
      }
      auto wait = FullJitterBackoff(options.backoff, attempt);
      if (retry_after) {
        wait = std::min(*retry_after, options.max_retry_after);
      }
      SPDLOG_LOGGER_DEBUG(log,
                          "publish retry {} in {} ms: {}",
                          attempt + 1,
                          wait.count(),
                          error.ToString());
      if (!SleepUnlessAborted(wait)) {
        continue;  // the loop head fails the batch
      }
    }
  }

  void Run() {
    std::unique_lock lock(mu);
    while (true) {
      if (abort) {
        break;
      }
      Clock::time_point wake;
      const std::string* topic = ReadyTopic(Clock::now(), &wake);
      if (topic == nullptr) {
        if (closed && pending == 0) {
          break;
        }
        if (wake == Clock::time_point::max()) {
          cv.wait(lock);
        } else {
          cv.wait_until(lock, wake);
        }
        continue;
      }
      Batch batch = TakeBatch(*topic);
      lock.unlock();
      Send(batch);
      lock.lock();
    }
    // Abort: whatever is still queued is given up.
    for (auto& [name, q] : topics) {
      if (!q.entries.empty()) {
        stats.failures += q.entries.size();
        pending -= q.entries.size();
        if (first_error.ok()) {
          first_error = Status::Unavailable("publisher closed with messages queued");
        }
        q.entries.clear();
        q.bytes = 0;
      }
    }
    cv.notify_all();
  }
};

Publisher::Publisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Publisher>> Publisher::Create(PublisherOptions options) {
  if (options.max_batch_messages == 0 || options.max_batch_bytes == 0 ||
      options.max_queued_messages == 0) {
    return Status::InvalidArgument("publisher batch and queue sizes must be positive");
  }
  if (options.linger.count() < 0 || options.enqueue_timeout.count() < 0 ||
      options.request_timeout.count() <= 0 || options.max_attempts < 0) {
    return Status::InvalidArgument("publisher timeouts must not be negative");
  }
  http::ClientOptions client_options;
  client_options.connect_timeout = options.connect_timeout;
  client_options.timeout = options.request_timeout;
  client_options.max_idle_connections = 2;
  client_options.user_agent = "tp-publisher";
  TP_ASSIGN_OR_RETURN(auto client,
                      http::Client::Create(options.broker_url, client_options));
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->client = std::move(client);
  Impl* raw = impl.get();
  impl->sender = std::thread([raw] {
    NameThisThread("publisher");
    raw->Run();
  });
  return std::unique_ptr<Publisher>(new Publisher(std::move(impl)));
}

Publisher::~Publisher() {
  Close(std::chrono::milliseconds(0)).IgnoreError();
}

Result<Uuid> Publisher::Publish(std::string_view topic,
                                std::string_view key,
                                std::string_view payload_json,
                                std::optional<Uuid> msg_uuid) {
  if (topic.empty()) {
    return Status::InvalidArgument("publish: empty topic");
  }
  if (!LooksLikeObject(payload_json)) {
    return Status::InvalidArgument("publish: payload must be a JSON object");
  }
  const Uuid id = msg_uuid.value_or(Uuid::NewV7());
  Entry entry;
  entry.key = key;
  entry.msg_uuid = id;
  entry.payload = payload_json;

  Impl& s = *impl_;
  std::unique_lock lock(s.mu);
  auto has_room = [&] {
    return s.closed || s.pending < s.options.max_queued_messages;
  };
  if (!has_room()) {
    if (s.options.enqueue_timeout.count() == 0 ||
        !s.cv.wait_for(lock, s.options.enqueue_timeout, has_room)) {
      return Status::Full(
          fmt::format("publish queue full ({} messages)", s.options.max_queued_messages));
    }
  }
  if (s.closed) {
    return Status::Unavailable("publisher is closed");
  }
  entry.seq = s.next_seq++;
  entry.enqueued_at = Clock::now();
  auto it = s.topics.find(topic);  // no temporary string per message
  if (it == s.topics.end())
    it = s.topics.emplace(std::string(topic), TopicQueue{}).first;
  TopicQueue& q = it->second;
  q.bytes += entry.size();
  q.entries.push_back(std::move(entry));
  ++s.pending;
  ++s.stats.enqueued;
  if (q.entries.size() == 1 || q.entries.size() >= s.options.max_batch_messages ||
      q.bytes >= s.options.max_batch_bytes) {
    s.cv.notify_all();
  }
  return id;
}

Status Publisher::Flush(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  std::unique_lock lock(s.mu);
  const uint64_t target = s.next_seq - 1;
  s.flush_through = std::max(s.flush_through, target);
  s.cv.notify_all();
  const bool done = s.cv.wait_for(lock, timeout, [&] {
    const uint64_t m = s.OutstandingMin();
    return m == kNoSeq || m > target;
  });
  if (!done) {
    return Status::Timeout(fmt::format("flush: {} messages still pending", s.pending));
  }
  Status result = s.first_error;
  s.first_error = Status::Ok();
  return result;
}

Status Publisher::Close(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.mu);
    if (!s.sender.joinable()) {
      return Status::Ok();
    }
    s.closed = true;
    s.cv.notify_all();
  }
  Status status = Flush(timeout);
  {
    std::lock_guard lock(s.mu);
    s.abort = true;
    s.cv.notify_all();
  }
  s.sender.join();
  if (status.ok()) {
    std::lock_guard lock(s.mu);
    status = s.first_error;
    s.first_error = Status::Ok();
  }
  return status;
}

PublisherStats Publisher::Stats() const {
  std::lock_guard lock(impl_->mu);
  PublisherStats st = impl_->stats;
  st.pending = impl_->pending;
  return st;
}

}  // namespace tp::clients
