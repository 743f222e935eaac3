// Helpers for apigw tests: running the gateway's router with or without sockets.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "apigw/gateway.h"
#include "tp/http/message.h"
#include "tp/http/router.h"
#include "tp/http/server.h"
#include "tp/metrics/metrics.h"
#include "tp/status.h"

namespace tp::apigw::testing {

// Runs `router` on `target` as the server would, without sockets.
inline http::Response Dispatch(const http::Router& router,
                               const std::string& target,
                               http::Headers headers = {},
                               std::string method = "GET") {
  http::Request req;
  req.method = std::move(method);
  req.target = target;
  req.headers = std::move(headers);
  if (!http::ParseTarget(target, req)) {
    return http::Problem(400, "Bad Request", "malformed target");
  }
  boost::asio::io_context ioc;
  http::Response out;
  boost::asio::co_spawn(ioc,
                        router.Dispatch(std::move(req)),
                        [&out](std::exception_ptr e, http::Response r) {
                          if (e) {
                            std::rethrow_exception(e);
                          }
                          out = std::move(r);
                        });
  ioc.run();
  return out;
}

// The body as JSON (null when it is not JSON).
inline nlohmann::json Body(const http::Response& r) {
  return nlohmann::json::parse(r.body, nullptr, false);
}

// A gateway behind a real HTTP server on 127.0.0.1 (any free port). The server is
// declared last so it stops before the gateway its routes point into goes away.
struct ServedGateway {
  std::unique_ptr<Gateway> gateway;
  std::unique_ptr<http::Server> server;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }
};

inline Result<ServedGateway> ServeGateway(GatewayOptions options,
                                          metrics::Registry* registry) {
  ServedGateway served;
  TP_ASSIGN_OR_RETURN(served.gateway, Gateway::Create(std::move(options), registry));
  http::Router router;
  TP_RETURN_IF_ERROR(served.gateway->Install(router));
  http::ServerOptions server_options;
  server_options.listen = "127.0.0.1:0";
  server_options.registry = registry;
  TP_ASSIGN_OR_RETURN(served.server, http::Server::Create(server_options));
  TP_RETURN_IF_ERROR(served.server->Start(std::move(router)));
  return served;
}

}  // namespace tp::apigw::testing
