// HTTP routes of the broker writer. Handlers parse and validate, then await the
// LogService; errors become application/problem+json naming the field.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "broker/writer.h"
#include "tp/http/message.h"
#include "tp/json_scan.h"
#include "wire.h"

namespace tp::broker {
namespace asio = boost::asio;
using http::Problem;
using http::Request;
using http::Response;
using nlohmann::json;

namespace {

Response ProblemFor(const Status& s,
                    std::chrono::seconds retry_after = std::chrono::seconds(1)) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return Problem(400, "Bad Request", s.message());
    case StatusCode::kNotFound:
      return Problem(404, "Not Found", s.message());
    case StatusCode::kFull: {
      Response r = Problem(429, "Too Many Requests", s.message());
      r.headers.emplace("Retry-After", std::to_string(retry_after.count()));
      return r;
    }
    case StatusCode::kUnavailable: {
      Response r = Problem(503, "Service Unavailable", s.message());
      r.headers.emplace("Retry-After", std::to_string(retry_after.count()));
      // A draining writer closes the connection, so a client behind a load-balanced
      // Service reconnects (to a ready writer) instead of retrying on this one.
      r.close = true;
      return r;
    }
    default:
      return Problem(500, "Internal Server Error", s.ToString());
  }
}

bool IsFlatbuffers(const Request& req) {
  auto ct = req.Header("Content-Type");
  return ct && ct->starts_with(wire::kContentType);
}

// Parses the JSON publish body; on error fills `problem` naming the field. Keys and
// payloads are written out one after another into the batch's bytes, which the messages
// then view.
bool ParsePublishJson(const std::string& body,
                      uint32_t max_messages,
                      PublishBatch* batch,
                      Response* problem) {
  auto bad = [&](std::string_view field, std::string detail) {
    *problem = Problem(400, "Bad Request", detail, field);
    return false;
  };
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded())
    return bad("", "request body is not valid JSON");
  if (!doc.is_object())
    return bad("", "request body must be a JSON object");
  auto t = doc.find("topic");
  if (t == doc.end())
    return bad("topic", "topic: required");
  if (!t->is_string())
    return bad("topic", "topic: must be a string");
  batch->topic = t->get<std::string>();
  auto m = doc.find("messages");
  if (m == doc.end())
    return bad("messages", "messages: required");
  if (!m->is_array())
    return bad("messages", "messages: must be an array");
  if (Status s = CheckMessageCount(m->size(), max_messages); !s.ok())
    return bad("messages", std::string(s.message()));
  auto bytes = std::make_unique<std::string>();
  std::vector<std::pair<size_t, size_t>> key_spans;  // (offset, size) in *bytes
  std::vector<std::pair<size_t, size_t>> payload_spans;
  batch->messages.resize(m->size());
  for (size_t i = 0; i < m->size(); ++i) {
    const json& item = (*m)[i];
    const std::string prefix = "messages[" + std::to_string(i) + "]";
    if (!item.is_object())
      return bad(prefix, prefix + ": must be an object");
    const size_t key_at = bytes->size();
    if (auto k = item.find("key"); k != item.end() && !k->is_null()) {
      if (!k->is_string())
        return bad(prefix + ".key", prefix + ".key: must be a string");
      *bytes += k->get_ref<const std::string&>();
    }
    key_spans.emplace_back(key_at, bytes->size() - key_at);
    if (auto u = item.find("msg_uuid"); u != item.end() && !u->is_null()) {
      if (!u->is_string()) {
        return bad(prefix + ".msg_uuid", prefix + ".msg_uuid: must be a UUID string");
      }
      auto id = Uuid::Parse(u->get<std::string>());
      if (!id.ok())
        return bad(prefix + ".msg_uuid", prefix + ".msg_uuid: " + id.status().message());
      batch->messages[i].msg_uuid = *id;
    }
    auto p = item.find("payload");
    if (p == item.end() || p->is_null()) {
      return bad(prefix + ".payload", prefix + ".payload: required");
    }
    if (!p->is_object()) {
      return bad(prefix + ".payload", prefix + ".payload: must be a JSON object");
    }
    const size_t payload_at = bytes->size();
    *bytes += p->dump();
    payload_spans.emplace_back(payload_at, bytes->size() - payload_at);
  }
  // Views are taken once every byte is in place: appending may have moved them.
  const std::string_view all = *bytes;
  for (size_t i = 0; i < batch->messages.size(); ++i) {
    batch->messages[i].key = all.substr(key_spans[i].first, key_spans[i].second);
    batch->messages[i].payload =
        all.substr(payload_spans[i].first, payload_spans[i].second);
  }
  batch->bytes = std::move(bytes);
  return true;
}

asio::awaitable<Response> HandlePublish(LogService& service, Request req) {
  PublishBatch batch;
  if (IsFlatbuffers(req)) {
    if (Status s = wire::DecodePublish(
            std::move(req.body), service.max_messages_per_publish(), &batch);
        !s.ok()) {
      co_return Problem(400, "Bad Request", s.message());
    }
    // The payload bytes are stored as they came: validated without building a tree.
    for (size_t i = 0; i < batch.messages.size(); ++i) {
      if (!json_scan::IsObject(batch.messages[i].payload)) {
        const std::string field = "messages[" + std::to_string(i) + "].payload";
        co_return Problem(400, "Bad Request", field + ": must be a JSON object", field);
      }
    }
  } else {
    Response problem;
    if (!ParsePublishJson(req.body, service.max_messages_per_publish(), &batch, &problem))
      co_return problem;
  }
  auto result = co_await service.Publish(std::move(batch));
  if (!result.ok())
    co_return ProblemFor(result.status());
  co_return http::Json(
      200, {{"accepted", result->accepted}, {"duplicates", result->duplicates}});
}

Response Binary(std::string body) {
  Response r;
  r.status = 200;
  r.content_type = std::string(wire::kContentType);
  r.body = std::move(body);
  return r;
}

asio::awaitable<Response> HandleFetch(LogService& service, Request req) {
  auto request = wire::DecodeFetchRequest(req.body);
  if (!request.ok())
    co_return ProblemFor(request.status());
  auto response = co_await service.FetchAsync(std::move(request).value());
  if (!response.ok())
    co_return ProblemFor(response.status());
  co_return Binary(wire::EncodeFetchResponse(*response));
}

asio::awaitable<Response> HandleCommit(LogService& service, Request req) {
  auto request = wire::DecodeCommitRequest(req.body);
  if (!request.ok())
    co_return ProblemFor(request.status());
  auto result = co_await service.CommitAsync(
      std::move(request->topic), std::move(request->group), std::move(request->offsets));
  if (!result.ok())
    co_return ProblemFor(result.status());
  co_return Binary(wire::EncodeOffsets(*result));
}

Response HandleOffsets(LogService& service, const Request& req) {
  auto topic = req.Query("topic");
  auto group = req.Query("group");
  if (!topic)
    return Problem(400, "Bad Request", "topic: required query parameter", "topic");
  if (!group)
    return Problem(400, "Bad Request", "group: required query parameter", "group");
  auto committed = service.Committed(std::string(*topic), std::string(*group));
  if (!committed.ok())
    return ProblemFor(committed.status());
  json offsets = json::object();
  for (const auto& [p, o] : *committed)
    offsets[std::to_string(p)] = o;
  return http::Json(200, {{"topic", *topic}, {"group", *group}, {"offsets", offsets}});
}

asio::awaitable<Response> HandlePostDeadLetter(LogService& service, Request req) {
  json doc = json::parse(req.body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    co_return Problem(400, "Bad Request", "request body must be a JSON object");
  }
  DeadLetter letter;
  try {
    letter.topic = doc.at("topic").get<std::string>();
    letter.partition = doc.at("partition").get<uint32_t>();
    letter.offset = doc.at("offset").get<uint64_t>();
    auto id = Uuid::Parse(doc.at("msg_uuid").get<std::string>());
    if (!id.ok())
      co_return Problem(
          400, "Bad Request", "msg_uuid: " + id.status().message(), "msg_uuid");
    letter.msg_uuid = *id;
    letter.group = doc.value("group", std::string("collectors"));
    letter.attempts = doc.value("attempts", 0u);
    letter.reason = doc.value("reason", std::string());
    letter.key = doc.value("key", std::string());
    letter.payload = doc.at("payload").get<std::string>();
  } catch (const json::exception& e) {
    co_return Problem(
        400,
        "Bad Request",
        std::string("dead letter needs topic, partition, offset, msg_uuid and "
                    "payload (string): ") +
            e.what());
  }
  Status s = co_await service.AppendDeadLetterAsync(std::move(letter));
  if (!s.ok())
    co_return ProblemFor(s);
  co_return http::Json(200, {{"stored", 1}});
}

Response HandleGetDeadLetters(LogService& service, const Request& req) {
  std::string topic(req.Query("topic").value_or("telemetry"));
  uint32_t limit = 100;
  if (auto l = req.Query("limit")) {
    char* end = nullptr;
    std::string text(*l);
    unsigned long v = std::strtoul(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || v == 0 || v > 10000) {
      return Problem(
          400, "Bad Request", "limit: must be an integer in 1..10000", "limit");
    }
    limit = static_cast<uint32_t>(v);
  }
  auto body = service.DeadLettersJson(topic, limit);
  if (!body.ok())
    return ProblemFor(body.status());
  Response r = http::Text(200, std::move(body).value());
  r.content_type = "application/json";
  return r;
}

}  // namespace

Status InstallWriterRoutes(http::Router& router, LogService& service) {
  LogService* s = &service;
  TP_RETURN_IF_ERROR(router.Add("POST", "/v1/publish", [s](Request req) {
    return HandlePublish(*s, std::move(req));
  }));
  TP_RETURN_IF_ERROR(router.Add(
      "POST", "/v1/fetch", [s](Request req) { return HandleFetch(*s, std::move(req)); }));
  TP_RETURN_IF_ERROR(router.Add("POST", "/v1/commit", [s](Request req) {
    return HandleCommit(*s, std::move(req));
  }));
  TP_RETURN_IF_ERROR(router.Add("POST", "/v1/deadletters", [s](Request req) {
    return HandlePostDeadLetter(*s, std::move(req));
  }));
  TP_RETURN_IF_ERROR(router.AddSync("GET", "/v1/deadletters", [s](const Request& req) {
    return HandleGetDeadLetters(*s, req);
  }));
  TP_RETURN_IF_ERROR(router.AddSync(
      "GET", "/v1/offsets", [s](const Request& req) { return HandleOffsets(*s, req); }));
  return router.AddSync("GET", "/v1/partitions", [s](const Request&) {
    Response r = http::Text(200, s->PartitionsJson());
    r.content_type = "application/json";
    return r;
  });
}

}  // namespace tp::broker
