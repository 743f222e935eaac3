// wal_crash_writer: the child process of the crash test (and the "running broker" of
// the walctl process tests). Opens the log with sync=always and appends synced batches
// of 1..50 records from several threads until killed or until --max-seconds pass.
// After every acknowledged append it writes "partition first count\n" to stdout in one
// write(2), so a parent that SIGKILLs it knows exactly which records were acked.
//
// Records are verifiable (crash_payload.h): thread t owns the partitions p with
// p % threads == t and writes the deterministic record of (p, offset) at each offset;
// every thread also appends to the shared partition. Exit status: 0 after
// --max-seconds; 3 the log assigned an unexpected offset; 4 an append failed; 2 usage.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include "crash_payload.h"
#include "wal/store.h"

namespace tp::wal::crashtest {
namespace {

struct Flags {
  std::string dir;
  uint32_t run = 0;
  uint32_t threads = 3;
  uint64_t seed = 1;
  double max_seconds = 20;
  // Pause between appends of one thread (0: none): the walctl tests use a slow writer.
  uint32_t pause_ms = 0;
  // Created once the log is open, so a parent can time its kill from the first append.
  std::string ready_file;
};

std::mutex stdout_mu;

void Ack(uint32_t partition, uint64_t first, uint32_t count) {
  const std::string line = std::to_string(partition) + " " + std::to_string(first) + " " +
                           std::to_string(count) + "\n";
  std::lock_guard lock(stdout_mu);
  if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    std::_Exit(5);  // the parent is gone
}

[[noreturn]] void Fail(int code, const std::string& message) {
  std::fprintf(stderr, "wal_crash_writer: %s\n", message.c_str());
  std::fflush(stderr);
  std::_Exit(code);
}

void WriterThread(Store& store,
                  const Flags& flags,
                  uint32_t thread,
                  std::chrono::steady_clock::time_point deadline) {
  std::mt19937_64 rng(flags.seed * 1000003 + thread * 7919 + flags.run);
  std::vector<uint32_t> owned;
  std::vector<uint64_t> next;  // next offset of each owned partition
  for (uint32_t p = 0; p < kOwnedPartitions; ++p) {
    if (p % flags.threads != thread)
      continue;
    owned.push_back(p);
    auto stats = store.Stats({kTopic, PartitionId(p)});
    if (stats.ok()) {
      next.push_back(stats->next.value());
    } else if (stats.status().code() == StatusCode::kNotFound) {
      next.push_back(0);
    } else {
      Fail(4,
           "stats of partition " + std::to_string(p) + ": " + stats.status().ToString());
    }
  }
  uint64_t shared_batch = 0;
  // Bounded by the deadline (and by the parent's SIGKILL).
  while (std::chrono::steady_clock::now() < deadline) {
    const uint32_t count = static_cast<uint32_t>(rng() % 50) + 1;
    const bool shared = owned.empty() || rng() % 4 == 0;
    const size_t slot = shared ? 0 : rng() % owned.size();
    const uint32_t partition = shared ? kSharedPartition : owned[slot];
    std::vector<std::string> payloads;
    std::vector<Uuid> uuids;
    std::vector<std::string> keys;
    std::vector<std::vector<Header>> headers;
    for (uint32_t i = 0; i < count; ++i) {
      if (shared) {
        payloads.push_back(SharedPayload({flags.run, thread, shared_batch, i, count}));
        uuids.push_back(Uuid::NewV7());
        keys.emplace_back("shared");
        headers.emplace_back();
      } else {
        const uint64_t offset = next[slot] + i;
        payloads.push_back(OwnedPayload(partition, offset));
        uuids.push_back(OwnedUuid(partition, offset));
        keys.push_back(OwnedKey(partition, offset));
        headers.push_back({{"offset", OwnedHeaderValue(offset)}});
      }
    }
    std::vector<RecordInput> inputs;
    for (uint32_t i = 0; i < count; ++i)
      inputs.push_back({uuids[i], keys[i], payloads[i], headers[i]});
    auto result = store.Append({kTopic, PartitionId(partition)}, inputs);
    if (!result.ok()) {
      Fail(4,
           "append to partition " + std::to_string(partition) + ": " +
               result.status().ToString());
    }
    if (shared) {
      ++shared_batch;
    } else {
      if (result->first.value() != next[slot] || result->count != count) {
        Fail(3,
             "partition " + std::to_string(partition) + ": expected offset " +
                 std::to_string(next[slot]) + ", log assigned " +
                 std::to_string(result->first.value()));
      }
      next[slot] += count;
    }
    Ack(partition, result->first.value(), count);
    if (flags.pause_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(flags.pause_ms));
  }
}

int Main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"Crash-test writer: appends verifiable records until killed"};
  app.add_option("--dir", flags.dir, "Log directory")->required();
  app.add_option("--run", flags.run, "Run number, recorded in shared payloads");
  app.add_option("--threads", flags.threads, "Writer threads")->check(CLI::Range(1, 16));
  app.add_option("--seed", flags.seed, "Random seed");
  app.add_option("--max-seconds", flags.max_seconds, "Exit after this long");
  app.add_option("--pause-ms", flags.pause_ms, "Pause after each append");
  app.add_option("--ready-file", flags.ready_file, "Created once the log is open");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  Options options;
  options.sync = SyncPolicy::kAlways;
  options.maintenance_interval = std::chrono::milliseconds(0);  // never trim
  auto store = Store::Open(options, flags.dir);
  if (!store.ok())
    Fail(4, "open " + flags.dir + ": " + store.status().ToString());
  if (!flags.ready_file.empty() && !std::ofstream(flags.ready_file).put('\n'))
    Fail(4, "cannot create " + flags.ready_file);
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(flags.max_seconds * 1000));
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < flags.threads; ++t) {
    threads.emplace_back([&, t] { WriterThread(**store, flags, t, deadline); });
  }
  for (auto& t : threads)
    t.join();
  return 0;
}

}  // namespace
}  // namespace tp::wal::crashtest

int main(int argc, char** argv) {
  return tp::wal::crashtest::Main(argc, argv);
}
