#include "fake_broker.h"

#include <thread>

#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>

#include "broker_generated.h"
#include "tp/uuid.h"

namespace tp::clients::testing {

using Json = nlohmann::json;

namespace {

// A publish request's flatbuffers form as its JSON form; discarded when invalid.
Json FlatbuffersPublishAsJson(const std::string& body) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(body.data());
  flatbuffers::Verifier verifier(bytes, body.size());
  if (body.size() < 8 || !verifier.VerifyBuffer<broker::fb::PublishRequest>(nullptr)) {
    return Json(Json::value_t::discarded);
  }
  const auto* req = flatbuffers::GetRoot<broker::fb::PublishRequest>(bytes);
  Json doc = Json::object();
  if (req->topic()) {
    doc["topic"] = req->topic()->str();
  }
  Json messages = Json::array();
  if (req->messages()) {
    for (const broker::fb::PublishMessage* m : *req->messages()) {
      Json item = Json::object();
      item["key"] = m->key() ? m->key()->str() : std::string();
      if (m->msg_uuid() && m->msg_uuid()->size() == 16) {
        std::array<uint8_t, 16> id{};
        std::copy(m->msg_uuid()->begin(), m->msg_uuid()->end(), id.begin());
        item["msg_uuid"] = Uuid(id).ToString();
      }
      if (m->payload()) {
        item["payload"] =
            Json::parse(m->payload()->begin(), m->payload()->end(), nullptr, false);
      }
      messages.push_back(std::move(item));
    }
  }
  doc["messages"] = std::move(messages);
  return doc;
}

}  // namespace

std::unique_ptr<FakeBroker> FakeBroker::Start(std::uint16_t port) {
  std::unique_ptr<FakeBroker> broker(new FakeBroker());
  http::Router router;
  for (const char* path :
       {"/v1/publish", "/v1/lease", "/v1/ack", "/v1/nack", "/v1/extend"}) {
    FakeBroker* self = broker.get();
    std::string p = path;
    auto st = router.AddSync(
        "POST", p, [self, p](const http::Request& r) { return self->Handle(p, r); });
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  auto st = router.AddSync(
      "GET", "/healthz", [](const http::Request&) { return http::Text(200, "ok"); });
  EXPECT_TRUE(st.ok());
  http::ServerOptions options;
  options.listen = "127.0.0.1:" + std::to_string(port);
  options.threads = 2;
  options.stop_grace = std::chrono::milliseconds(200);
  auto server = http::Server::Create(options);
  if (!server.ok()) {
    ADD_FAILURE() << server.status().ToString();
    return nullptr;
  }
  broker->server_ = std::move(server).value();
  auto started = broker->server_->Start(std::move(router));
  if (!started.ok()) {
    ADD_FAILURE() << started.ToString();
    return nullptr;
  }
  return broker;
}

FakeBroker::~FakeBroker() {
  Stop();
}

void FakeBroker::Stop() {
  if (server_) {
    server_->Stop();
  }
}

std::string FakeBroker::url() const {
  return "http://127.0.0.1:" + std::to_string(server_->port());
}
std::uint16_t FakeBroker::port() const {
  return server_->port();
}

void FakeBroker::Script(const std::string& path, std::vector<ScriptedAnswer> answers) {
  std::lock_guard lock(mu_);
  for (auto& a : answers) {
    script_[path].push_back(std::move(a));
  }
}

std::vector<RecordedRequest> FakeBroker::Requests(const std::string& path) const {
  std::lock_guard lock(mu_);
  std::vector<RecordedRequest> out;
  for (const auto& [p, r] : requests_) {
    if (p == path) {
      out.push_back(r);
    }
  }
  return out;
}

std::vector<Json> FakeBroker::Published() const {
  std::lock_guard lock(mu_);
  return published_;
}

void FakeBroker::AddMessage(const std::string& msg_uuid, Json payload) {
  std::lock_guard lock(mu_);
  ready_.push_back(Message{msg_uuid, std::move(payload), 0, next_offset_++});
}

void FakeBroker::ExpireLeases() {
  std::lock_guard lock(mu_);
  for (auto& [id, lease] : leases_) {
    lease.expired = true;
  }
}

std::set<std::string> FakeBroker::Acked() const {
  std::lock_guard lock(mu_);
  return acked_;
}

std::vector<std::string> FakeBroker::Nacked() const {
  std::lock_guard lock(mu_);
  return nacked_;
}

std::size_t FakeBroker::Ready() const {
  std::lock_guard lock(mu_);
  return ready_.size();
}

http::Response FakeBroker::Handle(const std::string& path, const http::Request& request) {
  const std::string content_type(request.Header("Content-Type").value_or(""));
  Json body = content_type.starts_with("application/x-flatbuffers")
                  ? FlatbuffersPublishAsJson(request.body)
                  : Json::parse(request.body, nullptr, false);
  bool wait_for_messages = false;
  int wait_ms = 0;
  {
    std::lock_guard lock(mu_);
    requests_.emplace_back(
        path,
        RecordedRequest{path, body, content_type, std::chrono::steady_clock::now()});
    auto& script = script_[path];
    if (!script.empty()) {
      ScriptedAnswer a = std::move(script.front());
      script.pop_front();
      http::Response r;
      r.status = a.status;
      r.body = a.body;
      r.content_type = "application/problem+json";
      if (a.retry_after) {
        r.headers.emplace("Retry-After", *a.retry_after);
      }
      return r;
    }
    if (!body.is_object()) {
      return http::Problem(400, "Bad Request", "body is not a JSON object");
    }
    if (path == "/v1/lease" && ready_.empty()) {
      wait_for_messages = true;
      wait_ms = body.value("wait_ms", 0);
    }
  }
  if (wait_for_messages) {
    // A crude long-poll (this handler blocks an io thread; fine for a test double).
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(std::min(wait_ms, 2000));
    while (std::chrono::steady_clock::now() < until && Ready() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::lock_guard lock(mu_);
  if (path == "/v1/publish") {
    if (!body.contains("topic") || !body["topic"].is_string() ||
        !body.contains("messages")) {
      return http::Problem(400, "Bad Request", "topic and messages are required");
    }
    if (body["topic"] != "telemetry") {
      return http::Problem(404, "Not Found", "unknown topic");
    }
    int accepted = 0;
    int duplicates = 0;
    for (const auto& m : body["messages"]) {
      if (!m.contains("payload") || !m["payload"].is_object()) {
        return http::Problem(400, "Bad Request", "payload must be an object");
      }
      const std::string id = m.value("msg_uuid", "");
      if (!id.empty() && !published_ids_.insert(id).second) {
        ++duplicates;
        continue;
      }
      ++accepted;
      published_.push_back(m);
    }
    return http::Json(200, {{"accepted", accepted}, {"duplicates", duplicates}});
  }
  if (path == "/v1/lease") {
    const int max = body.value("max", 100);
    Json messages = Json::array();
    LeaseState lease;
    while (!ready_.empty() && static_cast<int>(lease.messages.size()) < max) {
      Message m = std::move(ready_.front());
      ready_.pop_front();
      ++m.attempt;
      messages.push_back({{"msg_uuid", m.msg_uuid},
                          {"partition", 7},
                          {"offset", m.offset},
                          {"attempt", m.attempt},
                          {"payload", m.payload}});
      lease.messages.push_back(std::move(m));
    }
    if (lease.messages.empty()) {
      return http::Json(200, {{"lease_id", nullptr}, {"messages", Json::array()}});
    }
    const std::string id = "lease-" + std::to_string(next_lease_++);
    leases_[id] = std::move(lease);
    return http::Json(200,
                      {{"lease_id", id},
                       {"expires_at", "2030-01-01T00:00:30.000000Z"},
                       {"messages", messages}});
  }
  const std::string lease_id = body.value("lease_id", "");
  auto it = leases_.find(lease_id);
  if (it == leases_.end()) {
    return http::Problem(404, "Not Found", "unknown lease");
  }
  if (it->second.expired) {
    return http::Problem(409, "Conflict", "lease expired");
  }
  auto selected = [&](const std::string& id) {
    if (!body.contains("msg_uuids")) {
      return true;
    }
    for (const auto& u : body["msg_uuids"]) {
      if (u == id) {
        return true;
      }
    }
    return false;
  };
  if (path == "/v1/ack") {
    int acked = 0;
    auto& msgs = it->second.messages;
    for (auto m = msgs.begin(); m != msgs.end();) {
      if (selected(m->msg_uuid)) {
        acked_.insert(m->msg_uuid);
        ++acked;
        m = msgs.erase(m);
      } else {
        ++m;
      }
    }
    return http::Json(200, {{"acked", acked}});
  }
  if (path == "/v1/nack") {
    int nacked = 0;
    auto& msgs = it->second.messages;
    for (auto m = msgs.begin(); m != msgs.end();) {
      if (selected(m->msg_uuid)) {
        nacked_.push_back(m->msg_uuid);
        ++nacked;
        m = msgs.erase(m);
      } else {
        ++m;
      }
    }
    return http::Json(200, {{"nacked", nacked}});
  }
  // extend
  return http::Json(200, {{"expires_at", "2030-01-01T00:01:00.000000Z"}});
}

}  // namespace tp::clients::testing
