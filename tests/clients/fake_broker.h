// A small in-process stand-in for a broker writer + reader, on 127.0.0.1 port 0, for
// client and collector tests (the real broker is tested in tests/broker). It speaks the
// DESIGN.md wire contracts, records every request, and can be scripted to answer the
// next requests with errors (500, 429 + Retry-After, 400, ...).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tp/http/server.h"

namespace tp::clients::testing {

struct ScriptedAnswer {
  int status = 500;
  std::string body = R"({"title":"scripted failure"})";
  std::optional<std::string> retry_after;
};

struct RecordedRequest {
  std::string path;
  // The body as JSON; a flatbuffers publish (application/x-flatbuffers) is decoded into
  // the JSON form's shape, its payloads parsed.
  nlohmann::json body;
  std::string content_type;
  std::chrono::steady_clock::time_point at;
};

class FakeBroker {
 public:
  // Starts on 127.0.0.1:`port` (0: any free port); null after a gtest failure.
  static std::unique_ptr<FakeBroker> Start(std::uint16_t port = 0);
  ~FakeBroker();

  std::string url() const;
  std::uint16_t port() const;
  void Stop();

  // The next requests to `path` get these answers, in order, before normal handling.
  void Script(const std::string& path, std::vector<ScriptedAnswer> answers);

  std::vector<RecordedRequest> Requests(const std::string& path) const;
  // Every message accepted by /v1/publish, in arrival order (duplicates excluded).
  std::vector<nlohmann::json> Published() const;

  // Queues a message for /v1/lease (the payload is an arbitrary JSON value).
  void AddMessage(const std::string& msg_uuid, nlohmann::json payload);
  // Makes every existing lease count as expired (acks get 409).
  void ExpireLeases();
  // Messages acked / nacked so far.
  std::set<std::string> Acked() const;
  std::vector<std::string> Nacked() const;
  // Messages waiting to be leased.
  std::size_t Ready() const;

 private:
  FakeBroker() = default;
  http::Response Handle(const std::string& path, const http::Request& request);

  struct Message {
    std::string msg_uuid;
    nlohmann::json payload;
    int attempt = 0;
    std::int64_t offset = 0;
  };
  struct LeaseState {
    std::vector<Message> messages;
    bool expired = false;
  };

  std::unique_ptr<http::Server> server_;
  mutable std::mutex mu_;
  std::map<std::string, std::deque<ScriptedAnswer>> script_;
  std::vector<std::pair<std::string, RecordedRequest>> requests_;
  std::vector<nlohmann::json> published_;
  std::set<std::string> published_ids_;
  std::deque<Message> ready_;
  std::map<std::string, LeaseState> leases_;
  std::set<std::string> acked_;
  std::vector<std::string> nacked_;
  std::int64_t next_offset_ = 0;
  int next_lease_ = 1;
};

}  // namespace tp::clients::testing
