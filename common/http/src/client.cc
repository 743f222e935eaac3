// Blocking client: each pooled connection owns a small io_context that the calling thread
// runs while it uses the connection, so no background thread is needed and a call never
// waits for another caller. Timeouts come from beast::tcp_stream's expiry (one deadline
// for the whole call), with a hard stop on the io_context as a backstop.
#include "tp/http/client.h"

#include <atomic>
#include <mutex>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "read_buffer.h"

namespace tp::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Connection {
  net::io_context ioc{1};
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  Clock::time_point last_used;
};

bool IsToken(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) {
      return false;
    }
  }
  return true;
}

// Runs the operation started by `start` on the connection's io_context until it
// completes; `hard_deadline` is a backstop in case the stream's own timer does not fire.
template <typename Start>
beast::error_code RunOp(Connection& c, Clock::time_point hard_deadline, Start&& start) {
  beast::error_code result;
  bool done = false;
  c.ioc.restart();
  start([&](beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  while (!done) {
    if (c.ioc.run_one_until(hard_deadline) == 0) {
      break;
    }
  }
  if (!done) {
    beast::error_code ignored;
    c.stream.socket().close(ignored);
    c.ioc.restart();
    c.ioc.run_for(std::chrono::milliseconds(100));  // deliver the aborted completion
    return beast::error::timeout;
  }
  return result;
}

bool IsStaleConnectionError(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::connection_aborted;
}

}  // namespace

namespace internal {

struct ClientImpl {
  BaseUrl base;
  ClientOptions options;
  mutable std::mutex mu;
  std::vector<std::unique_ptr<Connection>> idle;  // GUARDED_BY mu; most recent last
  std::atomic<std::size_t> opened{0};

  // A pooled connection that is fresh enough, or null.
  std::unique_ptr<Connection> TakeIdle() {
    std::vector<std::unique_ptr<Connection>> expired;  // closed outside the lock
    std::unique_ptr<Connection> out;
    {
      std::lock_guard lock(mu);
      const auto now = Clock::now();
      while (!idle.empty()) {
        std::unique_ptr<Connection> c = std::move(idle.back());
        idle.pop_back();
        if (now - c->last_used < options.max_idle_time) {
          out = std::move(c);
          break;
        }
        expired.push_back(std::move(c));
      }
    }
    return out;
  }

  void GiveBack(std::unique_ptr<Connection> c) {
    c->last_used = Clock::now();
    std::lock_guard lock(mu);
    if (idle.size() < options.max_idle_connections) {
      idle.push_back(std::move(c));
    }
  }

  Result<std::unique_ptr<Connection>> Open(Clock::time_point deadline) {
    auto c = std::make_unique<Connection>();
    beast::error_code ec;
    tcp::resolver resolver(c->ioc);
    auto endpoints = resolver.resolve(base.host, std::to_string(base.port), ec);
    if (ec) {
      return Status::Unavailable(
          fmt::format("resolve {}: {}", base.HostPort(), ec.message()));
    }
    const auto connect_deadline =
        std::min(deadline, Clock::now() + options.connect_timeout);
    c->stream.expires_at(connect_deadline);
    ec = RunOp(*c, connect_deadline + std::chrono::seconds(1), [&](auto handler) {
      c->stream.async_connect(
          endpoints,
          [h = std::move(handler)](beast::error_code e, const tcp::endpoint&) mutable {
            h(e);
          });
    });
    if (ec == beast::error::timeout) {
      return Status::Timeout(fmt::format("connect to {} timed out", base.HostPort()));
    }
    if (ec) {
      return Status::Unavailable(
          fmt::format("connect to {}: {}", base.HostPort(), ec.message()));
    }
    beast::error_code ignored;
    c->stream.socket().set_option(tcp::no_delay(true), ignored);
    opened.fetch_add(1, std::memory_order_relaxed);
    return c;
  }
};

}  // namespace internal

using internal::ClientImpl;

Result<std::unique_ptr<Client>> Client::Create(std::string_view base_url,
                                               ClientOptions options) {
  TP_ASSIGN_OR_RETURN(BaseUrl base, ParseBaseUrl(base_url));
  if (options.connect_timeout.count() <= 0 || options.timeout.count() <= 0) {
    return Status::InvalidArgument("client timeouts must be positive");
  }
  auto impl = std::make_unique<ClientImpl>();
  impl->base = std::move(base);
  impl->options = std::move(options);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<ClientImpl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

const BaseUrl& Client::base_url() const {
  return impl_->base;
}

std::size_t Client::IdleConnections() const {
  std::lock_guard lock(impl_->mu);
  return impl_->idle.size();
}

std::size_t Client::ConnectionsOpened() const {
  return impl_->opened.load(std::memory_order_relaxed);
}

Result<ClientResponse> Client::Request(std::string_view method,
                                       std::string_view target,
                                       std::string_view body,
                                       std::string_view content_type,
                                       const Headers& headers,
                                       std::optional<std::chrono::milliseconds> timeout) {
  if (!IsToken(method)) {
    return Status::InvalidArgument(fmt::format("invalid HTTP method '{}'", method));
  }
  if (target.empty() || target.front() != '/' ||
      target.find_first_of(" \r\n") != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("invalid request target '{}': must start with '/'", target));
  }
  const auto total = timeout.value_or(impl_->options.timeout);
  const auto deadline = Clock::now() + total;
  const std::string host_port = impl_->base.HostPort();

  bhttp::request<bhttp::string_body> req;
  req.version(11);
  const bhttp::verb verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) {
    req.method_string(method);
  } else {
    req.method(verb);
  }
  req.target(impl_->base.prefix + std::string(target));
  req.set(bhttp::field::host, host_port);
  req.set(bhttp::field::user_agent, impl_->options.user_agent);
  for (const auto& [name, value] : headers) {
    req.insert(name, value);
  }
  if (!content_type.empty()) {
    req.set(bhttp::field::content_type, content_type);
  }
  req.body() = std::string(body);
  req.keep_alive(true);
  req.prepare_payload();

  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Connection> conn = impl_->TakeIdle();
    const bool reused = conn != nullptr;
    if (!reused) {
      TP_ASSIGN_OR_RETURN(conn, impl_->Open(deadline));
    }
    const auto hard_deadline = deadline + std::chrono::seconds(1);
    conn->stream.expires_at(deadline);
    beast::error_code ec = RunOp(*conn, hard_deadline, [&](auto handler) {
      bhttp::async_write(conn->stream, req, std::move(handler));
    });
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(impl_->options.max_response_body);
    if (!ec) {
      ec = RunOp(*conn, hard_deadline, [&](auto handler) {
        bhttp::async_read_header(conn->stream, conn->buffer, parser, std::move(handler));
      });
    }
    if (!ec && !parser.is_done()) {
      internal::ReserveForBody(conn->buffer, parser.content_length());
      ec = RunOp(*conn, hard_deadline, [&](auto handler) {
        bhttp::async_read(conn->stream, conn->buffer, parser, std::move(handler));
      });
    }
    if (ec) {
      // The server may have closed a pooled connection while it sat idle: try once more
      // on a fresh one if nothing of an answer arrived.
      if (reused && attempt == 0 && !parser.got_some() && IsStaleConnectionError(ec) &&
          Clock::now() < deadline) {
        continue;
      }
      if (ec == beast::error::timeout) {
        return Status::Timeout(fmt::format("{} {}{} on {}: no answer within {} ms",
                                           method,
                                           impl_->base.prefix,
                                           target,
                                           host_port,
                                           total.count()));
      }
      if (ec == bhttp::error::body_limit) {
        return Status::Unavailable(
            fmt::format("{} {}{} on {}: response body over {} bytes",
                        method,
                        impl_->base.prefix,
                        target,
                        host_port,
                        impl_->options.max_response_body));
      }
      return Status::Unavailable(fmt::format("{} {}{} on {}: {}",
                                             method,
                                             impl_->base.prefix,
                                             target,
                                             host_port,
                                             ec.message()));
    }
    auto& res = parser.get();
    ClientResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      out.headers.emplace(std::string(field.name_string()), std::string(field.value()));
    }
    out.body = std::move(res.body());
    if (res.keep_alive()) {
      impl_->GiveBack(std::move(conn));
    }
    return out;
  }
}

}  // namespace tp::http
