#include "streamer/emitter.h"

#include <thread>

#include <fmt/format.h>

#include "clients/publisher.h"
#include "streamer/dcgm_csv.h"
#include "streamer/rate_limiter.h"
#include "streamer/scrape_source.h"
#include "tp/log.h"
#include "tp/metrics/metrics.h"
#include "tp/telemetry/record.h"
#include "tp/telemetry/time.h"

namespace tp::streamer {
namespace {

using MonoClock = std::chrono::steady_clock;

// Sleeps `d` in small steps so that a stop request is seen quickly. False if stopped.
bool SleepUnlessStopped(std::chrono::nanoseconds d, const std::atomic<bool>& stop) {
  const auto until = MonoClock::now() + d;
  while (!stop.load()) {
    const auto now = MonoClock::now();
    if (now >= until) {
      return true;
    }
    std::this_thread::sleep_for(
        std::min<std::chrono::nanoseconds>(until - now, std::chrono::milliseconds(50)));
  }
  return false;
}

}  // namespace

struct Emitter::State {
  std::shared_ptr<spdlog::logger> log = Logger("streamer");
  std::unique_ptr<DcgmCsvReader> csv;  // opened by Open(), consumed by the first pass
  std::unique_ptr<ScrapeSource> scrape;
  std::optional<RateLimiter> limiter;
  MonoClock::time_point last_bad_row_log{};
  uint64_t bad_rows_since_log = 0;
};

Emitter::Emitter(EmitterOptions options,
                 clients::Publisher* publisher,
                 metrics::Registry* registry)
    : options_(std::move(options)),
      publisher_(publisher),
      state_(std::make_unique<State>()) {
  if (registry != nullptr) {
    EmitterCounters* c = &counters_;
    registry->AddCallbackGauge("streamer_rows_read_total",
                               "Datapoints read from the source",
                               [c] { return static_cast<double>(c->rows_read.load()); });
    registry->AddCallbackGauge("streamer_rows_emitted_total",
                               "Messages handed to the publisher",
                               [c] { return static_cast<double>(c->emitted.load()); });
    registry->AddCallbackGauge("streamer_rows_rejected_total",
                               "Bad CSV rows or exposition lines skipped",
                               [c] { return static_cast<double>(c->rejected.load()); });
    registry->AddCallbackGauge("streamer_scrape_failures_total", "Failed scrapes", [c] {
      return static_cast<double>(c->scrape_failures.load());
    });
    registry->AddCallbackGauge("streamer_loops_total",
                               "Completed passes over the source",
                               [c] { return static_cast<double>(c->loops.load()); });
  }
}

Emitter::~Emitter() = default;

Status Emitter::Open() {
  if (options_.csv.empty() == options_.scrape_url.empty()) {
    return Status::InvalidArgument("exactly one of --csv and --scrape is required");
  }
  RateLimiterOptions rl;
  rl.rate = options_.rate;
  TP_ASSIGN_OR_RETURN(auto limiter, RateLimiter::Create(rl, SteadyClock::Get()));
  state_->limiter.emplace(std::move(limiter));
  if (!options_.csv.empty()) {
    TP_ASSIGN_OR_RETURN(state_->csv, DcgmCsvReader::Open(options_.csv));
    return Status::Ok();
  }
  TP_ASSIGN_OR_RETURN(state_->scrape, ScrapeSource::Create(options_.scrape_url));
  return Status::Ok();
}

Result<Emitter::Outcome> Emitter::Emit(const std::string& key,
                                       const std::string& json,
                                       const std::atomic<bool>& stop) {
  if (stop.load()) {
    return Outcome::kStopped;
  }
  if (!state_->limiter->unlimited()) {
    if (!SleepUnlessStopped(state_->limiter->Reserve(1), stop)) {
      return Outcome::kStopped;
    }
  }
  // A full queue (broker throttling or down) is backpressure: keep trying until stopped.
  for (;;) {
    auto r = publisher_->Publish(options_.topic, key, json);
    if (r.ok()) {
      break;
    }
    if (r.status().code() != StatusCode::kFull) {
      return r.status();
    }
    if (stop.load()) {
      return Outcome::kStopped;
    }
  }
  const uint64_t n = ++counters_.emitted;
  if (options_.count > 0 && n >= static_cast<uint64_t>(options_.count)) {
    return Outcome::kDone;
  }
  return Outcome::kContinue;
}

Status Emitter::Run(const std::atomic<bool>& stop) {
  if (!state_->limiter) {
    TP_RETURN_IF_ERROR(Open());
  }
  return options_.csv.empty() ? RunScrape(stop) : RunCsv(stop);
}

Status Emitter::RunCsv(const std::atomic<bool>& stop) {
  for (int64_t loop = 0; options_.loops == 0 || loop < options_.loops; ++loop) {
    if (!state_->csv) {
      TP_ASSIGN_OR_RETURN(state_->csv, DcgmCsvReader::Open(options_.csv));
    }
    DcgmRow row;
    RowError error;
    uint64_t emitted_this_pass = 0;
    for (;;) {
      TP_ASSIGN_OR_RETURN(auto st, state_->csv->Next(&row, &error));
      if (st == DcgmCsvReader::ReadStatus::kEnd) {
        break;
      }
      if (st == DcgmCsvReader::ReadStatus::kBadRow) {
        ++counters_.rejected;
        ++state_->bad_rows_since_log;
        const auto now = MonoClock::now();
        if (now - state_->last_bad_row_log >= std::chrono::seconds(1)) {
          SPDLOG_LOGGER_WARN(state_->log,
                             "{}: line {}: bad row skipped: {} ({} bad rows since "
                             "the last report)",
                             options_.csv.string(),
                             error.line,
                             error.reason,
                             state_->bad_rows_since_log);
          state_->last_bad_row_log = now;
          state_->bad_rows_since_log = 0;
        }
        continue;
      }
      ++counters_.rows_read;
      if (!options_.shard.Owns(row.index)) {
        continue;
      }
      row.record.timestamp = telemetry::NowMicros();
      TP_ASSIGN_OR_RETURN(
          auto outcome, Emit(row.record.uuid, telemetry::ToJsonString(row.record), stop));
      ++emitted_this_pass;
      if (outcome == Outcome::kStopped || outcome == Outcome::kDone) {
        return Status::Ok();
      }
    }
    state_->csv.reset();
    ++counters_.loops;
    if (emitted_this_pass == 0 && options_.loops == 0) {
      // Nothing of this file is ours (or it is empty): do not spin on it.
      if (!SleepUnlessStopped(std::chrono::seconds(1), stop)) {
        return Status::Ok();
      }
    }
    if (stop.load()) {
      return Status::Ok();
    }
  }
  return Status::Ok();
}

Status Emitter::RunScrape(const std::atomic<bool>& stop) {
  for (int64_t loop = 0; options_.loops == 0 || loop < options_.loops; ++loop) {
    const auto started = MonoClock::now();
    auto page = state_->scrape->Scrape(telemetry::NowMicros());
    if (!page.ok()) {
      ++counters_.scrape_failures;
      SPDLOG_LOGGER_WARN(state_->log,
                         "scrape {} failed: {}",
                         options_.scrape_url,
                         page.status().ToString());
    } else {
      counters_.rejected += page->errors.size();
      if (!page->errors.empty()) {
        SPDLOG_LOGGER_WARN(state_->log,
                           "scrape {}: {} bad lines, first: {}",
                           options_.scrape_url,
                           page->errors.size(),
                           page->errors.front().ToString());
      }
      uint64_t index = 0;
      for (const auto& record : page->records) {
        ++counters_.rows_read;
        if (!options_.shard.Owns(index++)) {
          continue;
        }
        TP_ASSIGN_OR_RETURN(auto outcome,
                            Emit(record.uuid, telemetry::ToJsonString(record), stop));
        if (outcome == Outcome::kStopped || outcome == Outcome::kDone) {
          return Status::Ok();
        }
      }
    }
    ++counters_.loops;
    if (options_.loops > 0 && loop + 1 >= options_.loops) {
      break;
    }
    if (!SleepUnlessStopped(started + options_.interval - MonoClock::now(), stop)) {
      return Status::Ok();
    }
  }
  return Status::Ok();
}

}  // namespace tp::streamer
