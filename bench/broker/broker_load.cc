// broker_load: load generator for the broker, with the baselines its goals are ratios of,
// all measured in one run on one disk (absolute rates on a shared disk swing 3x).
//
// Message bodies are real rows of the shipped DCGM CSV (see messages.h). Each phase is
// bounded by --count messages and --seconds, whichever comes first; every broker phase
// gets a fresh `broker standalone --sync always` child on a free 127.0.0.1 port and a
// fresh data directory under $TMPDIR. Phases, in order:
//   wal ceiling       tp::wal::Store, sync always, --publishers threads x --batch records
//   [wal split]       the same batches split by partition, one multi-partition append
//                     each, as the broker writes them
//   (a) publish       --publishers Publishers x --batch messages per request
//   rocksdb put       one thread, one synced rocksdb Put per message
//   [wal 1-record]    --connections threads appending one record each
//   (b) publish       --connections keep-alive connections x 1 message per request
//   (c) publish+lease --publishers x --batch, with --consumers leasing and acking
//                     --lease-batch at a time (publish-to-lease latency from the
//                     payload's timestamp)
// ([..]: diagnostics, --no-diagnostics leaves them out.) The goals, as ratios:
//   (a) / wal ceiling >= 0.70; (b) / rocksdb put >= 3; (c) lease+ack keeps up with
//   publish: every published message acked, at >= 0.90 of the publish rate.
// --rounds N repeats the sequence and judges the median ratio. --partitions and
// --sync none exist to find where time goes; the goals are defined for the defaults.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "baselines.h"
#include "broker_process.h"
#include "load_stats.h"
#include "messages.h"
#include "scenarios.h"
#include "tp/log.h"
#include "tp/temp_dir.h"
#include "tp/testing/testing.h"

namespace {

using tp::bench::PhaseResult;

struct Flags {
  double seconds = 10;
  uint64_t count = 500'000;
  double warmup_seconds = 1;
  std::string csv;
  std::string broker;
  int publishers = 4;
  std::size_t batch = 100;
  int connections = 32;
  // As many consumers as publishers: with 2, lease+ack reached 0.75 of a publish rate
  // of ~50k msgs/s on 2 cores (docs/BENCHMARKS.md).
  int consumers = 4;
  std::size_t lease_batch = 100;
  std::vector<std::string> scenarios = {"a", "b", "c"};
  int rounds = 1;
  bool diagnostics = true;
  int broker_threads = 0;
  uint32_t partitions = 256;
  std::string sync = "always";
  std::string json;
};

struct Goal {
  std::string id;
  std::string text;
  double target = 0;
  std::vector<double> ratios;  // one per round
  std::vector<std::string> notes;
  bool conditions_met = true;  // besides the ratio (lease+ack: everything acked)
  double ratio = 0;            // median of `ratios`
  bool pass = false;
};

bool Selected(const Flags& flags, const std::string& scenario) {
  for (const auto& s : flags.scenarios) {
    if (s == scenario)
      return true;
  }
  return false;
}

class Run {
 public:
  Run(const Flags& flags, const tp::bench::MessageBodies& bodies, tp::TempDir root)
      : flags_(flags), bodies_(bodies), root_(std::move(root)) {
    budget_.count = flags.count;
    budget_.duration =
        std::chrono::milliseconds(static_cast<int64_t>(flags.seconds * 1000));
    budget_.warmup =
        std::chrono::milliseconds(static_cast<int64_t>(flags.warmup_seconds * 1000));
  }

  const std::vector<PhaseResult>& phases() const { return phases_; }
  void set_round(int round) { round_ = round; }

  tp::Status Wal(const std::string& id,
                 const std::string& label,
                 tp::bench::WalLoad load) {
    Progress(label);
    const auto dir = PhaseDir(id);
    auto r = tp::bench::RunWalAppend(load, bodies_, budget_, dir);
    Settle(dir);
    if (!r.ok())
      return r.status().WithContext(label);
    Add(id, label, std::move(r).value());
    return tp::Status::Ok();
  }

  tp::Status RocksDb(const std::string& id, const std::string& label) {
    Progress(label);
    const auto dir = PhaseDir(id);
    auto r = tp::bench::RunRocksDbPuts(bodies_, budget_, dir, flags_.sync == "always");
    Settle(dir);
    if (!r.ok())
      return r.status().WithContext(label);
    Add(id, label, std::move(r).value());
    return tp::Status::Ok();
  }

  tp::Status Broker(const std::string& id,
                    const std::string& label,
                    const tp::bench::PublishLoad& publish,
                    const tp::bench::ConsumeLoad& consume,
                    const std::string& consume_label) {
    Progress(label);
    const auto dir = PhaseDir(id);
    tp::bench::BrokerProcessOptions options;
    options.binary = flags_.broker;
    options.data_dir = dir / "data";
    options.stderr_file = dir / "broker.log";
    options.topics = fmt::format(
        "{}:{},{}:1", tp::bench::kTopic, flags_.partitions, tp::bench::kWarmupTopic);
    options.sync = flags_.sync;
    options.threads = flags_.broker_threads;
    std::filesystem::create_directories(dir);
    auto broker = tp::bench::BrokerProcess::Start(options);
    if (!broker.ok())
      return broker.status().WithContext(label);
    auto r = tp::bench::RunBrokerScenario(**broker, publish, consume, bodies_, budget_);
    (*broker)->Stop();
    std::string log;
    {
      std::ifstream in(options.stderr_file);
      log.assign(std::istreambuf_iterator<char>(in), {});
    }
    Settle(dir);
    if (!r.ok()) {
      return r.status().WithContext(label + " (broker log: " + log.substr(0, 2000) + ")");
    }
    Add(id, label, std::move(r->publish));
    if (r->consume)
      Add("lease_ack", consume_label, std::move(*r->consume));
    return tp::Status::Ok();
  }

  const PhaseResult* Find(const std::string& id, int round) const {
    for (const auto& p : phases_) {
      if (p.id == id && p.round == round)
        return &p;
    }
    return nullptr;
  }

 private:
  std::filesystem::path PhaseDir(const std::string& id) const {
    return root_.path() / id;
  }

  // Deletes a finished phase's files and waits for the disk to write that out, so the
  // next phase's fsyncs do not queue behind the journal work of this one's cleanup.
  static void Settle(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    ::sync();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }

  static void Progress(const std::string& label) {
    std::fprintf(stderr, "running: %s\n", label.c_str());
  }

  void Add(const std::string& id, const std::string& label, PhaseResult r) {
    r.id = id;
    r.label = label;
    r.round = round_;
    phases_.push_back(std::move(r));
  }

  const Flags& flags_;
  const tp::bench::MessageBodies& bodies_;
  tp::TempDir root_;
  tp::bench::Budget budget_;
  int round_ = 1;
  std::vector<PhaseResult> phases_;
};

// The goals of one round (one ratio each).
std::vector<Goal> RoundGoals(const Run& run, const Flags& flags, int round) {
  std::vector<Goal> goals;
  auto ratio = [](const PhaseResult* a, const PhaseResult* b) {
    return a && b && b->rate() > 0 ? a->rate() / b->rate() : 0.0;
  };
  if (const auto* a = run.Find("publish_batch", round),
      *wal = run.Find("wal_ceiling", round);
      a && wal) {
    Goal g;
    g.id = "publish_batch_vs_wal_ceiling";
    g.text = fmt::format("(a) publish {} x batch {} / wal ceiling {} x batch {}",
                         flags.publishers,
                         flags.batch,
                         flags.publishers,
                         flags.batch);
    g.ratios = {ratio(a, wal)};
    g.target = 0.70;
    goals.push_back(g);
  }
  if (const auto* b = run.Find("publish_single", round),
      *put = run.Find("rocksdb_put", round);
      b && put) {
    Goal g;
    g.id = "publish_single_vs_rocksdb_put";
    g.text = fmt::format("(b) publish {} conns x 1 msg / 1 thread synced Put",
                         flags.connections);
    g.ratios = {ratio(b, put)};
    g.target = 3.0;
    goals.push_back(g);
  }
  if (const auto* c = run.Find("lease_ack", round),
      *p = run.Find("publish_with_consumers", round);
      c && p) {
    Goal g;
    g.id = "lease_ack_vs_publish";
    g.text = fmt::format("(c) lease+ack {} x {} / publish {} x batch {}",
                         flags.consumers,
                         flags.lease_batch,
                         flags.publishers,
                         flags.batch);
    g.ratios = {ratio(c, p)};
    g.target = 0.90;
    g.conditions_met = c->messages >= p->messages;
    g.notes = {
        fmt::format("acked {} of {} published, backlog {} when publishing "
                    "stopped, drained {:.2f} s later",
                    c->messages,
                    p->messages,
                    c->backlog_at_publish_end,
                    c->drain_seconds)};
    goals.push_back(g);
  }
  return goals;
}

// Every round's goals merged: the verdict is on the median ratio over the rounds.
std::vector<Goal> Goals(const Run& run, const Flags& flags) {
  std::vector<Goal> goals;
  for (int round = 1; round <= flags.rounds; ++round) {
    for (Goal& g : RoundGoals(run, flags, round)) {
      auto it = std::find_if(
          goals.begin(), goals.end(), [&](const Goal& x) { return x.id == g.id; });
      if (it == goals.end()) {
        goals.push_back(std::move(g));
        continue;
      }
      it->ratios.push_back(g.ratios.front());
      it->notes.insert(it->notes.end(), g.notes.begin(), g.notes.end());
      it->conditions_met = it->conditions_met && g.conditions_met;
    }
  }
  for (Goal& g : goals) {
    std::vector<double> sorted = g.ratios;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t n = sorted.size();
    g.ratio = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    g.pass = g.conditions_met && g.ratio >= g.target;
  }
  return goals;
}

std::string Label(const PhaseResult& p, int rounds) {
  return rounds > 1 ? fmt::format("[{}] {}", p.round, p.label) : p.label;
}

void PrintReport(const std::vector<PhaseResult>& phases,
                 const std::vector<Goal>& goals,
                 int rounds) {
  fmt::print("\n{:<54} {:>9} {:>7} {:>10} {:>9} {:>9} {:>6}\n",
             "phase",
             "msgs",
             "s",
             "msgs/s",
             "p50 ms",
             "p99 ms",
             "errors");
  for (const auto& p : phases) {
    fmt::print("{:<54} {:>9} {:>7.2f} {:>10.0f} {:>9.2f} {:>9.2f} {:>6}\n",
               Label(p, rounds),
               p.messages,
               p.seconds,
               p.rate(),
               p.latency.p50_ms,
               p.latency.p99_ms,
               p.errors);
  }
  fmt::print(
      "(latency: per append, Put or publish request; for lease+ack: publish-to-lease "
      "per message)\n");

  fmt::print(
      "\nwhere the time goes (means per request; cpu as % of one core and as us per "
      "message;\nconns: broker connections open at the end, the /metrics scrape "
      "included;\nwal writer: % of the phase it ran / was runnable but waited for a "
      "core)\n");
  fmt::print(
      "{:<54} {:>9} {:>10} {:>9} {:>7} {:>5} {:>8} {:>8} {:>9} {:>9} {:>7} {:>11}\n",
      "phase",
      "client ms",
      "handler ms",
      "append ms",
      "parts/r",
      "conns",
      "broker %",
      "broker us",
      "loadgen %",
      "loadgen us",
      "retries",
      "writer %");
  for (const auto& p : phases) {
    const double s = p.seconds > 0 ? p.seconds : 1;
    const double n = p.messages > 0 ? static_cast<double>(p.messages) : 1;
    if (p.id == "lease_ack") {
      fmt::print(
          "{:<54} lease call p50 {:.2f} ms p99 {:.2f} ms, ack call p50 {:.2f} ms "
          "p99 {:.2f} ms, redelivered {}\n",
          Label(p, rounds),
          p.lease_call.p50_ms,
          p.lease_call.p99_ms,
          p.ack_call.p50_ms,
          p.ack_call.p99_ms,
          p.redelivered);
      continue;
    }
    const auto cell = [](bool has, double v, int precision) {
      return has ? fmt::format("{:.{}f}", v, precision) : std::string("-");
    };
    const bool b = p.broker.has_value();
    const std::string writer = p.writer ? fmt::format("{:.0f}/{:.0f}",
                                                      100 * p.writer->cpu_share,
                                                      100 * p.writer->wait_share)
                                        : std::string("-");
    fmt::print(
        "{:<54} {:>9.2f} {:>10} {:>9} {:>7} {:>5} {:>8} {:>8} {:>9.0f} {:>9.1f} {:>7} "
        "{:>11}\n",
        Label(p, rounds),
        p.latency.mean_ms,
        cell(b, b ? p.broker->publish_handler_mean_ms : 0, 2),
        cell(true, b ? p.broker->append_mean_ms : p.latency.mean_ms, 2),
        cell(b, b ? p.broker->appends_per_request : 0, 1),
        cell(b, b ? p.broker->open_connections : 0, 0),
        cell(b, b ? 100 * p.broker->cpu_seconds / s : 0, 0),
        cell(b, b ? 1e6 * p.broker->cpu_seconds / n : 0, 1),
        100 * p.loadgen_cpu_seconds / s,
        1e6 * p.loadgen_cpu_seconds / n,
        b ? std::to_string(p.retries) : std::string("-"),
        writer);
  }

  fmt::print("\ngoals (ratios of figures from this run{})\n",
             rounds > 1 ? "; median over the rounds" : "");
  for (const auto& g : goals) {
    fmt::print("{:<62} = {:>6.2f}  (goal >= {:.2f})  {}\n",
               g.text,
               g.ratio,
               g.target,
               g.pass ? "PASS" : "MISS");
    if (g.ratios.size() > 1)
      fmt::print("    per round: {:.2f}\n", fmt::join(g.ratios, ", "));
    for (const auto& note : g.notes)
      fmt::print("    {}\n", note);
  }
}

nlohmann::json LatencyJson(const tp::bench::Latency& l) {
  return {{"samples", l.samples},
          {"p50_ms", l.p50_ms},
          {"p99_ms", l.p99_ms},
          {"mean_ms", l.mean_ms},
          {"max_ms", l.max_ms}};
}

nlohmann::json ReportJson(const std::string& command,
                          const Flags& flags,
                          const tp::bench::MessageBodies& bodies,
                          const std::string& load_start,
                          const std::string& load_end,
                          const std::vector<PhaseResult>& phases,
                          const std::vector<Goal>& goals) {
  nlohmann::json doc;
  doc["command"] = command;
  doc["load_average_start"] = load_start;
  doc["load_average_end"] = load_end;
  doc["csv"] = flags.csv;
  doc["rows"] = bodies.size();
  doc["mean_body_bytes"] = bodies.mean_bytes();
  doc["seconds"] = flags.seconds;
  doc["count"] = flags.count;
  doc["warmup_seconds"] = flags.warmup_seconds;
  doc["rounds"] = flags.rounds;
  doc["phases"] = nlohmann::json::array();
  for (const auto& p : phases) {
    nlohmann::json j = {{"id", p.id},
                        {"label", p.label},
                        {"round", p.round},
                        {"messages", p.messages},
                        {"seconds", p.seconds},
                        {"msgs_per_s", p.rate()},
                        {"requests", p.requests},
                        {"errors", p.errors},
                        {"retries", p.retries},
                        {"latency", LatencyJson(p.latency)},
                        {"loadgen_cpu_seconds", p.loadgen_cpu_seconds}};
    if (p.broker) {
      j["broker"] = {{"publish_handler_mean_ms", p.broker->publish_handler_mean_ms},
                     {"append_mean_ms", p.broker->append_mean_ms},
                     {"appends_per_request", p.broker->appends_per_request},
                     {"open_connections", p.broker->open_connections},
                     {"cpu_seconds", p.broker->cpu_seconds}};
    }
    if (p.writer) {
      j["wal_writer"] = {{"cpu_share", p.writer->cpu_share},
                         {"wait_share", p.writer->wait_share}};
    }
    if (p.id == "lease_ack") {
      j["redelivered"] = p.redelivered;
      j["backlog_at_publish_end"] = p.backlog_at_publish_end;
      j["drain_seconds"] = p.drain_seconds;
      j["lease_call"] = LatencyJson(p.lease_call);
      j["ack_call"] = LatencyJson(p.ack_call);
    }
    doc["phases"].push_back(std::move(j));
  }
  doc["goals"] = nlohmann::json::array();
  for (const auto& g : goals) {
    doc["goals"].push_back({{"id", g.id},
                            {"text", g.text},
                            {"ratio", g.ratio},
                            {"ratios", g.ratios},
                            {"target", g.target},
                            {"pass", g.pass},
                            {"notes", g.notes}});
  }
  return doc;
}

// One pass over the selected scenarios, each baseline right before the broker phase
// it is compared with.
tp::Status RunRound(Run& run, const Flags& flags) {
  tp::Status s;
  const std::string threads_shape =
      fmt::format("{} threads x batch {}", flags.publishers, flags.batch);
  const std::string publishers_shape =
      fmt::format("{} publishers x batch {}", flags.publishers, flags.batch);
  if (Selected(flags, "a")) {
    tp::bench::WalLoad load;
    load.threads = flags.publishers;
    load.batch = flags.batch;
    load.partitions = flags.partitions;
    load.sync = flags.sync == "always";
    if (s.ok())
      s = run.Wal("wal_ceiling", "wal ceiling: " + threads_shape, load);
    if (s.ok() && flags.diagnostics) {
      load.split_by_partition = true;
      s = run.Wal("wal_split", "  wal, split by partition: " + threads_shape, load);
    }
    if (s.ok()) {
      s = run.Broker("publish_batch",
                     "(a) publish: " + publishers_shape,
                     {flags.publishers, flags.batch},
                     {},
                     "");
    }
  }
  if (Selected(flags, "b")) {
    if (s.ok())
      s = run.RocksDb("rocksdb_put", "rocksdb: 1 thread x 1 synced Put per msg");
    if (s.ok() && flags.diagnostics) {
      tp::bench::WalLoad load;
      load.threads = flags.connections;
      load.batch = 1;
      load.split_by_partition = true;
      load.partitions = flags.partitions;
      load.sync = flags.sync == "always";
      s = run.Wal("wal_single",
                  fmt::format("  wal: {} threads x 1 record", flags.connections),
                  load);
    }
    if (s.ok()) {
      s = run.Broker("publish_single",
                     fmt::format("(b) publish: {} keep-alive conns x 1 msg/request",
                                 flags.connections),
                     {flags.connections, 1},
                     {},
                     "");
    }
  }
  if (Selected(flags, "c") && s.ok()) {
    s = run.Broker("publish_with_consumers",
                   "(c) publish: " + publishers_shape,
                   {flags.publishers, flags.batch},
                   {flags.consumers, flags.lease_batch},
                   fmt::format("(c) lease+ack: {} consumers x lease {}",
                               flags.consumers,
                               flags.lease_batch));
  }
  return s;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "Broker load generator: publish and lease+ack rates and latencies "
      "against the wal append ceiling and synced RocksDB Puts, in one run"};
  Flags flags;
  app.add_option("--seconds", flags.seconds, "Wall-clock bound of every phase")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  app.add_option("--warmup-seconds",
                 flags.warmup_seconds,
                 "Load before every phase's clock starts, not measured (at least one "
                 "batch per worker)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 60.0));
  app.add_option("--count", flags.count, "Message bound of every phase")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
  app.add_option("--csv", flags.csv, "DCGM CSV export (default: the shipped data/ file)");
  app.add_option("--broker", flags.broker, "broker binary (default: next to this one)");
  app.add_option("--publishers", flags.publishers, "Publishers in (a) and (c)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--batch", flags.batch, "Messages per publish request in (a) and (c)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  app.add_option("--connections", flags.connections, "Keep-alive connections in (b)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--consumers", flags.consumers, "Consumers in (c)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--lease-batch", flags.lease_batch, "Messages per lease in (c)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--scenarios", flags.scenarios, "Scenarios to run: a, b, c")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::IsMember({"a", "b", "c"}));
  app.add_option("--rounds",
                 flags.rounds,
                 "Repeat the whole sequence; goals use the median ratio over rounds")
      ->capture_default_str()
      ->check(CLI::Range(1, 20));
  app.add_flag("--diagnostics,!--no-diagnostics",
               flags.diagnostics,
               "Also run the wal as the broker drives it (split batches, 1-record "
               "appends)");
  app.add_option(
         "--broker-threads", flags.broker_threads, "broker --threads (0: default)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  app.add_option("--partitions",
                 flags.partitions,
                 "Partitions of the broker's topic (and of the split wal diagnostic)")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  app.add_option("--sync",
                 flags.sync,
                 "always, or none to see what fsync costs (the goals assume always)")
      ->capture_default_str()
      ->check(CLI::IsMember({"always", "none"}));
  app.add_option("--json", flags.json, "Also write the results as JSON to this file");
  CLI11_PARSE(app, argc, argv);
  tp::InitLogging({tp::LogFormat::kText, spdlog::level::warn});

  std::string command = "broker_load";
  for (int i = 1; i < argc; ++i)
    command += std::string(" ") + argv[i];
  if (flags.broker.empty())
    flags.broker = (tp::testing::BinDir() / "broker").string();
  if (flags.csv.empty()) {
    auto csv = tp::bench::FindShippedCsv(TP_SOURCE_DIR);
    if (!csv) {
      std::fprintf(
          stderr, "no data/dcgm_metrics_*.csv under %s; pass --csv\n", TP_SOURCE_DIR);
      return 2;
    }
    flags.csv = csv->string();
  }
  auto bodies = tp::bench::MessageBodies::Load(flags.csv);
  if (!bodies.ok()) {
    std::fprintf(stderr, "%s\n", bodies.status().ToString().c_str());
    return 2;
  }
  auto root = tp::TempDir::Make("broker-load-");
  if (!root.ok()) {
    std::fprintf(stderr, "%s\n", root.status().ToString().c_str());
    return 2;
  }

  const std::string load_start = tp::bench::LoadAverage();
  fmt::print("{}\n", command);
  fmt::print(
      "csv {} ({} rows, {:.0f} bytes per message), each phase <= {} messages and "
      "<= {} s after {} s of warm-up, broker standalone --sync {} with {} partitions\n",
      flags.csv,
      bodies->size(),
      bodies->mean_bytes(),
      flags.count,
      flags.seconds,
      flags.warmup_seconds,
      flags.sync,
      flags.partitions);
  fmt::print("load average at start: {}\n", load_start);
  std::fflush(stdout);

  Run run(flags, *bodies, std::move(root).value());
  tp::Status s;
  for (int round = 1; round <= flags.rounds && s.ok(); ++round) {
    run.set_round(round);
    s = RunRound(run, flags);
  }
  const std::string load_end = tp::bench::LoadAverage();
  const auto goals = Goals(run, flags);
  PrintReport(run.phases(), goals, flags.rounds);
  fmt::print("load average at end: {}\n", load_end);
  std::fflush(stdout);
  if (!flags.json.empty()) {
    std::ofstream out(flags.json);
    out << ReportJson(command, flags, *bodies, load_start, load_end, run.phases(), goals)
               .dump(2)
        << "\n";
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", flags.json.c_str());
      return 1;
    }
  }
  if (!s.ok()) {
    std::fprintf(stderr, "broker_load: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "broker_load: %s\n", e.what());
    return 1;
  }
}
