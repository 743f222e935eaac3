// Serving the browser assets (dashboard, Swagger UI, uPlot) from the web directory.
#pragma once

#include <filesystem>
#include <string_view>

#include "tp/http/message.h"

namespace tp::apigw {

// Answers with the file `name` inside `dir`. `name` is one path segment (the router's
// decoded {file}); anything that could leave `dir` (a '/', a leading '.', "..", a
// symlink pointing outside) is a 404 problem, as is a missing file. Blocking (reads the
// file).
http::Response ServeFile(const std::filesystem::path& dir, std::string_view name);

// The Swagger UI page: swagger-ui-dist's bundle from /swagger/, pointed at /openapi.json.
http::Response SwaggerPage();

}  // namespace tp::apigw
