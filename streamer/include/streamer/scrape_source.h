// ScrapeSource: reads a live dcgm-exporter /metrics page over HTTP and turns it into
// TelemetryRecords with ParseExposition (the same records a CSV row gives).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "streamer/exposition.h"
#include "tp/status.h"
#include "tp/telemetry/time.h"

namespace tp::http {
class Client;
}  // namespace tp::http

namespace tp::streamer {

class ScrapeSource {
 public:
  // `url` is the full page address, "http://host:9400/metrics" (path defaults to
  // "/metrics" when absent). InvalidArgument for anything else (https included).
  static Result<std::unique_ptr<ScrapeSource>> Create(
      std::string_view url, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~ScrapeSource();
  ScrapeSource(const ScrapeSource&) = delete;
  ScrapeSource& operator=(const ScrapeSource&) = delete;

  // GETs the page and parses it; samples without their own time get `scrape_time`.
  // Errors: Unavailable/Timeout from the connection, Unavailable for a non-200 answer.
  // Not thread-safe (one scraper per source).
  Result<ExpositionResult> Scrape(telemetry::Timestamp scrape_time);

 private:
  ScrapeSource(std::unique_ptr<http::Client> client, std::string path);
  std::unique_ptr<http::Client> client_;
  std::string path_;
};

// Splits "http://host:port/path?q" into ("http://host:port", "/path?q"); the path is
// "/metrics" when the URL has none. InvalidArgument when there is no "http://" scheme.
Result<std::pair<std::string, std::string>> SplitScrapeUrl(std::string_view url);

// Parses "15s", "500ms", "2m", "1h" or a plain number of seconds. InvalidArgument for
// anything else, negative or zero values.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace tp::streamer
