#include "clients/consumer.h"

#include <limits>
#include <thread>
#include <type_traits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tp/http/client.h"
#include "tp/json_scan.h"

namespace tp::clients {
namespace {

using Json = nlohmann::json;

std::string ProblemDetail(const http::ClientResponse& r) {
  auto body = Json::parse(r.body, nullptr, false);
  if (body.is_object() && body.contains("detail") && body["detail"].is_string()) {
    return body["detail"].get<std::string>();
  }
  return r.body.substr(0, 300);
}

// Maps a non-2xx answer to the Status the header documents.
Status StatusForHttp(const http::ClientResponse& r, std::string_view what) {
  std::string msg = fmt::format("{}: HTTP {}: {}", what, r.status, ProblemDetail(r));
  switch (r.status) {
    case 404:
      return Status::NotFound(std::move(msg));
    case 409:
      return Status::Conflict(std::move(msg));
    case 429:
      return Status::Unavailable(std::move(msg));
    default:
      break;
  }
  if (r.status >= 500) {
    return Status::Unavailable(std::move(msg));
  }
  if (r.status >= 400) {
    return Status::InvalidArgument(std::move(msg));
  }
  return Status::Internal(std::move(msg));
}

bool Transient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kTimeout;
}

}  // namespace

struct Consumer::Impl {
  ConsumerOptions options;
  std::unique_ptr<http::Client> client;

  // The 2xx answer's body ("{}" when there is none), retrying transient failures.
  Result<std::string> CallForText(std::string_view target,
                                  const Json& body,
                                  std::chrono::milliseconds timeout,
                                  int attempts) {
    const std::string text = body.dump(-1, ' ', false, Json::error_handler_t::replace);
    Status last;
    for (int attempt = 0; attempt < attempts; ++attempt) {
      if (attempt > 0) {
        std::this_thread::sleep_for(FullJitterBackoff(options.backoff, attempt - 1));
      }
      auto r = client->Request("POST", target, text, "application/json", {}, timeout);
      if (!r.ok()) {
        last = r.status().WithContext(target);
      } else if (r->status < 200 || r->status >= 300) {
        last = StatusForHttp(*r, target);
      } else if (r->status == 204 || r->body.empty()) {
        return std::string("{}");
      } else {
        return std::move(r->body);
      }
      if (!Transient(last)) {
        return last;
      }
    }
    return last;
  }

  Result<Json> Call(std::string_view target,
                    const Json& body,
                    std::chrono::milliseconds timeout,
                    int attempts) {
    TP_ASSIGN_OR_RETURN(std::string text, CallForText(target, body, timeout, attempts));
    auto parsed = Json::parse(text, nullptr, false);
    if (!parsed.is_object()) {
      return Status::Internal(fmt::format("{}: answer is not a JSON object", target));
    }
    return parsed;
  }
};

namespace {

// Reads one element of a lease answer's "messages". The payload is kept as the text the
// reader sent: the collector parses it once, with no document built in between.
Status ReadLeasedMessage(json_scan::Value m, LeasedMessage* out) {
  using json_scan::Kind;
  bool has_uuid = false;
  out->payload = "null";
  auto integer = [](std::string_view key, json_scan::Value v, auto* field) {
    using Field = std::remove_pointer_t<decltype(field)>;
    auto n = json_scan::ToInt64(v);
    if (!n.ok()) {
      return Status::Internal(fmt::format("{}: {}", key, n.status().message()));
    }
    if (*n < std::numeric_limits<Field>::min() ||
        *n > std::numeric_limits<Field>::max()) {
      return Status::Internal(fmt::format("{}: {} is out of range", key, *n));
    }
    *field = static_cast<Field>(*n);
    return Status::Ok();
  };
  TP_RETURN_IF_ERROR(
      json_scan::ForEachMember(m, [&](std::string_view key, json_scan::Value v) {
        if (key == "msg_uuid") {
          if (v.kind != Kind::kString) {
            return Status::Internal("msg_uuid: expected a string");
          }
          out->msg_uuid = json_scan::DecodeString(v);
          has_uuid = true;
        } else if (key == "partition") {
          return integer(key, v, &out->partition);
        } else if (key == "offset") {
          return integer(key, v, &out->offset);
        } else if (key == "attempt") {
          return integer(key, v, &out->attempt);
        } else if (key == "payload") {
          out->payload.assign(v.text);
        }
        return Status::Ok();
      }));
  return has_uuid ? Status::Ok() : Status::Internal("a message without msg_uuid");
}

}  // namespace

Consumer::Consumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Consumer::~Consumer() = default;

Result<std::unique_ptr<Consumer>> Consumer::Create(ConsumerOptions options) {
  if (options.topic.empty()) {
    return Status::InvalidArgument("consumer: empty topic");
  }
  if (options.request_timeout.count() <= 0 || options.max_attempts < 1) {
    return Status::InvalidArgument(
        "consumer: request_timeout and max_attempts must be > 0");
  }
  http::ClientOptions client_options;
  client_options.connect_timeout = options.connect_timeout;
  client_options.timeout = options.request_timeout;
  client_options.max_idle_connections = options.max_idle_connections;
  client_options.user_agent = "tp-consumer";
  TP_ASSIGN_OR_RETURN(auto client,
                      http::Client::Create(options.reader_url, client_options));
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->client = std::move(client);
  return std::unique_ptr<Consumer>(new Consumer(std::move(impl)));
}

Result<LeaseResponse> Consumer::Lease(const LeaseRequest& request) {
  if (request.max < 1 || request.lease_seconds.count() < 1 || request.wait.count() < 0) {
    return Status::InvalidArgument("lease: max and lease_seconds must be >= 1");
  }
  Json body = {{"topic", impl_->options.topic},
               {"group", request.group},
               {"consumer_id", request.consumer_id},
               {"max", request.max},
               {"lease_seconds", request.lease_seconds.count()},
               {"wait_ms", request.wait.count()}};
  const auto sent_at = std::chrono::steady_clock::now();
  TP_ASSIGN_OR_RETURN(
      std::string answer,
      impl_->CallForText(
          "/v1/lease", body, request.wait + impl_->options.request_timeout, 1));
  LeaseResponse lease;
  lease.deadline = sent_at + request.lease_seconds;
  auto doc = json_scan::Parse(answer);
  if (!doc.ok() || doc->kind != json_scan::Kind::kObject) {
    return Status::Internal("/v1/lease: answer is not a JSON object");
  }
  Status read =
      json_scan::ForEachMember(*doc, [&](std::string_view key, json_scan::Value v) {
        using json_scan::Kind;
        if (key == "lease_id" && v.kind == Kind::kString) {
          lease.lease_id = json_scan::DecodeString(v);
        } else if (key == "expires_at" && v.kind == Kind::kString) {
          lease.expires_at = json_scan::DecodeString(v);
        } else if (key == "messages" && v.kind == Kind::kArray) {
          return json_scan::ForEachElement(v, [&](json_scan::Value m) {
            return ReadLeasedMessage(m, &lease.messages.emplace_back());
          });
        }
        return Status::Ok();
      });
  if (!read.ok()) {
    return Status::Internal(
        fmt::format("/v1/lease: unexpected answer: {}", read.message()));
  }
  if (!lease.messages.empty() && lease.lease_id.empty()) {
    return Status::Internal("/v1/lease: messages without a lease_id");
  }
  return lease;
}

Result<std::int64_t> Consumer::Ack(
    const std::string& lease_id,
    const std::optional<std::vector<std::string>>& msg_uuids) {
  Json body = {{"lease_id", lease_id}};
  if (msg_uuids) {
    body["msg_uuids"] = *msg_uuids;
  }
  TP_ASSIGN_OR_RETURN(
      Json answer,
      impl_->Call(
          "/v1/ack", body, impl_->options.request_timeout, impl_->options.max_attempts));
  if (answer.contains("acked") && answer["acked"].is_number_integer()) {
    return answer["acked"].get<std::int64_t>();
  }
  return std::int64_t{0};
}

Status Consumer::Nack(const std::string& lease_id,
                      const std::vector<std::string>& msg_uuids,
                      std::chrono::milliseconds delay) {
  Json body = {
      {"lease_id", lease_id}, {"msg_uuids", msg_uuids}, {"delay_ms", delay.count()}};
  auto r = impl_->Call(
      "/v1/nack", body, impl_->options.request_timeout, impl_->options.max_attempts);
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::string> Consumer::Extend(const std::string& lease_id,
                                     std::chrono::seconds lease_seconds) {
  Json body = {{"lease_id", lease_id}, {"lease_seconds", lease_seconds.count()}};
  TP_ASSIGN_OR_RETURN(Json answer,
                      impl_->Call("/v1/extend",
                                  body,
                                  impl_->options.request_timeout,
                                  impl_->options.max_attempts));
  if (answer.contains("expires_at") && answer["expires_at"].is_string()) {
    return answer["expires_at"].get<std::string>();
  }
  return std::string();
}

Status Consumer::Ping() {
  auto r = impl_->client->Request(
      "GET", "/healthz", {}, {}, {}, impl_->options.request_timeout);
  if (!r.ok()) {
    return r.status();
  }
  if (r->status != 200) {
    return Status::Unavailable(fmt::format("reader /healthz: HTTP {}", r->status));
  }
  return Status::Ok();
}

}  // namespace tp::clients
