// Helpers for apigw tests: running the gateway's router without sockets.
#pragma once

#include <string>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tp/http/message.h"
#include "tp/http/router.h"

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

}  // namespace tp::apigw::testing
