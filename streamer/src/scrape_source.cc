#include "streamer/scrape_source.h"

#include <charconv>

#include <fmt/format.h>

#include "tp/http/client.h"

namespace tp::streamer {

Result<std::pair<std::string, std::string>> SplitScrapeUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Status::InvalidArgument(
        fmt::format("scrape URL '{}' must start with http://", url));
  }
  const auto slash = url.find('/', kScheme.size());
  if (slash == std::string_view::npos) {
    return std::make_pair(std::string(url), std::string("/metrics"));
  }
  std::string path(url.substr(slash));
  if (path == "/") {
    path = "/metrics";
  }
  return std::make_pair(std::string(url.substr(0, slash)), std::move(path));
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  double number = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || ptr == text.data()) {
    return Status::InvalidArgument(fmt::format("duration '{}': expected e.g. 15s", text));
  }
  const std::string_view unit(ptr, static_cast<size_t>(text.data() + text.size() - ptr));
  double ms = 0;
  if (unit.empty() || unit == "s") {
    ms = number * 1000;
  } else if (unit == "ms") {
    ms = number;
  } else if (unit == "m") {
    ms = number * 60'000;
  } else if (unit == "h") {
    ms = number * 3'600'000;
  } else {
    return Status::InvalidArgument(
        fmt::format("duration '{}': unknown unit '{}'", text, unit));
  }
  if (!(ms >= 1) || ms > 1e12) {
    return Status::InvalidArgument(fmt::format("duration '{}' out of range", text));
  }
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

ScrapeSource::ScrapeSource(std::unique_ptr<http::Client> client, std::string path)
    : client_(std::move(client)), path_(std::move(path)) {}
ScrapeSource::~ScrapeSource() = default;

Result<std::unique_ptr<ScrapeSource>> ScrapeSource::Create(
    std::string_view url, std::chrono::milliseconds timeout) {
  TP_ASSIGN_OR_RETURN(auto parts, SplitScrapeUrl(url));
  http::ClientOptions options;
  options.timeout = timeout;
  options.connect_timeout = std::min(timeout, options.connect_timeout);
  options.max_idle_connections = 1;
  options.user_agent = "tp-streamer";
  TP_ASSIGN_OR_RETURN(auto client, http::Client::Create(parts.first, options));
  return std::unique_ptr<ScrapeSource>(
      new ScrapeSource(std::move(client), std::move(parts.second)));
}

Result<ExpositionResult> ScrapeSource::Scrape(telemetry::Timestamp scrape_time) {
  TP_ASSIGN_OR_RETURN(auto response, client_->Get(path_));
  if (response.status != 200) {
    return Status::Unavailable(fmt::format("scrape {}: HTTP {}", path_, response.status));
  }
  return ParseExposition(response.body, scrape_time);
}

}  // namespace tp::streamer
