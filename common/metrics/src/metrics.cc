// Every metric is stored as a Family; an unlabelled metric is a family with no label
// names and a single child, so Render has one code path per type.
#include "tp/metrics/metrics.h"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace tp::metrics {
namespace {

enum Kind : int { kCounter, kGauge, kHistogram, kCallbackGauge, kCallbackGaugeFamily };

std::string_view KindName(int kind) {
  switch (kind) {
    case kCounter:
      return "counter";
    case kHistogram:
      return "histogram";
    default:
      return "gauge";
  }
}

bool IsMetricName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) {
      return false;
    }
  }
  return true;
}

bool IsLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) {
      return false;
    }
  }
  return true;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// {a="x",b="y"} with an optional extra le label; empty when there are no labels.
std::string LabelSet(const std::vector<std::string>& names,
                     const std::vector<std::string>& values,
                     std::string_view le = {}) {
  if (names.empty() && le.empty()) {
    return {};
  }
  std::string out = "{";
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!le.empty()) {
    if (!names.empty()) {
      out += ',';
    }
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  return fmt::format("{}", value);
}

// --- Counter / Histogram -------------------------------------------------------------

void Counter::Inc(double delta) {
  if (delta < 0 || std::isnan(delta)) {
    return;
  }
  value_.fetch_add(delta, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      counts_(new std::atomic<std::uint64_t>[upper_bounds_.size() + 1]) {
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    if (!std::isfinite(upper_bounds_[i]) ||
        (i > 0 && upper_bounds_[i] <= upper_bounds_[i - 1])) {
      throw std::invalid_argument(
          "histogram buckets must be finite and strictly increasing");
    }
  }
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    counts_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::Observe(double value) {
  // Buckets are few (about a dozen): a linear scan beats a binary search here.
  size_t i = 0;
  while (i < upper_bounds_.size() && value > upper_bounds_[i]) {
    ++i;
  }
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Snap() const {
  Snapshot s;
  s.upper_bounds = upper_bounds_;
  s.cumulative.resize(upper_bounds_.size() + 1);
  std::uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// --- Family --------------------------------------------------------------------------

template <typename Metric>
Family<Metric>::Family(std::vector<std::string> label_names, std::vector<double> buckets)
    : label_names_(std::move(label_names)), buckets_(std::move(buckets)) {}

template <typename Metric>
Metric& Family<Metric>::WithLabels(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(fmt::format(
        "metric expects {} label values, got {}", label_names_.size(), values.size()));
  }
  std::lock_guard lock(mu_);
  auto it = children_.find(values);
  if (it == children_.end()) {
    std::unique_ptr<Metric> child;
    if constexpr (std::is_same_v<Metric, Histogram>) {
      child = std::make_unique<Histogram>(buckets_);
    } else {
      child = std::make_unique<Metric>();
    }
    it = children_.emplace(values, std::move(child)).first;
  }
  return *it->second;
}

template <typename Metric>
Metric& Family<Metric>::WithLabels(std::initializer_list<std::string_view> values) {
  std::vector<std::string> v;
  v.reserve(values.size());
  for (std::string_view s : values) {
    v.emplace_back(s);
  }
  return WithLabels(v);
}

template <typename Metric>
void Family<Metric>::ForEach(
    const std::function<void(const std::vector<std::string>&, const Metric&)>& fn) const {
  std::lock_guard lock(mu_);
  for (const auto& [values, child] : children_) {
    fn(values, *child);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// --- Registry ------------------------------------------------------------------------

struct Registry::Entry {
  std::string name;
  std::string help;
  int kind = kCounter;
  std::vector<std::string> label_names;
  std::vector<double> buckets;
  std::unique_ptr<CounterFamily> counters;
  std::unique_ptr<GaugeFamily> gauges;
  std::unique_ptr<HistogramFamily> histograms;
  std::function<double()> callback;
  std::function<std::vector<LabeledValue>()> family_callback;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Entry& Registry::GetOrAdd(const std::string& name,
                                    const std::string& help,
                                    int kind,
                                    const std::vector<std::string>& label_names,
                                    const std::vector<double>& buckets) {
  // REQUIRES: mu_ held.
  if (!IsMetricName(name)) {
    throw std::invalid_argument(fmt::format("invalid metric name '{}'", name));
  }
  for (const auto& label : label_names) {
    if (!IsLabelName(label) || (kind == kHistogram && label == "le")) {
      throw std::invalid_argument(
          fmt::format("invalid label name '{}' for metric '{}'", label, name));
    }
  }
  for (auto& entry : entries_) {
    if (entry->name != name) {
      continue;
    }
    if (entry->kind != kind || entry->label_names != label_names ||
        entry->buckets != buckets) {
      throw std::invalid_argument(fmt::format(
          "metric '{}' is already registered with another type, labels or buckets",
          name));
    }
    return *entry;
  }
  auto entry = std::make_unique<Entry>();
  entry->name = name;
  entry->help = help;
  entry->kind = kind;
  entry->label_names = label_names;
  entry->buckets = buckets;
  switch (kind) {
    case kCounter:
      entry->counters = std::make_unique<CounterFamily>(label_names, buckets);
      break;
    case kGauge:
      entry->gauges = std::make_unique<GaugeFamily>(label_names, buckets);
      break;
    case kHistogram:
      // Validate the buckets now, not on the first WithLabels.
      Histogram{buckets};
      entry->histograms = std::make_unique<HistogramFamily>(label_names, buckets);
      break;
    default:
      break;
  }
  entries_.push_back(std::move(entry));
  return *entries_.back();
}

Counter& Registry::AddCounter(const std::string& name, const std::string& help) {
  return AddCounterFamily(name, help, {}).WithLabels(std::vector<std::string>{});
}

Gauge& Registry::AddGauge(const std::string& name, const std::string& help) {
  return AddGaugeFamily(name, help, {}).WithLabels(std::vector<std::string>{});
}

Histogram& Registry::AddHistogram(const std::string& name,
                                  const std::string& help,
                                  std::vector<double> upper_bounds) {
  return AddHistogramFamily(name, help, {}, std::move(upper_bounds))
      .WithLabels(std::vector<std::string>{});
}

CounterFamily& Registry::AddCounterFamily(const std::string& name,
                                          const std::string& help,
                                          std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  return *GetOrAdd(name, help, kCounter, label_names, {}).counters;
}

GaugeFamily& Registry::AddGaugeFamily(const std::string& name,
                                      const std::string& help,
                                      std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  return *GetOrAdd(name, help, kGauge, label_names, {}).gauges;
}

HistogramFamily& Registry::AddHistogramFamily(const std::string& name,
                                              const std::string& help,
                                              std::vector<std::string> label_names,
                                              std::vector<double> upper_bounds) {
  std::lock_guard lock(mu_);
  return *GetOrAdd(name, help, kHistogram, label_names, upper_bounds).histograms;
}

void Registry::AddCallbackGauge(const std::string& name,
                                const std::string& help,
                                std::function<double()> callback) {
  std::lock_guard lock(mu_);
  GetOrAdd(name, help, kCallbackGauge, {}, {}).callback = std::move(callback);
}

void Registry::AddCallbackGaugeFamily(
    const std::string& name,
    const std::string& help,
    std::vector<std::string> label_names,
    std::function<std::vector<LabeledValue>()> callback) {
  std::lock_guard lock(mu_);
  GetOrAdd(name, help, kCallbackGaugeFamily, label_names, {}).family_callback =
      std::move(callback);
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& entry : entries_) {
    const Entry& e = *entry;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n",
                       e.name,
                       EscapeHelp(e.help),
                       e.name,
                       KindName(e.kind));
    switch (e.kind) {
      case kCounter:
        e.counters->ForEach(
            [&](const std::vector<std::string>& values, const Counter& c) {
              out += fmt::format("{}{} {}\n",
                                 e.name,
                                 LabelSet(e.label_names, values),
                                 FormatValue(c.Value()));
            });
        break;
      case kGauge:
        e.gauges->ForEach([&](const std::vector<std::string>& values, const Gauge& g) {
          out += fmt::format("{}{} {}\n",
                             e.name,
                             LabelSet(e.label_names, values),
                             FormatValue(g.Value()));
        });
        break;
      case kHistogram:
        e.histograms->ForEach(
            [&](const std::vector<std::string>& values, const Histogram& h) {
              const Histogram::Snapshot s = h.Snap();
              for (size_t i = 0; i <= s.upper_bounds.size(); ++i) {
                const std::string le =
                    i < s.upper_bounds.size() ? FormatValue(s.upper_bounds[i]) : "+Inf";
                out += fmt::format("{}_bucket{} {}\n",
                                   e.name,
                                   LabelSet(e.label_names, values, le),
                                   s.cumulative[i]);
              }
              const std::string labels = LabelSet(e.label_names, values);
              out += fmt::format("{}_sum{} {}\n", e.name, labels, FormatValue(s.sum));
              out += fmt::format("{}_count{} {}\n", e.name, labels, s.count);
            });
        break;
      case kCallbackGauge:
        if (e.callback) {
          out += fmt::format("{} {}\n", e.name, FormatValue(e.callback()));
        }
        break;
      case kCallbackGaugeFamily:
        if (e.family_callback) {
          for (const LabeledValue& sample : e.family_callback()) {
            if (sample.label_values.size() != e.label_names.size()) {
              continue;  // a malformed sample would make the whole scrape unparsable
            }
            out += fmt::format("{}{} {}\n",
                               e.name,
                               LabelSet(e.label_names, sample.label_values),
                               FormatValue(sample.value));
          }
        }
        break;
      default:
        break;
    }
  }
  return out;
}

}  // namespace tp::metrics
