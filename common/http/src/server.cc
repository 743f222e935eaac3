// The Beast/Asio part of the server: accept loop and per-connection sessions. Kept in
// this one translation unit because Beast coroutine code is expensive to compile.
//
// Stop protocol: `stopping_` is set first, then the acceptor is closed on its strand and
// every session whose connection is idle (waiting for the first byte of a request) has
// its socket closed on the session's strand. A session that is reading or handling a
// request finishes it, answers with "Connection: close" and exits. After stop_grace the
// remaining sockets are closed, the io_context is stopped and the threads are joined;
// coroutine frames still suspended (a long-poll on a timer) are destroyed with the
// io_context, before the rest of the server state.
#include "tp/http/server.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "read_buffer.h"
#include "tp/http/url.h"
#include "tp/log.h"
#include "tp/metrics/metrics.h"
#include "tp/thread_name.h"

namespace tp::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

std::string EndpointString(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  if (addr.is_v6()) {
    return fmt::format("[{}]:{}", addr.to_string(), ep.port());
  }
  return fmt::format("{}:{}", addr.to_string(), ep.port());
}

// One accepted connection. `stream` and `idle` are only touched on the connection's
// strand (the session coroutine, or a handler Stop posts there).
struct Conn {
  explicit Conn(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool idle = true;
};

}  // namespace

namespace internal {

struct ServerImpl {
  ServerOptions options;
  std::shared_ptr<spdlog::logger> log;
  Router router;
  std::string address;
  std::uint16_t port = 0;

  // Metrics (null without a registry).
  metrics::CounterFamily* requests_total = nullptr;
  metrics::HistogramFamily* request_seconds = nullptr;
  metrics::Gauge* in_flight = nullptr;
  metrics::Gauge* open_connections = nullptr;

  std::atomic<bool> stopping{false};
  std::atomic<bool> started{false};

  std::mutex mu;  // guards sessions, next_session_id
  std::condition_variable sessions_cv;
  std::unordered_map<std::uint64_t, std::shared_ptr<Conn>> sessions;
  std::uint64_t next_session_id = 0;

  std::mutex join_mu;  // serialises FinishStop
  bool joined = false;
  std::vector<std::thread> threads;

  // Destroyed explicitly in ~Impl, before the members above.
  std::unique_ptr<net::io_context> ioc;
  std::optional<net::strand<net::io_context::executor_type>> acceptor_strand;
  std::optional<tcp::acceptor> acceptor;

  ~ServerImpl() {
    BeginStop();
    FinishStop();
    acceptor.reset();
    acceptor_strand.reset();
    ioc.reset();  // destroys suspended coroutine frames while the state above still lives
  }

  void BeginStop();
  void FinishStop();
  void CloseSessions(bool idle_only);
  void Record(const std::string& pattern,
              const std::string& method,
              int status,
              Clock::duration elapsed);
};

}  // namespace internal

using internal::ServerImpl;

namespace {

// Registers a session for Stop and keeps the connection gauge; unregisters on exit or
// when the frame is destroyed with the io_context.
class SessionGuard {
 public:
  SessionGuard(ServerImpl* impl, std::shared_ptr<Conn> conn) : impl_(impl) {
    std::lock_guard lock(impl_->mu);
    id_ = impl_->next_session_id++;
    impl_->sessions.emplace(id_, std::move(conn));
    if (impl_->open_connections != nullptr) {
      impl_->open_connections->Add(1);
    }
  }
  ~SessionGuard() {
    std::lock_guard lock(impl_->mu);
    impl_->sessions.erase(id_);
    if (impl_->open_connections != nullptr) {
      impl_->open_connections->Sub(1);
    }
    impl_->sessions_cv.notify_all();
  }
  SessionGuard(const SessionGuard&) = delete;
  SessionGuard& operator=(const SessionGuard&) = delete;

 private:
  ServerImpl* impl_;
  std::uint64_t id_ = 0;
};

net::awaitable<beast::error_code> WriteResponse(beast::tcp_stream& stream,
                                                Response response,
                                                unsigned version,
                                                bool keep_alive,
                                                std::chrono::milliseconds timeout) {
  bhttp::response<bhttp::string_body> res;
  res.version(version);
  res.result(static_cast<unsigned>(response.status));
  for (auto& [name, value] : response.headers) {
    res.insert(name, value);
  }
  if (!response.body.empty() || !response.content_type.empty()) {
    res.set(bhttp::field::content_type, response.content_type);
  }
  res.body() = std::move(response.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  stream.expires_after(timeout);
  auto [ec, n] = co_await bhttp::async_write(stream, res, kUseTuple);
  co_return ec;
}

// After refusing a request whose body we will not read, keep reading (and discarding) for
// a short while so that closing the socket does not reset the connection before the
// client has read our answer.
net::awaitable<void> DrainAndClose(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(std::chrono::seconds(2));
  std::vector<char> sink(64 * 1024);
  std::size_t total = 0;
  while (total < (std::size_t{256} << 20)) {
    auto [rec, n] = co_await stream.async_read_some(net::buffer(sink), kUseTuple);
    if (rec) {
      break;
    }
    total += n;
  }
  stream.socket().close(ec);
}

std::string MethodLabel(const bhttp::request<bhttp::string_body>& req) {
  if (req.method() == bhttp::verb::unknown) {
    return "OTHER";
  }
  return std::string(req.method_string());
}

net::awaitable<void> RunSession(ServerImpl* impl, std::shared_ptr<Conn> conn) {
  SessionGuard guard(impl, conn);
  const ServerOptions& opts = impl->options;
  beast::tcp_stream& stream = conn->stream;
  beast::error_code ignored;
  const auto remote_ep = stream.socket().remote_endpoint(ignored);
  const std::string remote = ignored ? std::string() : EndpointString(remote_ep);
  beast::flat_buffer buffer;

  for (;;) {
    conn->idle = true;
    if (impl->stopping.load()) {
      break;
    }
    if (buffer.size() == 0) {
      // Keep-alive idle phase: wait for the first byte of the next request.
      stream.expires_after(opts.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kUseTuple);
      if (ec) {
        break;  // closed by the peer, idle timeout, or Stop
      }
      buffer.commit(n);
    }
    conn->idle = false;

    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(opts.body_limit);
    parser.header_limit(static_cast<std::uint32_t>(opts.header_limit));
    stream.expires_after(opts.read_timeout);
    auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kUseTuple);
    beast::error_code ec = hec;
    if (!ec && !parser.is_done()) {
      const auto& head = parser.get();
      auto expect = head.find(bhttp::field::expect);
      if (expect != head.end() && beast::iequals(expect->value(), "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, head.version()};
        stream.expires_after(opts.write_timeout);
        auto [cec, cn] = co_await bhttp::async_write(stream, cont, kUseTuple);
        if (cec) {
          break;
        }
        stream.expires_after(opts.read_timeout);
      }
      internal::ReserveForBody(buffer, parser.content_length());
      auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, kUseTuple);
      ec = bec;
    }
    if (ec) {
      const unsigned version = parser.is_header_done() ? parser.get().version() : 11;
      std::optional<Response> refusal;
      if (ec == bhttp::error::body_limit) {
        refusal = Problem(413,
                          "Content Too Large",
                          fmt::format("the request body exceeds the limit of {} bytes",
                                      opts.body_limit));
      } else if (ec == bhttp::error::header_limit) {
        refusal =
            Problem(431,
                    "Request Header Fields Too Large",
                    fmt::format("the request head exceeds {} bytes", opts.header_limit));
      } else if (ec.category() ==
                     bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
                 ec != bhttp::error::end_of_stream &&
                 ec != bhttp::error::partial_message) {
        refusal = Problem(
            400, "Bad Request", fmt::format("malformed HTTP request: {}", ec.message()));
      }
      // Timeouts, resets and a peer that went away get no answer.
      if (refusal) {
        const std::string method =
            parser.is_header_done() ? MethodLabel(parser.get()) : std::string("OTHER");
        const int status = refusal->status;
        auto wec = co_await WriteResponse(
            stream, std::move(*refusal), version, false, opts.write_timeout);
        impl->Record("unmatched", method, status, Clock::duration::zero());
        if (!wec) {
          co_await DrainAndClose(stream);
        }
      }
      break;
    }

    auto& breq = parser.get();
    const std::string method = MethodLabel(breq);
    const unsigned version = breq.version();
    const bool client_keep_alive = breq.keep_alive();
    const auto start = Clock::now();
    Request request;
    request.method = std::string(breq.method_string());
    request.remote_address = remote;
    for (const auto& field : breq) {
      request.headers.emplace(std::string(field.name_string()),
                              std::string(field.value()));
    }
    request.body = std::move(breq.body());

    Response response;
    std::string pattern = "unmatched";
    if (!ParseTarget(breq.target(), request)) {
      response = Problem(
          400,
          "Bad Request",
          fmt::format("malformed request target '{}'", std::string_view(breq.target())));
    } else {
      if (impl->in_flight != nullptr) {
        impl->in_flight->Add(1);
      }
      try {
        response = co_await impl->router.Dispatch(std::move(request), &pattern);
      } catch (const std::exception& e) {
        SPDLOG_LOGGER_ERROR(impl->log,
                            "handler for {} {} threw: {}",
                            method,
                            std::string_view(breq.target()),
                            e.what());
        response = Problem(500, "Internal Server Error", "the request handler failed");
      } catch (...) {
        SPDLOG_LOGGER_ERROR(impl->log,
                            "handler for {} {} threw a non-exception",
                            method,
                            std::string_view(breq.target()));
        response = Problem(500, "Internal Server Error", "the request handler failed");
      }
      if (impl->in_flight != nullptr) {
        impl->in_flight->Sub(1);
      }
    }
    const int status = response.status;
    const bool keep_alive =
        client_keep_alive && !response.close && !impl->stopping.load();
    auto wec = co_await WriteResponse(
        stream, std::move(response), version, keep_alive, opts.write_timeout);
    impl->Record(pattern, method, status, Clock::now() - start);
    if (wec || !keep_alive) {
      break;
    }
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.socket().close(ignored);
}

net::awaitable<void> AcceptLoop(ServerImpl* impl) {
  net::steady_timer backoff(co_await net::this_coro::executor);
  for (;;) {
    auto [ec, socket] =
        co_await impl->acceptor->async_accept(net::make_strand(*impl->ioc), kUseTuple);
    if (impl->stopping.load() || ec == net::error::operation_aborted ||
        !impl->acceptor->is_open()) {
      co_return;
    }
    if (ec) {
      // Typically EMFILE: back off instead of spinning.
      SPDLOG_LOGGER_WARN(
          impl->log, "accept on {} failed: {}", impl->address, ec.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kUseTuple);
      continue;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto conn = std::make_shared<Conn>(std::move(socket));
    auto executor = conn->stream.get_executor();
    net::co_spawn(
        executor, RunSession(impl, std::move(conn)), [impl](std::exception_ptr e) {
          if (e) {
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& ex) {
              SPDLOG_LOGGER_ERROR(impl->log, "connection session failed: {}", ex.what());
            } catch (...) {
              SPDLOG_LOGGER_ERROR(impl->log, "connection session failed");
            }
          }
        });
  }
}

}  // namespace

void ServerImpl::Record(const std::string& pattern,
                        const std::string& method,
                        int status,
                        Clock::duration elapsed) {
  if (requests_total == nullptr) {
    return;
  }
  const std::string code = std::to_string(status);
  requests_total->WithLabels({pattern, method, code}).Inc();
  request_seconds->WithLabels({pattern, method, code}).ObserveDuration(elapsed);
}

void ServerImpl::CloseSessions(bool idle_only) {
  std::lock_guard lock(mu);
  for (auto& [id, conn] : sessions) {
    net::post(conn->stream.get_executor(), [conn = conn, idle_only]() {
      if (!idle_only || conn->idle) {
        beast::error_code ec;
        conn->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        conn->stream.socket().close(ec);
      }
    });
  }
}

void ServerImpl::BeginStop() {
  if (stopping.exchange(true)) {
    return;
  }
  if (!started.load()) {
    beast::error_code ec;
    if (acceptor) {
      acceptor->close(ec);
    }
    return;
  }
  net::post(*acceptor_strand, [this]() {
    beast::error_code ec;
    acceptor->close(ec);
  });
  CloseSessions(/*idle_only=*/true);
}

void ServerImpl::FinishStop() {
  std::lock_guard join_lock(join_mu);
  if (joined) {
    return;
  }
  if (started.load()) {
    {
      std::unique_lock lock(mu);
      sessions_cv.wait_for(lock, options.stop_grace, [this] { return sessions.empty(); });
    }
    CloseSessions(/*idle_only=*/false);
    {
      // Sessions whose handler is still suspended do not exit on a closed socket; give
      // the others a moment to unwind cleanly.
      std::unique_lock lock(mu);
      sessions_cv.wait_for(
          lock, std::chrono::milliseconds(200), [this] { return sessions.empty(); });
      if (!sessions.empty()) {
        SPDLOG_LOGGER_WARN(log,
                           "stopping {} with {} request(s) still in flight after {} ms",
                           address,
                           sessions.size(),
                           options.stop_grace.count());
      }
    }
    ioc->stop();
    for (std::thread& t : threads) {
      if (t.joinable()) {
        t.join();
      }
    }
  }
  joined = true;
}

Result<std::unique_ptr<Server>> Server::Create(ServerOptions options) {
  if (options.threads < 1) {
    return Status::InvalidArgument("server threads must be >= 1");
  }
  if (options.body_limit == 0 || options.header_limit == 0) {
    return Status::InvalidArgument("server body_limit and header_limit must be > 0");
  }
  if (options.read_timeout.count() <= 0 || options.idle_timeout.count() <= 0 ||
      options.write_timeout.count() <= 0 || options.stop_grace.count() < 0) {
    return Status::InvalidArgument("server timeouts must be positive");
  }
  TP_ASSIGN_OR_RETURN(auto host_port, ParseHostPort(options.listen));

  auto impl = std::make_unique<ServerImpl>();
  impl->log = Logger(options.log_component);
  impl->ioc = std::make_unique<net::io_context>(options.threads);
  impl->acceptor_strand.emplace(net::make_strand(*impl->ioc));
  impl->acceptor.emplace(*impl->acceptor_strand);

  beast::error_code ec;
  tcp::endpoint endpoint;
  auto addr = net::ip::make_address(host_port.first, ec);
  if (!ec) {
    endpoint = tcp::endpoint(addr, host_port.second);
  } else {
    tcp::resolver resolver(*impl->ioc);
    auto results =
        resolver.resolve(host_port.first,
                         std::to_string(host_port.second),
                         tcp::resolver::passive | tcp::resolver::numeric_service,
                         ec);
    if (ec || results.empty()) {
      return Status::InvalidArgument(fmt::format(
          "cannot resolve listen host '{}': {}", host_port.first, ec.message()));
    }
    endpoint = results.begin()->endpoint();
  }
  tcp::acceptor& acceptor = *impl->acceptor;
  auto fail = [&](std::string_view what) {
    return Status::Unavailable(
        fmt::format("{} {}: {}", what, options.listen, ec.message()));
  };
  if (acceptor.open(endpoint.protocol(), ec)) {
    return fail("open");
  }
  if (acceptor.set_option(net::socket_base::reuse_address(true), ec)) {
    return fail("setsockopt");
  }
  if (acceptor.bind(endpoint, ec)) {
    return fail("bind");
  }
  if (acceptor.listen(net::socket_base::max_listen_connections, ec)) {
    return fail("listen");
  }
  const tcp::endpoint local = acceptor.local_endpoint(ec);
  if (ec) {
    return fail("getsockname");
  }
  impl->port = local.port();
  impl->address = EndpointString(local);

  if (options.registry != nullptr) {
    metrics::Registry& reg = *options.registry;
    impl->requests_total = &reg.AddCounterFamily(
        "http_requests_total", "HTTP requests answered", {"route", "method", "code"});
    impl->request_seconds =
        &reg.AddHistogramFamily("http_request_duration_seconds",
                                "Time from a fully read request to its answer written",
                                {"route", "method", "code"});
    impl->in_flight =
        &reg.AddGauge("http_requests_in_flight", "HTTP requests being handled");
    impl->open_connections =
        &reg.AddGauge("http_open_connections", "Open HTTP server connections");
  }
  impl->options = std::move(options);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<ServerImpl> impl) : impl_(std::move(impl)) {}

Server::~Server() = default;  // ~Impl stops and joins

Status Server::Start(Router router) {
  if (impl_->stopping.load()) {
    return Status::FailedPrecondition("server is stopped");
  }
  if (impl_->started.exchange(true)) {
    return Status::FailedPrecondition("server already started");
  }
  impl_->router = std::move(router);
  ServerImpl* impl = impl_.get();
  net::co_spawn(*impl->acceptor_strand, AcceptLoop(impl), [impl](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        SPDLOG_LOGGER_ERROR(
            impl->log, "accept loop on {} failed: {}", impl->address, ex.what());
      } catch (...) {
        SPDLOG_LOGGER_ERROR(impl->log, "accept loop on {} failed", impl->address);
      }
    }
  });
  impl->threads.reserve(static_cast<size_t>(impl->options.threads));
  for (int i = 0; i < impl->options.threads; ++i) {
    impl->threads.emplace_back([impl]() {
      NameThisThread(impl->options.log_component + "-io");
      for (;;) {
        try {
          impl->ioc->run();
          return;
        } catch (const std::exception& e) {
          SPDLOG_LOGGER_ERROR(impl->log, "io thread caught: {}", e.what());
        }
      }
    });
  }
  SPDLOG_LOGGER_INFO(impl->log, "listening on {}", impl->address);
  return Status::Ok();
}

void Server::Stop() {
  impl_->BeginStop();
  if (impl_->ioc->get_executor().running_in_this_thread()) {
    return;  // joining our own thread would deadlock; the destructor finishes
  }
  impl_->FinishStop();
}

std::uint16_t Server::port() const {
  return impl_->port;
}
std::string Server::address() const {
  return impl_->address;
}
boost::asio::io_context& Server::io_context() {
  return *impl_->ioc;
}
boost::asio::any_io_executor Server::executor() {
  return impl_->ioc->get_executor();
}

}  // namespace tp::http
