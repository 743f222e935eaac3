// Helpers for tests that run real `broker writer` and `broker reader` processes on
// loopback: command lines, readiness, and the HTTP calls of publishers and consumers
// (plain JSON over tp::http::Client, so each answer is seen exactly as it came).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tp/http/client.h"
#include "tp/status.h"
#include "tp/testing/testing.h"
#include "tp/uuid.h"

namespace tp::broker::testing {

using std::chrono::milliseconds;

// The last `lines` lines of `text` (a child's log, for failure messages).
inline std::string Tail(const std::string& text, size_t lines = 40) {
  size_t at = text.size();
  for (size_t n = 0; n <= lines && at != std::string::npos && at > 0; ++n) {
    at = text.rfind('\n', at - 1);
  }
  return at == std::string::npos ? text : text.substr(at + 1);
}

// Calls `done` every 50 ms until it returns true or `timeout` passes.
inline bool PollUntil(milliseconds timeout, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return true;
}

inline std::string LoopbackUrl(int port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

// `broker writer` with an fsync before every answer.
inline std::vector<std::string> WriterArgv(int port,
                                           const std::string& data_dir,
                                           uint32_t partitions) {
  return {(tp::testing::BinDir() / "broker").string(),
          "--log-format",
          "text",
          "writer",
          "--listen",
          "127.0.0.1:" + std::to_string(port),
          "--data-dir",
          data_dir,
          "--partitions",
          std::to_string(partitions),
          "--sync",
          "always"};
}

// `broker reader` of one writer; `membership` is e.g. {"--ordinal","0","--replicas","1"}.
inline std::vector<std::string> ReaderArgv(int port,
                                           const std::string& writer_url,
                                           const std::vector<std::string>& membership) {
  std::vector<std::string> argv = {(tp::testing::BinDir() / "broker").string(),
                                   "--log-format",
                                   "text",
                                   "reader",
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(port),
                                   "--writers",
                                   writer_url};
  argv.insert(argv.end(), membership.begin(), membership.end());
  return argv;
}

// Polls `path` ("/readyz", "/healthz") until it answers 200 or `timeout` passes.
inline bool WaitFor200(const std::string& url,
                       const std::string& path,
                       milliseconds timeout) {
  auto client = http::Client::Create(url);
  if (!client.ok()) {
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = (*client)->Request("GET", path, {}, {}, {}, milliseconds(500));
    if (r.ok() && r->status == 200) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  return false;
}

// Publishes `count` messages with fresh msg_uuids (keys spread over partitions). Returns
// their msg_uuids when the writer answered 200 (they are durable), else the error.
inline Result<std::vector<std::string>> PublishBatch(http::Client& writer,
                                                     int count,
                                                     const std::string& tag) {
  std::vector<std::string> ids;
  nlohmann::json msgs = nlohmann::json::array();
  for (int i = 0; i < count; ++i) {
    ids.push_back(Uuid::NewV7().ToString());
    msgs.push_back({{"key", "GPU-" + ids.back()},
                    {"msg_uuid", ids.back()},
                    {"payload", {{"tag", tag}, {"i", i}}}});
  }
  auto r =
      writer.Request("POST",
                     "/v1/publish",
                     nlohmann::json({{"topic", "telemetry"}, {"messages", msgs}}).dump(),
                     "application/json",
                     {},
                     milliseconds(5000));
  if (!r.ok()) {
    return r.status();
  }
  if (r->status != 200) {
    return Status::Unavailable("publish: HTTP " + std::to_string(r->status));
  }
  return ids;
}

struct Delivery {
  std::string msg_uuid;
  uint32_t partition = 0;
  uint64_t offset = 0;
  int attempt = 0;
};

struct Leased {
  std::string lease_id;  // empty: nothing was ready
  std::vector<Delivery> messages;
};

// POST /v1/lease; a non-200 answer is Unavailable (503 while draining, 429).
inline Result<Leased> LeaseMessages(http::Client& reader,
                                    const std::string& consumer,
                                    int max,
                                    int lease_seconds,
                                    int wait_ms) {
  const nlohmann::json req = {{"topic", "telemetry"},
                              {"consumer_id", consumer},
                              {"max", max},
                              {"lease_seconds", lease_seconds},
                              {"wait_ms", wait_ms}};
  auto r = reader.Request("POST",
                          "/v1/lease",
                          req.dump(),
                          "application/json",
                          {},
                          milliseconds(wait_ms + 5000));
  if (!r.ok()) {
    return r.status();
  }
  if (r->status != 200) {
    return Status::Unavailable("lease: HTTP " + std::to_string(r->status) + " " +
                               r->body);
  }
  auto doc = nlohmann::json::parse(r->body, nullptr, false);
  if (!doc.is_object() || !doc["messages"].is_array()) {
    return Status::Internal("lease: malformed answer " + r->body);
  }
  Leased out;
  out.lease_id = doc.value("lease_id", "");
  for (const auto& m : doc["messages"]) {
    out.messages.push_back({m["msg_uuid"].get<std::string>(),
                            m["partition"].get<uint32_t>(),
                            m["offset"].get<uint64_t>(),
                            m["attempt"].get<int>()});
  }
  return out;
}

// POST /v1/ack of the whole lease or of `msg_uuids`; the acked count on 200, Conflict on
// 409 (expired), NotFound on 404, Unavailable otherwise.
inline Result<int64_t> AckMessages(
    http::Client& reader,
    const std::string& lease_id,
    const std::optional<std::vector<std::string>>& msg_uuids = std::nullopt) {
  nlohmann::json req = {{"lease_id", lease_id}};
  if (msg_uuids) {
    req["msg_uuids"] = *msg_uuids;
  }
  auto r = reader.Request(
      "POST", "/v1/ack", req.dump(), "application/json", {}, milliseconds(5000));
  if (!r.ok()) {
    return r.status();
  }
  switch (r->status) {
    case 200:
      return nlohmann::json::parse(r->body).at("acked").get<int64_t>();
    case 409:
      return Status::Conflict("ack: lease expired");
    case 404:
      return Status::NotFound("ack: unknown lease");
    default:
      return Status::Unavailable("ack: HTTP " + std::to_string(r->status));
  }
}

struct PartitionOffsets {
  uint64_t first = 0;
  uint64_t next = 0;
  std::optional<uint64_t> committed;  // of the group asked for
};

// GET /v1/partitions of the writer: offsets of every telemetry partition.
inline Result<std::map<uint32_t, PartitionOffsets>> TelemetryOffsets(
    http::Client& writer, const std::string& group = "collectors") {
  auto r = writer.Request("GET", "/v1/partitions", {}, {}, {}, milliseconds(5000));
  if (!r.ok()) {
    return r.status();
  }
  if (r->status != 200) {
    return Status::Unavailable("partitions: HTTP " + std::to_string(r->status));
  }
  auto doc = nlohmann::json::parse(r->body, nullptr, false);
  if (!doc.is_object() || !doc["partitions"].is_array()) {
    return Status::Internal("partitions: malformed answer");
  }
  std::map<uint32_t, PartitionOffsets> out;
  for (const auto& p : doc["partitions"]) {
    if (p.value("topic", "") != "telemetry") {
      continue;
    }
    PartitionOffsets o;
    o.first = p["first"].get<uint64_t>();
    o.next = p["next"].get<uint64_t>();
    if (p["groups"].contains(group)) {
      o.committed = p["groups"][group]["committed"].get<uint64_t>();
    }
    out[p["partition"].get<uint32_t>()] = o;
  }
  return out;
}

// True once every telemetry partition with records is committed to its end by `group`
// (polled until `timeout`).
inline bool WaitFullyCommitted(http::Client& writer, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto offsets = TelemetryOffsets(writer);
    if (offsets.ok()) {
      bool all = true;
      for (const auto& [p, o] : *offsets) {
        if (o.next > o.first && o.committed.value_or(0) < o.next) {
          all = false;
        }
      }
      if (all) {
        return true;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
}

}  // namespace tp::broker::testing
