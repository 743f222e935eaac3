// Append throughput of the log next to raw RocksDB writes of the same bytes, in one run.
//
// Every configuration (batch size 1/100/1000, sync on/off, 1/4 threads) runs twice: once
// through tp::wal::Store::Append and once as a plain rocksdb::WriteBatch of the same
// key shape and the same stored bytes per record (the log's envelope, msg_uuid, key and
// publish time included) on a database with the same options (wal::ApplyRecordsTuning,
// the log's own engine configuration). The closing table prints records/s of both and
// their ratio, plus the group-commit gain against 1 blocking synced thread with batch 1:
// of 4 blocking threads (at most 4x: a group can hold one append per thread), and of 1
// and 4 threads that keep appends in flight through AppendAsync, as the broker does.
// Absolute rates on a shared disk swing a lot; the ratios are the figures to compare.
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "tp/temp_dir.h"
#include "wal/rocksdb_tuning.h"
#include "wal/store.h"

namespace {

// One message as a streamer publishes it: a row of the real DCGM export.
constexpr std::string_view kTelemetryRow =
    R"({"timestamp":"2025-07-18T20:42:34.000000Z","metric_name":"DCGM_FI_DEV_GPU_UTIL",)"
    R"("gpu_id":"0","device":"nvidia0","uuid":"GPU-5fd4f087-86f3-7a43-b711-4771313afc50",)"
    R"("model_name":"NVIDIA H100 80GB HBM3","hostname":"mtv5-dgx1-hgpu-031","container":"",)"
    R"("pod":"","namespace":"","value":0,"labels_raw":"DCGM_FI_DRIVER_VERSION=\"535.129.03\",)"
    R"(Hostname=\"mtv5-dgx1-hgpu-031\",UUID=\"GPU-5fd4f087-86f3-7a43-b711-4771313afc50\",)"
    R"(__name__=\"DCGM_FI_DEV_GPU_UTIL\",device=\"nvidia0\",gpu=\"0\",)"
    R"(instance=\"mtv5-dgx1-hgpu-031:9400\",job=\"dgx_dcgm_exporter\",)"
    R"(modelName=\"NVIDIA H100 80GB HBM3\""})";
constexpr std::string_view kKey = "GPU-5fd4f087-86f3-7a43-b711-4771313afc50";
constexpr uint32_t kPartitions = 16;

// Every benchmark run (each repetition, each trial of an iteration count) writes into a
// store or database of its own, created empty by its Setup and closed by its Teardown,
// which waits for the flushes and compactions it caused. A run so pays for its own
// background work and for none of the configuration that ran before it.
struct RunTarget {
  std::optional<tp::TempDir> dir;
  std::unique_ptr<tp::wal::Store> wal;
  std::unique_ptr<rocksdb::DB> raw;
};
RunTarget current;

std::unique_ptr<tp::wal::Store> OpenWal(const std::filesystem::path& dir, bool sync) {
  tp::wal::Options options;
  options.sync = sync ? tp::wal::SyncPolicy::kAlways : tp::wal::SyncPolicy::kNone;
  options.maintenance_interval = std::chrono::milliseconds(0);
  auto store = tp::wal::Store::Open(options, dir);
  if (!store.ok()) {
    std::fprintf(stderr, "open log: %s\n", store.status().ToString().c_str());
    std::abort();
  }
  return std::move(store).value();
}

std::unique_ptr<rocksdb::DB> OpenRaw(const std::filesystem::path& dir) {
  rocksdb::Options options;
  tp::wal::ApplyRecordsTuning(&options, &options);  // as the log's records family
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  auto s = rocksdb::DB::Open(options, dir.string(), &db);
  if (!s.ok()) {
    std::fprintf(stderr, "open raw RocksDB: %s\n", s.ToString().c_str());
    std::abort();
  }
  return std::unique_ptr<rocksdb::DB>(db);
}

const std::filesystem::path& FreshRunDir() {
  current.dir.emplace(std::move(tp::TempDir::Make("wal-bench-").value()));
  return current.dir->path();
}

template <bool kSync>
void SetupWalRun(const benchmark::State&) {
  current.wal = OpenWal(FreshRunDir(), kSync);
}

void SetupRawRun(const benchmark::State&) {
  current.raw = OpenRaw(FreshRunDir());
}

void TeardownRun(const benchmark::State&) {
  current.wal.reset();
  current.raw.reset();
  current.dir.reset();
}

// What the log stores for one kTelemetryRow record, so raw writes carry the same bytes.
const std::string& StoredValue() {
  static const std::string value = [] {
    tp::TempDir dir = std::move(tp::TempDir::Make("wal-bench-probe-").value());
    auto store = OpenWal(dir.path(), false);
    const tp::wal::TopicPartition probe{"probe", tp::wal::PartitionId(0)};
    const tp::wal::RecordInput record{tp::Uuid::NewV7(), kKey, kTelemetryRow, {}};
    auto appended = store->Append(probe, std::span(&record, 1));
    auto read = store->Read(probe, appended.value().first);
    std::string padded(kTelemetryRow);
    padded.resize(read.value().at(0).stored_bytes, ' ');
    return padded;
  }();
  return value;
}

void SetThroughput(benchmark::State& state, int64_t records) {
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(records * static_cast<int64_t>(kTelemetryRow.size()));
}

std::vector<tp::wal::RecordInput> Records(size_t count) {
  std::vector<tp::wal::RecordInput> records(count);
  for (auto& r : records)
    r = {tp::Uuid::NewV7(), kKey, kTelemetryRow, {}};
  return records;
}

tp::wal::TopicPartition ThreadPartition(const benchmark::State& state) {
  return {"telemetry", tp::wal::PartitionId(state.thread_index() % kPartitions)};
}

// Blocking appends: each thread waits for its append before it sends the next.
void WalAppend(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  tp::wal::Store& store = *current.wal;
  const tp::wal::TopicPartition tp = ThreadPartition(state);
  const auto records = Records(batch);
  for (auto _ : state) {
    auto result = store.Append(tp, records);
    if (!result.ok()) {
      state.SkipWithError(result.status().ToString().c_str());
      break;
    }
  }
  SetThroughput(state, static_cast<int64_t>(state.iterations() * batch));
}

// Pipelined appends, as the broker issues them: each thread keeps up to range(1) appends
// of range(0) records in flight through AppendAsync and sends the next as soon as one
// completes. Only appends completed inside the timed loop are counted.
void WalAppendInFlight(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  const auto depth = state.range(1);
  tp::wal::Store& store = *current.wal;
  const tp::wal::TopicPartition tp = ThreadPartition(state);
  const auto records = Records(batch);
  std::mutex mu;
  std::condition_variable cv;
  int64_t in_flight = 0;
  std::atomic<int64_t> completed{0};
  std::optional<tp::Status> failure;
  for (auto _ : state) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < depth || failure; });
      if (failure) {
        state.SkipWithError(failure->ToString().c_str());
        break;
      }
      ++in_flight;
    }
    store.AppendAsync(tp, records, [&](tp::Result<tp::wal::AppendResult> result) {
      std::lock_guard lock(mu);
      if (result.ok())
        completed.fetch_add(1, std::memory_order_relaxed);
      else if (!failure)
        failure = result.status();
      --in_flight;
      cv.notify_one();
    });
  }
  const int64_t done_in_time = completed.load(std::memory_order_relaxed);
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return in_flight == 0; });  // callbacks refer to this frame
  SetThroughput(state, done_in_time * static_cast<int64_t>(batch));
}

template <bool kSync>
void RawWriteBatch(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  rocksdb::DB& db = *current.raw;
  const std::string& value = StoredValue();
  rocksdb::WriteOptions wo;
  wo.sync = kSync;
  // Same key shape as the log's: prefix, partition, big-endian offset.
  std::string key(17, '\0');
  key[0] = 'r';
  key[8] = static_cast<char>(state.thread_index());
  uint64_t offset = 0;
  for (auto _ : state) {
    rocksdb::WriteBatch wb;
    for (size_t i = 0; i < batch; ++i, ++offset) {
      for (int b = 0; b < 8; ++b)
        key[9 + b] = static_cast<char>(offset >> (56 - 8 * b));
      wb.Put(key, value);
    }
    auto s = db.Write(wo, &wb);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  SetThroughput(state, static_cast<int64_t>(state.iterations() * batch));
}

constexpr int64_t kInFlightPerThread = 16;

// Each wal configuration runs right before its raw twin, so both see the same machine
// load; with repetitions the summary uses the medians.
void RegisterInterleaved() {
  for (bool sync : {true, false}) {
    const std::string s = sync ? "Sync" : "NoSync";
    for (int batch : {1, 100, 1000}) {
      for (int threads : {1, 4}) {
        benchmark::RegisterBenchmark(("Wal" + s).c_str(), WalAppend)
            ->Setup(sync ? SetupWalRun<true> : SetupWalRun<false>)
            ->Teardown(TeardownRun)
            ->Arg(batch)
            ->Threads(threads)
            ->UseRealTime();
        benchmark::RegisterBenchmark(("Raw" + s).c_str(),
                                     sync ? RawWriteBatch<true> : RawWriteBatch<false>)
            ->Setup(SetupRawRun)
            ->Teardown(TeardownRun)
            ->Arg(batch)
            ->Threads(threads)
            ->UseRealTime();
      }
    }
  }
  for (int threads : {1, 4}) {
    benchmark::RegisterBenchmark("WalSyncInFlight", WalAppendInFlight)
        ->Setup(SetupWalRun<true>)
        ->Teardown(TeardownRun)
        ->Args({1, kInFlightPerThread})
        ->Threads(threads)
        ->UseRealTime();
  }
}

// Collects records/s per benchmark name to print the ratio table at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred)
        continue;
      const bool median =
          run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type != Run::RT_Iteration && !median)
        continue;
      auto it = run.counters.find("items_per_second");
      if (it != run.counters.end())
        rates_[run.run_name.function_name + "/" + run.run_name.args + "/" +
               run.run_name.threads] = it->second.value;
    }
  }

  void PrintSummary() const {
    std::printf("\n%-28s %14s %14s %8s\n",
                "config (batch/threads)",
                "wal rec/s",
                "raw rec/s",
                "wal/raw");
    for (const char* sync : {"Sync", "NoSync"}) {
      for (int batch : {1, 100, 1000}) {
        for (int threads : {1, 4}) {
          const std::string suffix =
              "/" + std::to_string(batch) + "/threads:" + std::to_string(threads);
          const double wal = Rate(std::string("Wal") + sync + suffix);
          const double raw = Rate(std::string("Raw") + sync + suffix);
          std::printf("%-28s %14.0f %14.0f %8.2f\n",
                      (std::string(sync) + " b" + std::to_string(batch) + " t" +
                       std::to_string(threads))
                          .c_str(),
                      wal,
                      raw,
                      raw > 0 ? wal / raw : 0.0);
        }
      }
    }
    const double single = Rate("WalSync/1/threads:1");
    const double four = Rate("WalSync/1/threads:4");
    const double raw_single = Rate("RawSync/1/threads:1");
    const double raw_four = Rate("RawSync/1/threads:4");
    std::printf(
        "\ngroup commit gain (wal, sync, batch 1): 4 threads / 1 thread = %.2fx"
        " (raw RocksDB write group: %.2fx)\n",
        single > 0 ? four / single : 0.0,
        raw_single > 0 ? raw_four / raw_single : 0.0);
    const std::string depth = std::to_string(kInFlightPerThread);
    for (int threads : {1, 4}) {
      const double in_flight =
          Rate("WalSyncInFlight/1/" + depth + "/threads:" + std::to_string(threads));
      std::printf(
          "group commit gain (wal, sync, batch 1): %d thread%s x %s appends in flight"
          " / 1 blocking thread = %.2fx\n",
          threads,
          threads == 1 ? "" : "s",
          depth.c_str(),
          single > 0 ? in_flight / single : 0.0);
    }
  }

 private:
  double Rate(const std::string& name) const {
    auto it = rates_.find(name);
    return it == rates_.end() ? 0.0 : it->second;
  }
  std::map<std::string, double> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  RegisterInterleaved();
  // Defaults that make the ratios hold still on a shared machine: repetitions of every
  // configuration in random order, so a wal run and its raw twin see the same spread of
  // machine load, and medians in the summary. Flags given on the command line come later
  // and win.
  std::vector<char*> args{argv[0]};
  std::string repetitions = "--benchmark_repetitions=9";
  std::string interleaving = "--benchmark_enable_random_interleaving=true";
  std::string min_time = "--benchmark_min_time=0.2";
  args.insert(args.end(), {repetitions.data(), interleaving.data(), min_time.data()});
  args.insert(args.end(), argv + 1, argv + argc);
  int args_count = static_cast<int>(args.size());
  benchmark::Initialize(&args_count, args.data());
  if (benchmark::ReportUnrecognizedArguments(args_count, args.data()))
    return 1;
  StoredValue();  // outside any timed run
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintSummary();
  benchmark::Shutdown();
  return 0;
}
