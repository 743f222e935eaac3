// Prometheus metrics: a Registry of counters, gauges and histograms, rendered in the text
// exposition format 0.0.4 for GET /metrics.
//
// Hot path: Counter::Inc, Gauge::Set/Add and Histogram::Observe are lock-free (relaxed
// atomics), safe from any thread. Registration (Registry::Add*) and the lookup of a label
// set (Family::WithLabels) take a mutex: look a child up once and keep the reference when
// a hot path always uses the same labels. Every reference handed out stays valid for the
// lifetime of the Registry (metrics are never removed).
//
// Registration is get-or-create: adding a metric whose name already exists with the same
// type, label names (and buckets) returns the existing one, so two components (or two
// servers) can share a Registry. Invalid names, a type or label mismatch with an existing
// metric, or a wrong number of label values are programming errors and throw
// std::invalid_argument; they happen at startup, not per request.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tp::metrics {

// Latency buckets in seconds, 1 ms .. 10 s.
inline const std::vector<double> kDefaultLatencyBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// A monotonically increasing value (requests served, bytes written).
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // `delta` must be >= 0 (a negative delta is ignored).
  void Inc(double delta = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down (queue depth, buffer utilisation).
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void Sub(double delta) { value_.fetch_sub(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted into fixed buckets (upper bounds, seconds for latencies). A scrape
// concurrent with Observe may see the sum and the buckets one observation apart; _count
// is always equal to the +Inf bucket.
class Histogram {
 public:
  // `upper_bounds` must be strictly increasing and finite; +Inf is implicit.
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double value);
  template <typename Rep, typename Period>
  void ObserveDuration(std::chrono::duration<Rep, Period> d) {
    Observe(std::chrono::duration<double>(d).count());
  }

  struct Snapshot {
    std::vector<double> upper_bounds;       // without +Inf
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot Snap() const;
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, +Inf last
  std::atomic<double> sum_{0.0};
};

// Children of one metric name keyed by label values, in the order of the label names
// given at registration.
template <typename Metric>
class Family {
 public:
  Family(std::vector<std::string> label_names, std::vector<double> buckets);
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // Returns the child for these label values, creating it on first use. Takes a mutex.
  // Throws std::invalid_argument if the number of values differs from the label names.
  Metric& WithLabels(const std::vector<std::string>& values);
  Metric& WithLabels(std::initializer_list<std::string_view> values);

  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls `fn(values, metric)` for every child in label order, under the mutex.
  void ForEach(const std::function<void(const std::vector<std::string>&, const Metric&)>&
                   fn) const;

 private:
  std::vector<std::string> label_names_;
  std::vector<double> buckets_;  // histograms only
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>>
      children_;  // GUARDED_BY mu_
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// One sample of a callback gauge family: label values (same order as the label names) and
// the value.
struct LabeledValue {
  std::vector<std::string> label_values;
  double value = 0;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Unlabelled metrics.
  Counter& AddCounter(const std::string& name, const std::string& help);
  Gauge& AddGauge(const std::string& name, const std::string& help);
  Histogram& AddHistogram(const std::string& name,
                          const std::string& help,
                          std::vector<double> upper_bounds = kDefaultLatencyBuckets);

  // Labelled metrics. Label names match [a-zA-Z_][a-zA-Z0-9_]*, do not start with "__",
  // and a histogram may not use "le".
  CounterFamily& AddCounterFamily(const std::string& name,
                                  const std::string& help,
                                  std::vector<std::string> label_names);
  GaugeFamily& AddGaugeFamily(const std::string& name,
                              const std::string& help,
                              std::vector<std::string> label_names);
  HistogramFamily& AddHistogramFamily(
      const std::string& name,
      const std::string& help,
      std::vector<std::string> label_names,
      std::vector<double> upper_bounds = kDefaultLatencyBuckets);

  // Gauges computed at scrape time. The callback runs inside Render() on the scraping
  // thread while the registry's mutex is held: it must be thread-safe, quick, and must
  // not call into this Registry. Re-adding an existing name replaces the callback.
  void AddCallbackGauge(const std::string& name,
                        const std::string& help,
                        std::function<double()> callback);
  void AddCallbackGaugeFamily(const std::string& name,
                              const std::string& help,
                              std::vector<std::string> label_names,
                              std::function<std::vector<LabeledValue>()> callback);

  // Prometheus text format 0.0.4 (Content-Type "text/plain; version=0.0.4"): metrics in
  // registration order, children sorted by label values. Thread-safe.
  std::string Render() const;

 private:
  struct Entry;
  Entry& GetOrAdd(const std::string& name,
                  const std::string& help,
                  int kind,
                  const std::vector<std::string>& label_names,
                  const std::vector<double>& buckets);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;  // GUARDED_BY mu_, registration order
};

// Escapes a label value for the text format (backslash, double quote, newline).
std::string EscapeLabelValue(std::string_view value);
// Formats a sample value as Prometheus does: "1", "0.25", "+Inf", "-Inf", "NaN".
std::string FormatValue(double value);

}  // namespace tp::metrics
