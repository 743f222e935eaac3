#include "static_files.h"

#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

namespace tp::apigw {
namespace {

std::string ContentType(const std::filesystem::path& path) {
  const std::string ext = path.extension().string();
  if (ext == ".html") {
    return "text/html; charset=utf-8";
  }
  if (ext == ".js" || ext == ".mjs") {
    return "text/javascript; charset=utf-8";
  }
  if (ext == ".css") {
    return "text/css; charset=utf-8";
  }
  if (ext == ".json" || ext == ".map") {
    return "application/json";
  }
  if (ext == ".png") {
    return "image/png";
  }
  if (ext == ".svg") {
    return "image/svg+xml";
  }
  return "application/octet-stream";
}

http::Response NoSuchFile() {
  return http::Problem(404, "Not Found", "no such file");
}

}  // namespace

http::Response ServeFile(const std::filesystem::path& dir, std::string_view name) {
  if (name.empty() || name.front() == '.' || name.find('/') != std::string_view::npos ||
      name.find('\\') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return NoSuchFile();
  }
  std::error_code ec;
  const std::filesystem::path base = std::filesystem::canonical(dir, ec);
  if (ec) {
    return NoSuchFile();
  }
  const std::filesystem::path file = std::filesystem::canonical(base / name, ec);
  if (ec || file.parent_path() != base || !std::filesystem::is_regular_file(file, ec)) {
    return NoSuchFile();
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return NoSuchFile();
  }
  std::ostringstream body;
  body << in.rdbuf();
  http::Response r;
  r.status = 200;
  r.body = std::move(body).str();
  r.content_type = ContentType(file);
  r.headers.emplace("Cache-Control", "public, max-age=300");
  r.headers.emplace("X-Content-Type-Options", "nosniff");
  return r;
}

http::Response SwaggerPage() {
  http::Response r;
  r.status = 200;
  r.content_type = "text/html; charset=utf-8";
  r.body = R"(<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>GPU telemetry API - Swagger UI</title>
  <link rel="icon" type="image/png" href="/swagger/favicon-32x32.png">
  <link rel="stylesheet" href="/swagger/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/swagger/swagger-ui-bundle.js"></script>
  <script src="/swagger/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout"
    });
  </script>
</body>
</html>
)";
  return r;
}

}  // namespace tp::apigw
