// Append throughput of the log next to raw RocksDB writes of the same bytes, in one run.
//
// Every configuration (batch size 1/100/1000, sync on/off, 1/4 threads) runs twice: once
// through tp::wal::Store::Append and once as a plain rocksdb::WriteBatch of the same
// key shape and the same stored bytes per record (the log's envelope, msg_uuid, key and
// publish time included) on a database with the same options (wal::ApplyRecordsTuning,
// the log's own engine configuration). The closing
// table prints records/s of both and their ratio, plus the group-commit gain (4 synced
// threads with batch 1 against 1 synced thread with batch 1). Absolute rates on a shared
// disk swing a lot; the ratios are the figures to compare.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
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

tp::TempDir& BenchDir() {
  static tp::TempDir dir = std::move(tp::TempDir::Make("wal-bench-").value());
  return dir;
}

// Stores live for the whole run, one per configuration, shared by that config's threads.
std::mutex stores_mu;
std::map<std::string, std::unique_ptr<tp::wal::Store>> wal_stores;
std::map<std::string, std::unique_ptr<rocksdb::DB>> raw_dbs;

tp::wal::Store& WalStore(bool sync) {
  std::lock_guard lock(stores_mu);
  const std::string name = sync ? "wal-sync" : "wal-nosync";
  auto& slot = wal_stores[name];
  if (!slot) {
    tp::wal::Options options;
    options.sync = sync ? tp::wal::SyncPolicy::kAlways : tp::wal::SyncPolicy::kNone;
    options.maintenance_interval = std::chrono::milliseconds(0);
    slot = std::move(tp::wal::Store::Open(options, BenchDir().path() / name).value());
  }
  return *slot;
}

rocksdb::DB& RawDb(bool sync) {
  std::lock_guard lock(stores_mu);
  const std::string name = sync ? "raw-sync" : "raw-nosync";
  auto& slot = raw_dbs[name];
  if (!slot) {
    rocksdb::Options options;
    tp::wal::ApplyRecordsTuning(&options, &options);  // as the log's records family
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    auto s = rocksdb::DB::Open(options, (BenchDir().path() / name).string(), &db);
    if (!s.ok())
      std::abort();
    slot.reset(db);
  }
  return *slot;
}

// What the log stores for one kTelemetryRow record, so raw writes carry the same bytes.
const std::string& StoredValue() {
  static const std::string value = [] {
    tp::wal::Store& store = WalStore(false);
    const tp::wal::TopicPartition probe{"probe", tp::wal::PartitionId(0)};
    const tp::wal::RecordInput record{tp::Uuid::NewV7(), kKey, kTelemetryRow, {}};
    auto appended = store.Append(probe, std::span(&record, 1));
    auto read = store.Read(probe, appended.value().first);
    std::string padded(kTelemetryRow);
    padded.resize(read.value().at(0).stored_bytes, ' ');
    return padded;
  }();
  return value;
}

void AppendBatch(benchmark::State& state, bool sync) {
  const auto batch = static_cast<size_t>(state.range(0));
  tp::wal::Store& store = WalStore(sync);
  const tp::wal::TopicPartition tp{
      "telemetry", tp::wal::PartitionId(state.thread_index() % kPartitions)};
  std::vector<tp::wal::RecordInput> records(batch);
  for (auto& r : records)
    r = {tp::Uuid::NewV7(), kKey, kTelemetryRow, {}};
  for (auto _ : state) {
    auto result = store.Append(tp, records);
    if (!result.ok()) {
      state.SkipWithError(result.status().ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * batch * kTelemetryRow.size()));
}

void RawWriteBatch(benchmark::State& state, bool sync) {
  const auto batch = static_cast<size_t>(state.range(0));
  rocksdb::DB& db = RawDb(sync);
  const std::string& value = StoredValue();
  rocksdb::WriteOptions wo;
  wo.sync = sync;
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
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * batch * kTelemetryRow.size()));
}

void WalSync(benchmark::State& s) {
  AppendBatch(s, true);
}
void WalNoSync(benchmark::State& s) {
  AppendBatch(s, false);
}
void RawSync(benchmark::State& s) {
  RawWriteBatch(s, true);
}
void RawNoSync(benchmark::State& s) {
  RawWriteBatch(s, false);
}

// Each wal configuration runs right before its raw twin, so both see the same machine
// load; with repetitions the summary uses the medians.
void RegisterInterleaved() {
  for (bool sync : {true, false}) {
    for (int batch : {1, 100, 1000}) {
      for (int threads : {1, 4}) {
        const std::string s = sync ? "Sync" : "NoSync";
        benchmark::RegisterBenchmark(("Wal" + s).c_str(), sync ? WalSync : WalNoSync)
            ->Arg(batch)
            ->Threads(threads)
            ->UseRealTime();
        benchmark::RegisterBenchmark(("Raw" + s).c_str(), sync ? RawSync : RawNoSync)
            ->Arg(batch)
            ->Threads(threads)
            ->UseRealTime();
      }
    }
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
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintSummary();
  wal_stores.clear();
  raw_dbs.clear();
  benchmark::Shutdown();
  return 0;
}
