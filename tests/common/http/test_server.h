// Helpers for the HTTP tests: a started server on 127.0.0.1:0 and a raw connection that
// speaks HTTP/1.1 by hand (for keep-alive and timeout checks the Client hides).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "tp/http/server.h"

namespace tp::http::testing {

// Creates and starts a server on 127.0.0.1:0; returns null (after a gtest failure) if
// that fails.
std::unique_ptr<Server> StartServer(Router router, ServerOptions options = {});

std::string BaseUrlOf(const Server& server);

class RawConnection {
 public:
  // Connects to 127.0.0.1:port; check connected().
  explicit RawConnection(std::uint16_t port);
  bool connected() const { return connected_; }

  bool Send(const std::string& bytes);
  // Reads one response within `timeout`; nullopt on timeout, close or parse error.
  std::optional<boost::beast::http::response<boost::beast::http::string_body>> Read(
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True if the server closes the connection within `timeout` (no bytes expected).
  bool WaitClosed(std::chrono::milliseconds timeout);
  std::string LocalAddress() const;

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_{ioc_};
  boost::beast::flat_buffer buffer_;
  bool connected_ = false;
};

}  // namespace tp::http::testing
