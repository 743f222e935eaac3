#include "test_server.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <gtest/gtest.h>

namespace tp::http::testing {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

std::unique_ptr<Server> StartServer(Router router, ServerOptions options) {
  options.listen = "127.0.0.1:0";
  auto created = Server::Create(options);
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  if (!created.ok()) {
    return nullptr;
  }
  std::unique_ptr<Server> server = std::move(created).value();
  const Status started = server->Start(std::move(router));
  EXPECT_TRUE(started.ok()) << started.ToString();
  if (!started.ok()) {
    return nullptr;
  }
  return server;
}

std::string BaseUrlOf(const Server& server) {
  return "http://127.0.0.1:" + std::to_string(server.port());
}

RawConnection::RawConnection(std::uint16_t port) {
  boost::system::error_code ec;
  socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  connected_ = !ec;
}

bool RawConnection::Send(const std::string& bytes) {
  boost::system::error_code ec;
  net::write(socket_, net::buffer(bytes), ec);
  return !ec;
}

std::optional<bhttp::response<bhttp::string_body>> RawConnection::Read(
    std::chrono::milliseconds timeout) {
  bhttp::response<bhttp::string_body> res;
  boost::system::error_code result;
  bool done = false;
  bhttp::async_read(
      socket_, buffer_, res, [&](boost::system::error_code ec, std::size_t) {
        result = ec;
        done = true;
      });
  ioc_.restart();
  ioc_.run_for(timeout);
  if (!done) {
    boost::system::error_code ignored;
    socket_.cancel(ignored);
    ioc_.restart();
    ioc_.run();
    return std::nullopt;
  }
  if (result) {
    return std::nullopt;
  }
  return res;
}

bool RawConnection::WaitClosed(std::chrono::milliseconds timeout) {
  char byte = 0;
  boost::system::error_code result;
  bool done = false;
  socket_.async_read_some(net::buffer(&byte, 1),
                          [&](boost::system::error_code ec, std::size_t) {
                            result = ec;
                            done = true;
                          });
  ioc_.restart();
  ioc_.run_for(timeout);
  if (!done) {
    boost::system::error_code ignored;
    socket_.cancel(ignored);
    ioc_.restart();
    ioc_.run();
    return false;
  }
  return result == net::error::eof || result == net::error::connection_reset;
}

std::string RawConnection::LocalAddress() const {
  boost::system::error_code ec;
  auto ep = socket_.local_endpoint(ec);
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace tp::http::testing
