// LogSource over HTTP to a remote broker writer (broker reader). Uses the binary fetch
// and commit endpoints and the JSON offsets/dead-letter endpoints.
#include <nlohmann/json.hpp>

#include "broker/writer.h"
#include "tp/http/client.h"
#include "wire.h"

namespace tp::broker {
namespace {

// Maps a non-2xx answer to a Status carrying the server's problem detail.
Status StatusFromResponse(const http::ClientResponse& r, std::string_view what) {
  std::string detail = r.body;
  auto doc = nlohmann::json::parse(r.body, nullptr, false);
  if (doc.is_object() && doc.contains("detail") && doc["detail"].is_string()) {
    detail = doc["detail"].get<std::string>();
  }
  std::string msg =
      std::string(what) + ": HTTP " + std::to_string(r.status) + ": " + detail;
  switch (r.status) {
    case 400:
      return Status::InvalidArgument(std::move(msg));
    case 404:
      return Status::NotFound(std::move(msg));
    case 429:
      return Status::Full(std::move(msg));
    case 503:
      return Status::Unavailable(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

class HttpLogSource : public LogSource {
 public:
  HttpLogSource(std::string id, std::unique_ptr<http::Client> client)
      : id_(std::move(id)), client_(std::move(client)) {}

  const std::string& id() const override { return id_; }

  Result<FetchResponse> Fetch(const FetchRequest& request) override {
    TP_ASSIGN_OR_RETURN(auto r,
                        client_->Request("POST",
                                         "/v1/fetch",
                                         wire::EncodeFetchRequest(request),
                                         wire::kContentType,
                                         {},
                                         request.wait + std::chrono::seconds(10)));
    if (r.status != 200)
      return StatusFromResponse(r, "fetch from " + id_);
    return wire::DecodeFetchResponse(r.body);
  }

  Result<std::map<uint32_t, uint64_t>> Commit(
      const std::string& topic,
      const std::string& group,
      const std::map<uint32_t, uint64_t>& offsets) override {
    TP_ASSIGN_OR_RETURN(
        auto r,
        client_->Request("POST",
                         "/v1/commit",
                         wire::EncodeCommitRequest({topic, group, offsets}),
                         wire::kContentType));
    if (r.status != 200)
      return StatusFromResponse(r, "commit to " + id_);
    return wire::DecodeOffsets(r.body);
  }

  Result<std::map<uint32_t, uint64_t>> Committed(const std::string& topic,
                                                 const std::string& group) override {
    TP_ASSIGN_OR_RETURN(auto r,
                        client_->Get("/v1/offsets?topic=" + topic + "&group=" + group));
    if (r.status != 200)
      return StatusFromResponse(r, "offsets from " + id_);
    auto doc = nlohmann::json::parse(r.body, nullptr, false);
    if (!doc.is_object() || !doc.contains("offsets") || !doc["offsets"].is_object()) {
      return Status::Internal("offsets from " + id_ + ": malformed answer");
    }
    std::map<uint32_t, uint64_t> out;
    for (const auto& [partition, offset] : doc["offsets"].items()) {
      out[static_cast<uint32_t>(std::stoul(partition))] = offset.get<uint64_t>();
    }
    return out;
  }

  Status AppendDeadLetter(const DeadLetter& letter) override {
    nlohmann::json body = {{"topic", letter.topic},
                           {"partition", letter.partition},
                           {"offset", letter.offset},
                           {"msg_uuid", letter.msg_uuid.ToString()},
                           {"group", letter.group},
                           {"attempts", letter.attempts},
                           {"reason", letter.reason},
                           {"key", letter.key},
                           {"payload", letter.payload}};
    TP_ASSIGN_OR_RETURN(
        auto r,
        client_->Post(
            "/v1/deadletters",
            body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    if (r.status != 200)
      return StatusFromResponse(r, "dead letter to " + id_);
    return Status::Ok();
  }

  Result<uint32_t> PartitionCount(const std::string& topic) override {
    TP_ASSIGN_OR_RETURN(auto r, client_->Get("/v1/partitions"));
    if (r.status != 200)
      return StatusFromResponse(r, "partitions from " + id_);
    auto doc = nlohmann::json::parse(r.body, nullptr, false);
    if (doc.is_object() && doc.contains("topics")) {
      for (const auto& t : doc["topics"]) {
        if (t.value("name", "") == topic)
          return t.value("partitions", 0u);
      }
    }
    return Status::NotFound("writer " + id_ + " has no topic '" + topic + "'");
  }

 private:
  const std::string id_;
  std::unique_ptr<http::Client> client_;
};

}  // namespace

Result<std::unique_ptr<LogSource>> MakeHttpLogSource(const std::string& base_url) {
  TP_ASSIGN_OR_RETURN(auto client, http::Client::Create(base_url));
  return std::unique_ptr<LogSource>(
      std::make_unique<HttpLogSource>(base_url, std::move(client)));
}

}  // namespace tp::broker
