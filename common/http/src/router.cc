#include "tp/http/router.h"

#include <memory>
#include <set>

#include <fmt/format.h>

#include "tp/http/url.h"

namespace tp::http {
namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  // "/a/b" -> {"a","b"}; "/" -> {""}.
  std::vector<std::string_view> out;
  path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) {
      break;
    }
    path.remove_prefix(slash + 1);
  }
  return out;
}

boost::asio::awaitable<Response> RunSync(std::shared_ptr<const SyncHandler> fn,
                                         Request request) {
  co_return (*fn)(request);
}

}  // namespace

struct Router::Route {
  std::string method;
  std::string pattern;
  struct Segment {
    std::string text;  // literal text, or the parameter name
    bool param = false;
  };
  std::vector<Segment> segments;
  Handler handler;
};

Handler Sync(SyncHandler fn) {
  auto shared = std::make_shared<const SyncHandler>(std::move(fn));
  return [shared](Request request) {
    return RunSync(shared, std::move(request));
  };
}

Router::Router() = default;
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

Status Router::Add(std::string_view method, std::string_view pattern, Handler handler) {
  if (method.empty()) {
    return Status::InvalidArgument(fmt::format("route '{}': empty method", pattern));
  }
  if (!handler) {
    return Status::InvalidArgument(
        fmt::format("route {} {}: no handler", method, pattern));
  }
  if (pattern.empty() || pattern.front() != '/') {
    return Status::InvalidArgument(
        fmt::format("route pattern '{}' must start with '/'", pattern));
  }
  Route route;
  route.method = std::string(method);
  route.pattern = std::string(pattern);
  std::set<std::string, std::less<>> names;
  for (std::string_view seg : SplitPath(pattern)) {
    Route::Segment s;
    if (!seg.empty() && seg.front() == '{') {
      if (seg.size() < 3 || seg.back() != '}' ||
          seg.substr(1, seg.size() - 2).find_first_of("{}/") != std::string_view::npos) {
        return Status::InvalidArgument(
            fmt::format("route pattern '{}': bad parameter segment '{}'", pattern, seg));
      }
      s.param = true;
      s.text = std::string(seg.substr(1, seg.size() - 2));
      if (!names.insert(s.text).second) {
        return Status::InvalidArgument(fmt::format(
            "route pattern '{}': parameter '{}' named twice", pattern, s.text));
      }
    } else {
      if (seg.find_first_of("{}") != std::string_view::npos) {
        return Status::InvalidArgument(
            fmt::format("route pattern '{}': braces must span a whole segment", pattern));
      }
      s.text = std::string(seg);
    }
    route.segments.push_back(std::move(s));
  }
  for (const Route& other : routes_) {
    if (other.method != route.method || other.segments.size() != route.segments.size()) {
      continue;
    }
    bool same = true;
    for (size_t i = 0; i < route.segments.size() && same; ++i) {
      const auto& a = route.segments[i];
      const auto& b = other.segments[i];
      same = a.param == b.param && (a.param || a.text == b.text);
    }
    if (same) {
      return Status::AlreadyExists(fmt::format(
          "route {} {} duplicates {} {}", method, pattern, other.method, other.pattern));
    }
  }
  route.handler = std::move(handler);
  routes_.push_back(std::move(route));
  return Status::Ok();
}

Status Router::AddSync(std::string_view method,
                       std::string_view pattern,
                       SyncHandler handler) {
  if (!handler) {
    return Status::InvalidArgument(
        fmt::format("route {} {}: no handler", method, pattern));
  }
  return Add(method, pattern, Sync(std::move(handler)));
}

Router::Match Router::Resolve(std::string_view method, std::string_view path) const {
  Match match;
  match.status = 404;
  if (path.empty() || path.front() != '/') {
    return match;
  }
  const std::vector<std::string_view> segs = SplitPath(path);
  const Route* best = nullptr;
  std::set<std::string> allowed;
  // True if `a` is more specific than `b`: literal at the first segment where they
  // differ.
  auto more_specific = [](const Route& a, const Route& b) {
    for (size_t i = 0; i < a.segments.size(); ++i) {
      if (a.segments[i].param != b.segments[i].param) {
        return !a.segments[i].param;
      }
    }
    return false;
  };
  // Routes with a path match but the wrong method only count for 405 if no route of the
  // right method is at least as specific; keep it simple: any path match contributes.
  for (const Route& route : routes_) {
    if (route.segments.size() != segs.size()) {
      continue;
    }
    bool ok = true;
    for (size_t i = 0; i < segs.size() && ok; ++i) {
      const auto& s = route.segments[i];
      ok = s.param ? !segs[i].empty() : s.text == segs[i];
    }
    if (!ok) {
      continue;
    }
    if (route.method != method) {
      allowed.insert(route.method);
      continue;
    }
    if (best == nullptr || more_specific(route, *best)) {
      best = &route;
    }
  }
  if (best == nullptr) {
    if (!allowed.empty()) {
      match.status = 405;
      for (const std::string& m : allowed) {
        if (!match.allow.empty()) {
          match.allow += ", ";
        }
        match.allow += m;
      }
    }
    return match;
  }
  for (size_t i = 0; i < segs.size(); ++i) {
    if (!best->segments[i].param) {
      continue;
    }
    auto decoded = PercentDecode(segs[i], /*plus_is_space=*/false);
    if (!decoded.ok()) {
      return match;  // a malformed escape cannot name a resource: 404
    }
    match.params.emplace(best->segments[i].text, std::move(decoded).value());
  }
  match.status = 200;
  match.handler = &best->handler;
  match.pattern = best->pattern;
  return match;
}

boost::asio::awaitable<Response> Router::Dispatch(Request request,
                                                  std::string* matched_pattern) const {
  Match match = Resolve(request.method, request.path);
  if (matched_pattern != nullptr) {
    *matched_pattern = match.status == 200 ? match.pattern : "unmatched";
  }
  if (match.status == 404) {
    co_return Problem(
        404, "Not Found", fmt::format("no route for path '{}'", request.path));
  }
  if (match.status == 405) {
    Response r = Problem(405,
                         "Method Not Allowed",
                         fmt::format("{} is not allowed on '{}'; allowed: {}",
                                     request.method,
                                     request.path,
                                     match.allow));
    r.headers.emplace("Allow", match.allow);
    co_return r;
  }
  request.path_params = std::move(match.params);
  co_return co_await (*match.handler)(std::move(request));
}

std::vector<RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> out;
  out.reserve(routes_.size());
  for (const Route& r : routes_) {
    out.push_back({r.method, r.pattern});
  }
  return out;
}

}  // namespace tp::http
