#include "tp/http/message.h"

#include <nlohmann/json.hpp>

#include "tp/http/url.h"

namespace tp::http {
namespace {

char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const char ca = Lower(a[i]);
    const char cb = Lower(b[i]);
    if (ca != cb) {
      return ca < cb;
    }
  }
  return a.size() < b.size();
}

std::optional<std::string_view> FindHeader(const Headers& headers,
                                           std::string_view name) {
  auto it = headers.find(name);
  if (it == headers.end()) {
    return std::nullopt;
  }
  return std::string_view(it->second);
}

std::optional<std::string_view> Request::Query(std::string_view key) const {
  auto it = query.find(std::string(key));
  if (it == query.end()) {
    return std::nullopt;
  }
  return std::string_view(it->second);
}

std::vector<std::string> Request::QueryAll(std::string_view key) const {
  std::vector<std::string> out;
  auto [begin, end] = query.equal_range(std::string(key));
  for (auto it = begin; it != end; ++it) {
    out.push_back(it->second);
  }
  return out;
}

std::string_view Request::PathParam(std::string_view name) const {
  auto it = path_params.find(std::string(name));
  return it == path_params.end() ? std::string_view() : std::string_view(it->second);
}

bool ParseTarget(std::string_view target, Request& request) {
  if (target.empty() || target.front() != '/') {
    return false;
  }
  const size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query =
      q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  const size_t hash = query.find('#');
  if (hash != std::string_view::npos) {
    query = query.substr(0, hash);
  }
  auto parsed = ParseQuery(query);
  if (!parsed.ok()) {
    return false;
  }
  request.target = std::string(target);
  request.path = std::string(path);
  request.query = std::move(parsed).value();
  return true;
}

Response Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Json(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  // Replace invalid UTF-8 instead of throwing from inside a handler.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Problem(int status,
                 std::string_view title,
                 std::string_view detail,
                 std::string_view field) {
  return Problem(status, title, detail, field, nlohmann::json());
}

Response Problem(int status,
                 std::string_view title,
                 std::string_view detail,
                 std::string_view field,
                 const nlohmann::json& extra) {
  nlohmann::json body = nlohmann::json::object();
  if (extra.is_object()) {
    body = extra;
  }
  body["type"] = "about:blank";
  body["title"] = std::string(title);
  body["status"] = status;
  if (!detail.empty()) {
    body["detail"] = std::string(detail);
  }
  if (!field.empty()) {
    body["field"] = std::string(field);
  }
  Response r = Json(status, body);
  r.content_type = "application/problem+json";
  return r;
}

}  // namespace tp::http
