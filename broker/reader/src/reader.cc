// Reader: request validation, the (topic, group) pipeline table, and the blocking
// threads (membership, replay per pipeline and writer, commit).
//
// Threads and ownership:
//  - io threads run the Reader's own io_context: the control strand (pipeline table and
//    assignment) and one strand per pipeline (pipeline.h). Handlers, running on the HTTP
//    server's threads, co_spawn onto these strands and co_await the answer.
//  - replay threads (one per pipeline and writer) and the commit thread call the
//    blocking LogSource and talk to a pipeline by posting to its strand and waiting on a
//    std::future; they are never io threads, so waiting there blocks no one.
//  - The writer table (slot -> LogSource, active, epoch) belongs to the control strand.
//    With a WriterDiscovery, the discovery thread resolves the set, keeps its own view
//    (id -> LogSource, active, missing since) and applies changes on `control`, which
//    tells every pipeline (AddWriter/RemoveWriter on its strand) and starts replay
//    threads; a replay thread of a writer that left, or of an earlier activation, sees
//    `stop` in its next plan and ends, and the discovery thread joins the ended ones.
//  - The only mutexes: `threads_mu_` (the list of replay threads, touched when a group
//    or a writer is added, when ended threads are joined and at Stop), `commit_mu_`
//    (serialises a commit pass of the commit thread with Drain's final one),
//    `membership_mu_` (Membership::Current is single-threaded), `discovery_mu_`
//    (RefreshWriters from a caller and from the discovery thread) and the stop signal's
//    mutex. None is on the request path.
#include "broker/reader.h"

// GCC 12 reports a false -Wmismatched-new-delete on asio's awaitable frame allocator
// (operator new/delete are both asio's) in coroutines that return Response.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <future>
#include <iterator>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include "pipeline.h"
#include "tp/json_scan.h"
#include "tp/log.h"
#include "tp/metrics/metrics.h"
#include "tp/thread_name.h"

namespace tp::broker {

namespace net = boost::asio;
using internal::FetchPlan;
using internal::IncomingPartition;
using internal::IncomingRecord;
using internal::LeaseOutcome;
using internal::LeaseParams;
using internal::Pipeline;
using internal::SettleOutcome;
using internal::SettleParams;
using internal::Strand;

Status ReaderOptions::Validate() const {
  auto bad = [](const std::string& what) {
    return Status::InvalidArgument(what);
  };
  if (topics.empty()) {
    return bad("topics: at least one topic");
  }
  for (const auto& t : topics) {
    if (t.empty()) {
      return bad("topics: empty topic name");
    }
  }
  if (default_group.empty()) {
    return bad("default_group: empty");
  }
  if (max_groups < 1) {
    return bad("max_groups: at least 1");
  }
  if (max_attempts < 1) {
    return bad("max_attempts: at least 1");
  }
  if (min_lease.count() < 1 || max_lease.count() > 3600 || min_lease > max_lease ||
      default_lease < min_lease || default_lease > max_lease) {
    return bad("lease seconds: need 1 <= min <= default <= max <= 3600");
  }
  if (max_lease_batch < 1 || max_lease_batch > 1000 || default_lease_batch < 1 ||
      default_lease_batch > max_lease_batch) {
    return bad("lease batch: need 1 <= default <= max <= 1000");
  }
  if (max_wait.count() < 0 || max_nack_delay.count() < 0) {
    return bad("max_wait/max_nack_delay: negative");
  }
  if (max_leases_per_group < 1) {
    return bad("max_leases_per_group: at least 1");
  }
  if (buffer_bytes < 1024) {
    return bad("buffer_bytes: at least 1024");
  }
  if (fetch_max_records_per_partition < 1 || fetch_max_bytes < 1) {
    return bad("fetch limits: at least 1");
  }
  if (fetch_wait.count() < 0 || commit_interval.count() < 1 ||
      expiry_scan_interval.count() < 1 || membership_interval.count() < 1 ||
      retry_backoff.count() < 1 || drain_timeout.count() < 0 ||
      writers_refresh.count() < 1 || removed_writer_grace.count() < 0) {
    return bad("intervals: must be positive");
  }
  if (io_threads < 1) {
    return bad("io_threads: at least 1");
  }
  return Status::Ok();
}

namespace {

// Posts `fn` to `strand` and waits for its result. Only from non-io threads.
template <typename F>
auto RunOn(Strand& strand, F fn) {
  return net::post(strand, net::use_future(std::move(fn))).get();
}

// A sleep that Stop() interrupts.
class StopSignal {
 public:
  // False when stopped (immediately or during the wait).
  bool SleepFor(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, d, [this] { return stopped_; });
  }
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }
  bool stopped() {
    std::lock_guard lock(mu_);
    return stopped_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;  // GUARDED_BY mu_
};

http::Response BadField(std::string_view field, std::string_view detail) {
  return http::Problem(400, "Bad Request", detail, field);
}

http::Response JsonText(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = "application/json";
  return r;
}

// Request body as a JSON object, or the 400 problem.
std::optional<http::Response> ParseBody(const http::Request& request,
                                        nlohmann::json& doc) {
  doc = nlohmann::json::parse(request.body, nullptr, false);
  if (doc.is_discarded()) {
    return http::Problem(400, "Bad Request", "request body is not valid JSON");
  }
  if (!doc.is_object()) {
    return http::Problem(400, "Bad Request", "request body must be a JSON object");
  }
  return std::nullopt;
}

std::optional<http::Response> GetString(const nlohmann::json& doc,
                                        const char* field,
                                        bool required,
                                        std::string& out) {
  auto it = doc.find(field);
  if (it == doc.end() || it->is_null()) {
    if (required) {
      return BadField(field, std::string("missing required field ") + field);
    }
    return std::nullopt;
  }
  if (!it->is_string()) {
    return BadField(field, std::string(field) + " must be a string");
  }
  out = it->get<std::string>();
  if (out.empty() || out.size() > 256) {
    return BadField(field, std::string(field) + " must have 1 to 256 characters");
  }
  return std::nullopt;
}

std::optional<http::Response> GetUint(const nlohmann::json& doc,
                                      const char* field,
                                      uint64_t min,
                                      uint64_t max,
                                      uint64_t& out) {
  auto it = doc.find(field);
  if (it == doc.end() || it->is_null()) {
    return std::nullopt;  // keeps the default in `out`
  }
  if (!it->is_number_integer()) {
    return BadField(field, std::string(field) + " must be an integer");
  }
  const bool in_range = it->is_number_unsigned() && it->get<uint64_t>() >= min &&
                        it->get<uint64_t>() <= max;
  if (!in_range) {
    return BadField(field,
                    std::string(field) + " must be between " + std::to_string(min) +
                        " and " + std::to_string(max));
  }
  const uint64_t v = it->get<uint64_t>();
  out = v;
  return std::nullopt;
}

bool ValidGroupName(const std::string& g) {
  return std::all_of(g.begin(), g.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
           c == '.';
  });
}

// Parses "lease_id" and the optional "msg_uuids".
std::optional<http::Response> ParseSettle(const nlohmann::json& doc, SettleParams& out) {
  if (auto bad = GetString(doc, "lease_id", true, out.lease_id)) {
    return bad;
  }
  auto it = doc.find("msg_uuids");
  if (it != doc.end() && !it->is_null()) {
    if (!it->is_array()) {
      return BadField("msg_uuids", "msg_uuids must be an array of UUID strings");
    }
    if (it->size() > 100000) {
      return BadField("msg_uuids", "msg_uuids has too many entries");
    }
    std::vector<Uuid> uuids;
    for (const auto& v : *it) {
      if (!v.is_string()) {
        return BadField("msg_uuids", "msg_uuids must be an array of UUID strings");
      }
      auto u = Uuid::Parse(v.get<std::string>());
      if (!u.ok()) {
        return BadField("msg_uuids",
                        "msg_uuids: '" + v.get<std::string>() + "' is not a valid UUID");
      }
      uuids.push_back(*u);
    }
    out.msg_uuids = std::move(uuids);
  }
  return std::nullopt;
}

http::Response SettleProblem(const SettleOutcome& o) {
  if (o.status == 404) {
    return http::Problem(404, "Not Found", o.detail, "lease_id");
  }
  return http::Problem(409, "Conflict", o.detail, "lease_id");
}

void AppendDecimal(std::string* out, uint64_t n) {
  char digits[20];
  out->append(digits, std::to_chars(digits, digits + sizeof digits, n).ptr);
}

std::string LeaseBody(const LeaseOutcome& o) {
  std::string body;
  body.reserve(64 + o.messages.size() * 256);
  body += "{\"lease_id\":";
  body += nlohmann::json(o.lease_id).dump();
  body += ",\"expires_at\":\"";
  if (!o.lease_id.empty()) {
    body += internal::FormatRfc3339(o.expires_at);
  }
  body += "\",\"messages\":[";
  bool first = true;
  for (const auto& m : o.messages) {
    if (!first) {
      body += ',';
    }
    first = false;
    // Appended piece by piece: chaining operator+ made a temporary string per message.
    body += "{\"msg_uuid\":\"";
    body += m.msg_uuid;
    body += "\",\"partition\":";
    AppendDecimal(&body, m.partition);
    body += ",\"offset\":";
    AppendDecimal(&body, m.offset);
    body += ",\"attempt\":";
    AppendDecimal(&body, m.attempt);
    body += ",\"payload\":";
    // Payloads are the JSON text the writer stored (checked by the replay thread);
    // anything else is inlined as a JSON string.
    if (m.payload_is_json) {
      body += *m.payload;
    } else {
      body += nlohmann::json(*m.payload)
                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    body += '}';
  }
  body += "]}";
  return body;
}

}  // namespace

struct Reader::Impl {
  internal::Shared shared;
  std::unique_ptr<Membership> membership;
  std::optional<WriterDiscovery> discovery;  // nullopt: the fixed list of Create
  std::unique_ptr<metrics::Registry> own_registry;
  metrics::Registry* registry = nullptr;
  std::shared_ptr<spdlog::logger> log = Logger("broker.reader");

  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> io_threads;
  Strand control{net::make_strand(ioc)};

  // ---- owned by `control` ----
  struct WriterSlot {
    std::string id;
    std::shared_ptr<LogSource> source;
    bool active = false;
    uint64_t epoch = 0;  // activations so far
  };
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Pipeline>> pipelines;
  std::vector<std::shared_ptr<Pipeline>> by_index;
  std::optional<Assignment> control_assignment;
  std::vector<WriterSlot> writer_slots;  // slots are never reused
  std::atomic<std::size_t> active_writers{0};

  std::atomic<bool> started{false};
  std::atomic<bool> draining{false};
  std::atomic<bool> stopped{false};
  std::atomic<uint64_t> assignment_packed{0};  // 0: none; else ordinal<<32 | replicas

  StopSignal stop;
  std::mutex membership_mu;
  std::optional<Assignment> last_assignment;  // GUARDED_BY membership_mu
  std::string last_membership_error;          // GUARDED_BY membership_mu
  std::thread membership_thread;
  std::thread commit_thread;
  std::mutex commit_mu;

  // ---- owned by the discovery thread (and Start() before it runs) ----
  struct KnownWriter {
    std::shared_ptr<LogSource> source;
    bool active = false;
    std::optional<std::chrono::steady_clock::time_point> missing_since;
  };
  std::mutex discovery_mu;
  std::map<std::string, KnownWriter> known_writers;  // GUARDED_BY discovery_mu
  std::string last_resolve_error;                    // GUARDED_BY discovery_mu
  std::thread discovery_thread;

  struct ReplayThread {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex threads_mu;
  std::vector<ReplayThread> replay_threads;  // GUARDED_BY threads_mu
  bool threads_closed = false;               // GUARDED_BY threads_mu

  metrics::CounterFamily* leases_total = nullptr;
  metrics::CounterFamily* leased_total = nullptr;
  metrics::CounterFamily* acked_total = nullptr;
  metrics::CounterFamily* nacked_total = nullptr;
  metrics::CounterFamily* redelivered_total = nullptr;
  metrics::CounterFamily* dead_lettered_total = nullptr;
  metrics::GaugeFamily* outstanding = nullptr;
  metrics::Counter* commit_errors = nullptr;
  metrics::Counter* fetch_errors = nullptr;
  metrics::Counter* commits = nullptr;
  metrics::Gauge* writers_gauge = nullptr;
  metrics::Counter* resolve_errors = nullptr;

  void RegisterMetrics();
  std::shared_ptr<Pipeline> GetOrCreate(const std::string& topic,
                                        const std::string& group,
                                        int& status);
  // Work that handlers co_spawn onto `control`. Like every coroutine here they take
  // parameters and capture nothing: GCC 12 destroys a capturing lambda built inside a
  // co_await expression twice (a lambda turned into a std::function coroutine argument
  // dropped one Pipeline reference per ack until the pipeline was freed while in use).
  struct Created {
    std::shared_ptr<Pipeline> pipeline;
    int status = 200;  // 429 or 503 when pipeline is null
  };
  net::awaitable<Created> GetOrCreateOnControl(std::string topic, std::string group);
  net::awaitable<std::shared_ptr<Pipeline>> ByIndexOnControl(uint32_t index);
  // Replay threads of pipeline `p` for writer `slot` (control strand).
  void SpawnReplay(const std::shared_ptr<Pipeline>& p, std::size_t slot);
  // `source` is the thread's own reference (the writer may leave meanwhile).
  void ReplayLoop(std::shared_ptr<Pipeline> p,
                  internal::WriterRef writer,
                  const std::shared_ptr<LogSource>& source);
  void JoinEndedReplayThreads();
  void CommitLoop();
  void CommitPass();
  void MembershipLoop();
  void Refresh();
  void DiscoveryLoop();
  void RefreshWriters();
  // Run on `control`: (re)activates the writer `id` / deactivates it.
  void ActivateWriter(const std::string& id, std::shared_ptr<LogSource> source);
  void DeactivateWriter(const std::string& id);
  std::vector<std::shared_ptr<Pipeline>> AllPipelines() {
    return RunOn(control, [this] { return by_index; });
  }
  // Pipelines and the LogSource of every writer slot, in one visit to `control`.
  std::pair<std::vector<std::shared_ptr<Pipeline>>,
            std::vector<std::shared_ptr<LogSource>>>
  PipelinesAndSources() {
    return RunOn(control, [this] {
      std::vector<std::shared_ptr<LogSource>> sources;
      for (const WriterSlot& w : writer_slots) {
        sources.push_back(w.source);
      }
      return std::make_pair(by_index, std::move(sources));
    });
  }
  net::awaitable<std::shared_ptr<Pipeline>> PipelineForLease(const std::string& lease_id);
};

void Reader::Impl::RegisterMetrics() {
  if (registry == nullptr) {
    own_registry = std::make_unique<metrics::Registry>();
    registry = own_registry.get();
  }
  const std::vector<std::string> labels = {"topic", "group"};
  leases_total = &registry->AddCounterFamily(
      "broker_reader_leases_total", "Leases granted (with at least one message)", labels);
  leased_total = &registry->AddCounterFamily(
      "broker_reader_messages_leased_total", "Messages handed out in leases", labels);
  acked_total = &registry->AddCounterFamily(
      "broker_reader_messages_acked_total", "Messages acked", labels);
  nacked_total = &registry->AddCounterFamily(
      "broker_reader_messages_nacked_total", "Messages nacked", labels);
  redelivered_total =
      &registry->AddCounterFamily("broker_reader_messages_redelivered_total",
                                  "Messages leased again after an expiry or nack",
                                  labels);
  dead_lettered_total = &registry->AddCounterFamily(
      "broker_reader_messages_dead_lettered_total",
      "Messages appended to the dead-letter log after max attempts",
      labels);
  outstanding = &registry->AddGaugeFamily("broker_reader_leases_outstanding",
                                          "Leases not yet acked, nacked or expired",
                                          labels);
  shared.buffer_bytes_gauge = &registry->AddGauge(
      "broker_reader_buffer_bytes", "Bytes of fetched messages held in memory");
  shared.utilisation_gauge =
      &registry->AddGauge("broker_reader_buffer_utilization_ratio",
                          "Buffered bytes over the buffer budget (0..1)");
  commits = &registry->AddCounter("broker_reader_commits_total",
                                  "Offset commit calls that succeeded");
  commit_errors = &registry->AddCounter("broker_reader_commit_errors_total",
                                        "Failed offset commits and dead-letter appends");
  fetch_errors =
      &registry->AddCounter("broker_reader_fetch_errors_total", "Failed fetches");
  writers_gauge =
      &registry->AddGauge("broker_reader_writers", "Writers this reader replays from");
  resolve_errors = &registry->AddCounter("broker_reader_writer_resolve_errors_total",
                                         "Failed or empty resolutions of the writer set");
}

net::awaitable<Reader::Impl::Created> Reader::Impl::GetOrCreateOnControl(
    std::string topic, std::string group) {
  Created out;
  out.pipeline = GetOrCreate(topic, group, out.status);
  co_return out;
}

net::awaitable<std::shared_ptr<Pipeline>> Reader::Impl::ByIndexOnControl(uint32_t index) {
  co_return index < by_index.size() ? by_index[index] : nullptr;
}

std::shared_ptr<Pipeline> Reader::Impl::GetOrCreate(const std::string& topic,
                                                    const std::string& group,
                                                    int& status) {
  // Runs on `control`.
  auto it = pipelines.find({topic, group});
  if (it != pipelines.end()) {
    return it->second;
  }
  if (stopped.load()) {
    status = 503;
    return nullptr;
  }
  if (pipelines.size() >= shared.options.max_groups) {
    status = 429;
    return nullptr;
  }
  internal::PipelineMetrics m;
  m.leases = &leases_total->WithLabels({topic, group});
  m.leased = &leased_total->WithLabels({topic, group});
  m.acked = &acked_total->WithLabels({topic, group});
  m.nacked = &nacked_total->WithLabels({topic, group});
  m.redelivered = &redelivered_total->WithLabels({topic, group});
  m.dead_lettered = &dead_lettered_total->WithLabels({topic, group});
  m.outstanding_leases = &outstanding->WithLabels({topic, group});
  std::vector<internal::WriterRef> writers;
  for (std::size_t w = 0; w < writer_slots.size(); ++w) {
    if (writer_slots[w].active) {
      writers.push_back({w, writer_slots[w].epoch});
    }
  }
  auto p = std::make_shared<Pipeline>(
      &shared, ioc, topic, group, static_cast<uint32_t>(by_index.size()), m, writers);
  pipelines[{topic, group}] = p;
  by_index.push_back(p);
  net::post(p->strand(), [p, a = control_assignment] { p->SetAssignment(a); });
  net::co_spawn(p->strand(), Pipeline::ScanLoop(p), net::detached);
  if (draining.load()) {
    net::post(p->strand(), [p] { p->StartDrain(); });
  }
  for (const internal::WriterRef& w : writers) {
    SpawnReplay(p, w.slot);
  }
  SPDLOG_LOGGER_INFO(log, "created pipeline topic={} group={}", topic, group);
  return p;
}

void Reader::Impl::SpawnReplay(const std::shared_ptr<Pipeline>& p, std::size_t slot) {
  // Runs on `control`. The pipeline heard of this activation before (AddWriter posted
  // to its strand, or its constructor), so the thread's first plan sees it.
  const internal::WriterRef ref{slot, writer_slots[slot].epoch};
  std::shared_ptr<LogSource> source = writer_slots[slot].source;
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::lock_guard lock(threads_mu);
  if (threads_closed) {
    return;  // Stop() has collected the threads already
  }
  replay_threads.push_back({std::thread([this, p, ref, source, done] {
                              NameThisThread("reader-replay");
                              ReplayLoop(p, ref, source);
                              done->store(true);
                            }),
                            done});
}

void Reader::Impl::JoinEndedReplayThreads() {
  std::vector<ReplayThread> ended;
  {
    std::lock_guard lock(threads_mu);
    auto mid = std::partition(replay_threads.begin(),
                              replay_threads.end(),
                              [](const ReplayThread& t) { return !t.done->load(); });
    std::move(mid, replay_threads.end(), std::back_inserter(ended));
    replay_threads.erase(mid, replay_threads.end());
  }
  for (ReplayThread& t : ended) {
    t.thread.join();  // it has returned from ReplayLoop: this waits only for its exit
  }
}

void Reader::Impl::ReplayLoop(std::shared_ptr<Pipeline> p,
                              internal::WriterRef ref,
                              const std::shared_ptr<LogSource>& source_ptr) {
  LogSource& source = *source_ptr;
  const std::size_t writer = ref.slot;
  const uint64_t epoch = ref.epoch;
  const auto backoff = shared.options.retry_backoff;
  std::string last_error;
  auto fail = [&](const Status& s, const char* what) {
    fetch_errors->Inc();
    std::string text = s.ToString();
    if (text != last_error) {  // rate limit: log each distinct error once in a row
      SPDLOG_LOGGER_WARN(log,
                         "{} topic={} group={} writer={}: {}",
                         what,
                         p->topic(),
                         p->group(),
                         source.id(),
                         text);
      last_error = text;
    }
    return stop.SleepFor(backoff);
  };
  while (!stop.stopped()) {
    FetchPlan plan =
        RunOn(p->strand(), [p, writer, epoch] { return p->PlanFetch(writer, epoch); });
    if (plan.stop) {
      return;
    }
    if (plan.need_partition_count) {
      auto count = source.PartitionCount(p->topic());
      if (!count.ok()) {
        if (!fail(count.status(), "partition count")) {
          return;
        }
        continue;
      }
      RunOn(p->strand(),
            [p, writer, epoch, c = *count] { p->SetPartitionCount(writer, epoch, c); });
      continue;
    }
    if (!plan.need_init.empty()) {
      auto committed = source.Committed(p->topic(), p->group());
      if (!committed.ok()) {
        if (!fail(committed.status(), "committed offsets")) {
          return;
        }
        continue;
      }
      RunOn(p->strand(), [p, writer, c = std::move(*committed), n = plan.need_init] {
        p->OnInit(writer, c, n);
      });
      continue;
    }
    if (plan.request.partitions.empty()) {
      // Nothing owned, window full or draining: look again shortly.
      if (!stop.SleepFor(
              std::min(shared.options.fetch_wait + std::chrono::milliseconds(1),
                       std::chrono::milliseconds(50)))) {
        return;
      }
      continue;
    }
    auto fetched = source.Fetch(plan.request);
    if (!fetched.ok()) {
      if (!fail(fetched.status(), "fetch")) {
        return;
      }
      continue;
    }
    last_error.clear();
    std::vector<IncomingPartition> batch;
    for (FetchedPartition& fp : fetched->partitions) {
      auto req = std::find_if(
          plan.request.partitions.begin(),
          plan.request.partitions.end(),
          [&](const FetchPartition& r) { return r.partition == fp.partition; });
      if (req == plan.request.partitions.end()) {
        continue;
      }
      IncomingPartition in;
      in.partition = fp.partition;
      in.from = req->from;
      in.generation = plan.generations[req - plan.request.partitions.begin()];
      in.next_from = std::max(in.from, fp.first);
      for (FetchedRecord& r : fp.records) {
        IncomingRecord rec;
        rec.offset = r.offset;
        rec.msg_uuid = r.msg_uuid;
        rec.key = std::move(r.key);
        rec.publish_time_us = r.publish_time_us;
        rec.payload_is_json = json_scan::IsValid(r.payload);
        rec.payload = std::make_shared<const std::string>(std::move(r.payload));
        in.next_from = std::max(in.next_from, r.offset + 1);
        in.records.push_back(std::move(rec));
      }
      if (!fp.error.empty() && fp.error_offset >= in.next_from) {
        // An unreadable record: dead-letter its offset and skip it.
        DeadLetter letter;
        letter.topic = p->topic();
        letter.partition = fp.partition;
        letter.offset = fp.error_offset;
        letter.group = p->group();
        letter.reason = "unreadable record: " + fp.error;
        Status s = source.AppendDeadLetter(letter);
        if (s.ok()) {
          in.next_from = fp.error_offset + 1;
        } else {
          commit_errors->Inc();
          SPDLOG_LOGGER_WARN(log,
                             "dead-letter of unreadable {}/{}@{} failed: {}",
                             p->topic(),
                             fp.partition,
                             fp.error_offset,
                             s.ToString());
        }
      }
      batch.push_back(std::move(in));
    }
    net::post(p->strand(), [p, writer, b = std::move(batch)]() mutable {
      p->OnFetched(writer, std::move(b));
    });
  }
}

void Reader::Impl::CommitPass() {
  std::lock_guard lock(commit_mu);
  auto [all_pipelines, sources] = PipelinesAndSources();
  for (const auto& p : all_pipelines) {
    auto letters = RunOn(p->strand(), [p] { return p->TakeDeadLetters(); });
    if (!letters.empty()) {
      std::vector<bool> ok;
      for (const auto& w : letters) {
        // A slot the pipeline knows of is in `sources` (the pipeline heard of it from
        // `control` after the slot was made); the check only guards the invariant.
        Status s = w.writer < sources.size() && sources[w.writer] != nullptr
                       ? sources[w.writer]->AppendDeadLetter(w.letter)
                       : Status::Unavailable("writer not known yet or left");
        if (!s.ok()) {
          commit_errors->Inc();
          SPDLOG_LOGGER_WARN(log,
                             "dead-letter {}/{}@{} group={} failed: {}",
                             p->topic(),
                             w.partition,
                             w.offset,
                             p->group(),
                             s.ToString());
        }
        ok.push_back(s.ok());
      }
      RunOn(p->strand(), [p, &letters, &ok] { p->OnDeadLettered(letters, ok); });
    }
    auto commits_by_writer = RunOn(p->strand(), [p] { return p->CollectCommits(); });
    for (const auto& [writer, offsets] : commits_by_writer) {
      if (writer >= sources.size() || sources[writer] == nullptr) {
        continue;  // not known yet (the next pass commits it) or left meanwhile
      }
      auto result = sources[writer]->Commit(p->topic(), p->group(), offsets);
      if (!result.ok()) {
        commit_errors->Inc();
        SPDLOG_LOGGER_WARN(log,
                           "commit topic={} group={} writer={} failed: {}",
                           p->topic(),
                           p->group(),
                           sources[writer]->id(),
                           result.status().ToString());
        continue;
      }
      commits->Inc();
      RunOn(p->strand(), [p, w = writer, &result] { p->OnCommitted(w, *result); });
    }
  }
}

void Reader::Impl::CommitLoop() {
  while (stop.SleepFor(shared.options.commit_interval)) {
    CommitPass();
  }
}

void Reader::Impl::Refresh() {
  std::lock_guard lock(membership_mu);
  auto current = membership->Current();
  if (!current.ok()) {
    std::string text = current.status().ToString();
    if (text != last_membership_error) {
      SPDLOG_LOGGER_WARN(log, "membership ({}): {}", membership->Describe(), text);
      last_membership_error = text;
    }
    return;
  }
  last_membership_error.clear();
  if (last_assignment == *current) {
    return;
  }
  last_assignment = *current;
  SPDLOG_LOGGER_INFO(log,
                     "assignment ordinal={} replicas={} ({})",
                     current->ordinal,
                     current->replicas,
                     membership->Describe());
  Assignment a = *current;
  net::post(control, [this, a] {
    control_assignment = a;
    for (const auto& p : by_index) {
      net::post(p->strand(), [p, a] { p->SetAssignment(a); });
    }
    // Published only now: whoever sees the new assignment and then leases reaches a
    // pipeline that is created with it, or whose strand applies it first.
    assignment_packed.store((uint64_t{a.ordinal} << 32) | a.replicas);
  });
}

void Reader::Impl::MembershipLoop() {
  while (stop.SleepFor(shared.options.membership_interval)) {
    Refresh();
  }
}

void Reader::Impl::ActivateWriter(const std::string& id,
                                  std::shared_ptr<LogSource> source) {
  // Runs on `control`.
  std::size_t slot = 0;
  while (slot < writer_slots.size() && writer_slots[slot].id != id) {
    ++slot;
  }
  if (slot == writer_slots.size()) {
    writer_slots.push_back({id, nullptr, false, 0});
  }
  WriterSlot& w = writer_slots[slot];
  if (w.active) {
    return;
  }
  w.source = std::move(source);
  w.active = true;
  ++w.epoch;
  const internal::WriterRef ref{slot, w.epoch};
  for (const auto& p : by_index) {
    net::post(p->strand(), [p, ref] { p->AddWriter(ref); });
    SpawnReplay(p, slot);
  }
  const std::size_t n = active_writers.fetch_add(1) + 1;
  writers_gauge->Set(static_cast<double>(n));
}

void Reader::Impl::DeactivateWriter(const std::string& id) {
  // Runs on `control`.
  for (std::size_t slot = 0; slot < writer_slots.size(); ++slot) {
    WriterSlot& w = writer_slots[slot];
    if (w.id != id || !w.active) {
      continue;
    }
    w.active = false;
    w.source = nullptr;  // replay threads still running hold their own reference
    for (const auto& p : by_index) {
      net::post(p->strand(), [p, slot] { p->RemoveWriter(slot); });
    }
    const std::size_t n = active_writers.fetch_sub(1) - 1;
    writers_gauge->Set(static_cast<double>(n));
  }
}

void Reader::Impl::RefreshWriters() {
  if (!discovery) {
    return;
  }
  std::lock_guard lock(discovery_mu);
  auto resolved = discovery->resolve();
  if (resolved.ok() && resolved->empty()) {
    resolved = Status::Unavailable("resolved no writers");
  }
  if (!resolved.ok()) {
    resolve_errors->Inc();
    std::string text = resolved.status().ToString();
    if (text != last_resolve_error) {
      SPDLOG_LOGGER_WARN(log,
                         "writers ({}): {}; keeping the last good set of {}",
                         discovery->description,
                         text,
                         active_writers.load());
      last_resolve_error = text;
    }
    return;
  }
  last_resolve_error.clear();
  const std::set<std::string> now(resolved->begin(), resolved->end());
  const auto t = std::chrono::steady_clock::now();
  for (const std::string& id : now) {
    KnownWriter& k = known_writers[id];
    if (k.missing_since) {
      SPDLOG_LOGGER_INFO(log, "writer {} is back ({})", id, discovery->description);
      k.missing_since.reset();
    }
    if (k.active) {
      continue;
    }
    if (k.source == nullptr) {
      auto opened = discovery->open(id);
      if (!opened.ok() || *opened == nullptr) {
        SPDLOG_LOGGER_WARN(log,
                           "writer {}: {}",
                           id,
                           opened.ok() ? "no log source" : opened.status().ToString());
        continue;  // tried again at the next refresh
      }
      k.source = std::move(opened).value();
    }
    RunOn(control, [this, &id, &k] { ActivateWriter(id, k.source); });
    k.active = true;
    SPDLOG_LOGGER_INFO(log, "writer {} added ({})", id, discovery->description);
  }
  for (auto& entry : known_writers) {
    const std::string& id = entry.first;  // no structured binding: lambdas capture it
    KnownWriter& k = entry.second;
    if (!k.active || now.count(id) != 0) {
      continue;
    }
    if (!k.missing_since) {
      k.missing_since = t;
      if (shared.options.removed_writer_grace.count() > 0) {
        SPDLOG_LOGGER_INFO(log,
                           "writer {} left ({}); replaying it for {} ms more",
                           id,
                           discovery->description,
                           shared.options.removed_writer_grace.count());
      }
    }
    if (t - *k.missing_since < shared.options.removed_writer_grace) {
      continue;
    }
    RunOn(control, [this, &id] { DeactivateWriter(id); });
    SPDLOG_LOGGER_INFO(log, "writer {} removed ({})", id, discovery->description);
    k.active = false;  // erased below: an address that returns is opened afresh
  }
  std::erase_if(known_writers, [](const auto& entry) { return !entry.second.active; });
}

void Reader::Impl::DiscoveryLoop() {
  while (stop.SleepFor(shared.options.writers_refresh)) {
    RefreshWriters();
    JoinEndedReplayThreads();
  }
}

net::awaitable<std::shared_ptr<Pipeline>> Reader::Impl::PipelineForLease(
    const std::string& lease_id) {
  auto index = internal::PipelineIndexOf(lease_id);
  if (!index) {
    co_return nullptr;
  }
  auto pipeline =
      co_await net::co_spawn(control, ByIndexOnControl(*index), net::use_awaitable);
  co_return pipeline;
}

Reader::Reader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Reader::~Reader() {
  Stop();
}

Result<std::unique_ptr<Reader>> Reader::Create(
    ReaderOptions options,
    std::vector<std::shared_ptr<LogSource>> writers,
    std::unique_ptr<Membership> membership,
    metrics::Registry* registry) {
  TP_RETURN_IF_ERROR(options.Validate());
  if (writers.empty()) {
    return Status::InvalidArgument("reader: at least one writer");
  }
  std::set<std::string> ids;
  for (const auto& w : writers) {
    if (w == nullptr) {
      return Status::InvalidArgument("reader: null writer");
    }
    if (!ids.insert(w->id()).second) {
      return Status::InvalidArgument("reader: duplicate writer id " + w->id());
    }
  }
  if (membership == nullptr) {
    return Status::InvalidArgument("reader: no membership source");
  }
  auto impl = std::make_unique<Impl>();
  impl->shared.options = std::move(options);
  impl->membership = std::move(membership);
  impl->registry = registry;
  impl->RegisterMetrics();
  // Not started yet: no other thread sees the writer table.
  for (auto& w : writers) {
    impl->writer_slots.push_back({w->id(), std::move(w), true, 1});
  }
  impl->active_writers.store(impl->writer_slots.size());
  impl->writers_gauge->Set(static_cast<double>(impl->writer_slots.size()));
  return std::unique_ptr<Reader>(new Reader(std::move(impl)));
}

Result<std::unique_ptr<Reader>> Reader::Create(ReaderOptions options,
                                               WriterDiscovery discovery,
                                               std::unique_ptr<Membership> membership,
                                               metrics::Registry* registry) {
  TP_RETURN_IF_ERROR(options.Validate());
  if (!discovery.resolve || !discovery.open) {
    return Status::InvalidArgument("reader: writer discovery needs resolve and open");
  }
  if (membership == nullptr) {
    return Status::InvalidArgument("reader: no membership source");
  }
  auto impl = std::make_unique<Impl>();
  impl->shared.options = std::move(options);
  impl->discovery = std::move(discovery);
  impl->membership = std::move(membership);
  impl->registry = registry;
  impl->RegisterMetrics();
  return std::unique_ptr<Reader>(new Reader(std::move(impl)));
}

Status Reader::Start() {
  Impl& s = *impl_;
  if (s.started.exchange(true) || s.stopped.load()) {
    return Status::FailedPrecondition("reader already started or stopped");
  }
  s.work.emplace(s.ioc.get_executor());
  for (int i = 0; i < s.shared.options.io_threads; ++i) {
    s.io_threads.emplace_back([&s] {
      NameThisThread("reader-io");
      s.ioc.run();
    });
  }
  s.Refresh();
  s.membership_thread = std::thread([&s] {
    NameThisThread("reader-members");
    s.MembershipLoop();
  });
  if (s.discovery) {
    s.RefreshWriters();
    s.discovery_thread = std::thread([&s] {
      NameThisThread("reader-dns");
      s.DiscoveryLoop();
    });
  }
  s.commit_thread = std::thread([&s] {
    NameThisThread("reader-commit");
    s.CommitLoop();
  });
  return Status::Ok();
}

void Reader::RefreshMembership() {
  impl_->Refresh();
}

void Reader::RefreshWriters() {
  Impl& s = *impl_;
  if (!s.started.load() || s.stopped.load()) {
    return;  // the control strand may not run
  }
  s.RefreshWriters();
}

Status Reader::Drain() {
  Impl& s = *impl_;
  if (!s.started.load() || s.stopped.load()) {
    return Status::FailedPrecondition("reader not running");
  }
  s.draining.store(true);
  const auto deadline = std::chrono::steady_clock::now() + s.shared.options.drain_timeout;
  std::size_t outstanding = 0;
  for (;;) {
    outstanding = 0;
    for (const auto& p : s.AllPipelines()) {
      outstanding += RunOn(p->strand(), [p] {
        p->StartDrain();
        p->Scan();  // expire what is due now
        return p->OutstandingLeases();
      });
    }
    if (outstanding == 0 || std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    std::this_thread::sleep_for(
        std::min(s.shared.options.expiry_scan_interval, std::chrono::milliseconds(50)));
  }
  s.CommitPass();
  if (outstanding != 0) {
    return Status::Timeout("drain: " + std::to_string(outstanding) +
                           " leases still outstanding; their messages stay uncommitted");
  }
  return Status::Ok();
}

void Reader::Stop() {
  Impl& s = *impl_;
  if (s.stopped.exchange(true)) {
    return;
  }
  if (!s.started.load()) {
    return;
  }
  s.stop.Stop();
  if (s.membership_thread.joinable()) {
    s.membership_thread.join();
  }
  if (s.commit_thread.joinable()) {
    s.commit_thread.join();
  }
  if (s.discovery_thread.joinable()) {
    s.discovery_thread.join();
  }
  std::vector<Impl::ReplayThread> replay;
  {
    std::lock_guard lock(s.threads_mu);
    replay.swap(s.replay_threads);
    s.threads_closed = true;
  }
  for (auto& t : replay) {
    t.thread.join();
  }
  s.CommitPass();  // last commit of the done prefix
  for (const auto& p : s.AllPipelines()) {
    RunOn(p->strand(), [p] { p->Shutdown(); });
  }
  s.work.reset();
  for (auto& t : s.io_threads) {
    t.join();
  }
}

Status Reader::Readiness() const {
  const Impl& s = *impl_;
  if (!s.started.load() || s.stopped.load()) {
    return Status::Unavailable("reader not running");
  }
  if (s.draining.load()) {
    return Status::Unavailable("reader is draining");
  }
  if (s.assignment_packed.load() == 0) {
    return Status::Unavailable("no partition assignment yet");
  }
  if (s.active_writers.load() == 0) {
    return Status::Unavailable("no writers resolved yet");
  }
  return Status::Ok();
}

std::optional<Assignment> Reader::CurrentAssignment() const {
  uint64_t packed = impl_->assignment_packed.load();
  if (packed == 0) {
    return std::nullopt;
  }
  return Assignment{static_cast<uint32_t>(packed >> 32), static_cast<uint32_t>(packed)};
}

net::awaitable<http::Response> Reader::HandleLease(http::Request request) {
  Impl& s = *impl_;
  const ReaderOptions& o = s.shared.options;
  nlohmann::json doc;
  if (auto bad = ParseBody(request, doc)) {
    co_return *bad;
  }
  std::string topic = o.topics.front();
  std::string group = o.default_group;
  LeaseParams params;
  if (auto bad = GetString(doc, "topic", false, topic)) {
    co_return *bad;
  }
  if (auto bad = GetString(doc, "group", false, group)) {
    co_return *bad;
  }
  if (!ValidGroupName(group)) {
    co_return BadField("group",
                       "group may only contain letters, digits, '-', '_' and '.'");
  }
  if (auto bad = GetString(doc, "consumer_id", true, params.consumer_id)) {
    co_return *bad;
  }
  uint64_t max = o.default_lease_batch;
  uint64_t lease_seconds = static_cast<uint64_t>(o.default_lease.count());
  uint64_t wait_ms = 0;
  if (auto bad = GetUint(doc, "max", 1, o.max_lease_batch, max)) {
    co_return *bad;
  }
  if (auto bad = GetUint(doc,
                         "lease_seconds",
                         static_cast<uint64_t>(o.min_lease.count()),
                         static_cast<uint64_t>(o.max_lease.count()),
                         lease_seconds)) {
    co_return *bad;
  }
  if (auto bad = GetUint(
          doc, "wait_ms", 0, static_cast<uint64_t>(o.max_wait.count()), wait_ms)) {
    co_return *bad;
  }
  if (std::find(o.topics.begin(), o.topics.end(), topic) == o.topics.end()) {
    co_return http::Problem(404, "Not Found", "unknown topic " + topic, "topic");
  }
  if (s.draining.load() || s.stopped.load() || !s.started.load()) {
    http::Response r = http::Problem(
        503, "Service Unavailable", "the reader is draining or not running; retry later");
    r.headers.emplace("Retry-After", "1");
    co_return r;
  }
  params.max = static_cast<uint32_t>(max);
  params.lease = std::chrono::seconds(lease_seconds);
  params.wait = std::chrono::milliseconds(wait_ms);

  Reader::Impl::Created created = co_await net::co_spawn(
      s.control, s.GetOrCreateOnControl(topic, group), net::use_awaitable);
  std::shared_ptr<Pipeline> pipeline = std::move(created.pipeline);
  if (pipeline == nullptr) {
    if (created.status == 429) {
      co_return http::Problem(
          429,
          "Too Many Requests",
          "too many consumer groups (max " + std::to_string(o.max_groups) + ")",
          "group");
    }
    co_return http::Problem(503, "Service Unavailable", "the reader is stopping");
  }
  LeaseOutcome out = co_await net::co_spawn(pipeline->strand(),
                                            Pipeline::Lease(pipeline, std::move(params)),
                                            net::use_awaitable);
  if (out.status == 503) {
    http::Response r = http::Problem(503, "Service Unavailable", out.detail);
    r.headers.emplace("Retry-After", "1");
    co_return r;
  }
  if (out.status == 429) {
    http::Response r = http::Problem(429, "Too Many Requests", out.detail);
    r.headers.emplace("Retry-After", "1");
    co_return r;
  }
  co_return JsonText(200, LeaseBody(out));
}

namespace {
enum class SettleKind { kAck, kNack, kExtend };

// Runs on the pipeline's strand (see Impl::GetOrCreateOnControl on why no lambda).
net::awaitable<SettleOutcome> SettleOnStrand(std::shared_ptr<Pipeline> pipeline,
                                             SettleParams params,
                                             SettleKind kind) {
  switch (kind) {
    case SettleKind::kAck:
      co_return pipeline->Ack(params);
    case SettleKind::kNack:
      co_return pipeline->Nack(params);
    case SettleKind::kExtend:
      break;
  }
  co_return pipeline->Extend(params);
}
}  // namespace

static net::awaitable<http::Response> Settle(Reader::Impl& s,
                                             http::Request request,
                                             SettleKind kind) {
  const ReaderOptions& o = s.shared.options;
  nlohmann::json doc;
  if (auto bad = ParseBody(request, doc)) {
    co_return *bad;
  }
  SettleParams params;
  if (kind == SettleKind::kExtend) {
    if (auto bad = GetString(doc, "lease_id", true, params.lease_id)) {
      co_return *bad;
    }
    if (doc.find("lease_seconds") == doc.end()) {
      co_return BadField("lease_seconds", "missing required field lease_seconds");
    }
    uint64_t secs = 0;
    if (auto bad = GetUint(doc,
                           "lease_seconds",
                           static_cast<uint64_t>(o.min_lease.count()),
                           static_cast<uint64_t>(o.max_lease.count()),
                           secs)) {
      co_return *bad;
    }
    params.lease = std::chrono::seconds(secs);
  } else {
    if (auto bad = ParseSettle(doc, params)) {
      co_return *bad;
    }
    if (kind == SettleKind::kNack) {
      uint64_t delay = 0;
      if (auto bad = GetUint(doc,
                             "delay_ms",
                             0,
                             static_cast<uint64_t>(o.max_nack_delay.count()),
                             delay)) {
        co_return *bad;
      }
      params.delay = std::chrono::milliseconds(delay);
    }
  }
  auto pipeline = co_await s.PipelineForLease(params.lease_id);
  if (pipeline == nullptr) {
    co_return http::Problem(
        404, "Not Found", "unknown lease " + params.lease_id, "lease_id");
  }
  SettleOutcome out = co_await net::co_spawn(
      pipeline->strand(), SettleOnStrand(pipeline, params, kind), net::use_awaitable);
  if (out.status != 200) {
    co_return SettleProblem(out);
  }
  switch (kind) {
    case SettleKind::kAck:
      co_return http::Json(200, {{"acked", out.count}});
    case SettleKind::kNack:
      co_return http::Json(200, {{"nacked", out.count}});
    case SettleKind::kExtend:
      break;
  }
  co_return http::Json(200,
                       {{"lease_id", params.lease_id},
                        {"expires_at", internal::FormatRfc3339(out.expires_at)}});
}

net::awaitable<http::Response> Reader::HandleAck(http::Request request) {
  return Settle(*impl_, std::move(request), SettleKind::kAck);
}
net::awaitable<http::Response> Reader::HandleNack(http::Request request) {
  return Settle(*impl_, std::move(request), SettleKind::kNack);
}
net::awaitable<http::Response> Reader::HandleExtend(http::Request request) {
  return Settle(*impl_, std::move(request), SettleKind::kExtend);
}

Status InstallReaderRoutes(http::Router& router, std::shared_ptr<Reader> reader) {
  if (reader == nullptr) {
    return Status::InvalidArgument("InstallReaderRoutes: null reader");
  }
  TP_RETURN_IF_ERROR(router.Add("POST", "/v1/lease", [reader](http::Request r) {
    return reader->HandleLease(std::move(r));
  }));
  TP_RETURN_IF_ERROR(router.Add("POST", "/v1/ack", [reader](http::Request r) {
    return reader->HandleAck(std::move(r));
  }));
  TP_RETURN_IF_ERROR(router.Add("POST", "/v1/nack", [reader](http::Request r) {
    return reader->HandleNack(std::move(r));
  }));
  return router.Add("POST", "/v1/extend", [reader](http::Request r) {
    return reader->HandleExtend(std::move(r));
  });
}

}  // namespace tp::broker
