// An in-memory LogSource for reader tests: records per partition in a vector (offset =
// index), monotonic commits per (group, partition), dead letters kept in a list.
// Fetch long-polls on a condition variable like the real writer.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "broker/log_source.h"

namespace tp::broker::testing {

class FakeLogSource : public LogSource {
 public:
  explicit FakeLogSource(uint32_t partitions, std::string id = "fake")
      : id_(std::move(id)), partitions_(partitions), logs_(partitions) {}

  const std::string& id() const override { return id_; }

  // Appends a record with a JSON payload; returns its offset.
  uint64_t Append(uint32_t partition, const std::string& payload) {
    std::lock_guard lock(mu_);
    FetchedRecord r;
    r.offset = logs_[partition].size();
    r.msg_uuid = Uuid::NewV7();
    r.key = "GPU-" + std::to_string(partition);
    r.payload = payload;
    logs_[partition].push_back(r);
    cv_.notify_all();
    return r.offset;
  }

  Result<FetchResponse> Fetch(const FetchRequest& request) override {
    if (request.topic != "telemetry") {
      return Status::NotFound("unknown topic " + request.topic);
    }
    std::unique_lock lock(mu_);
    auto has_data = [&] {
      return std::any_of(
          request.partitions.begin(),
          request.partitions.end(),
          [&](const FetchPartition& p) { return p.from < logs_[p.partition].size(); });
    };
    cv_.wait_for(lock, request.wait, has_data);
    ++fetches_;
    for (const FetchPartition& p : request.partitions) {
      uint64_t& r = requested_[p.partition];
      r = std::max(r, p.from);
    }
    FetchResponse out;
    uint64_t bytes = 0;
    for (const FetchPartition& p : request.partitions) {
      FetchedPartition fp;
      fp.partition = p.partition;
      fp.first = 0;
      fp.next = logs_[p.partition].size();
      for (uint64_t o = p.from; o < logs_[p.partition].size() &&
                                fp.records.size() < request.max_records_per_partition;
           ++o) {
        if (bytes > 0 &&
            bytes + logs_[p.partition][o].payload.size() > request.max_bytes) {
          break;
        }
        bytes += logs_[p.partition][o].payload.size();
        fp.records.push_back(logs_[p.partition][o]);
      }
      out.partitions.push_back(std::move(fp));
    }
    return out;
  }

  Result<std::map<uint32_t, uint64_t>> Commit(
      const std::string& /*topic*/,
      const std::string& group,
      const std::map<uint32_t, uint64_t>& offsets) override {
    std::lock_guard lock(mu_);
    std::map<uint32_t, uint64_t> out;
    for (const auto& [p, o] : offsets) {
      uint64_t& c = committed_[{group, p}];
      c = std::max(c, o);
      out[p] = c;
    }
    return out;
  }

  Result<std::map<uint32_t, uint64_t>> Committed(const std::string& /*topic*/,
                                                 const std::string& group) override {
    std::lock_guard lock(mu_);
    std::map<uint32_t, uint64_t> out;
    for (const auto& [k, o] : committed_) {
      if (k.first == group) {
        out[k.second] = o;
      }
    }
    return out;
  }

  Status AppendDeadLetter(const DeadLetter& letter) override {
    std::lock_guard lock(mu_);
    dead_.push_back(letter);
    return Status::Ok();
  }

  Result<uint32_t> PartitionCount(const std::string& topic) override {
    if (topic != "telemetry") {
      return Status::NotFound("unknown topic " + topic);
    }
    return partitions_;
  }

  // -1 when the group has no committed offset for the partition.
  int64_t CommittedOffset(const std::string& group, uint32_t partition) {
    std::lock_guard lock(mu_);
    auto it = committed_.find({group, partition});
    return it == committed_.end() ? -1 : static_cast<int64_t>(it->second);
  }
  void SetCommitted(const std::string& group, uint32_t partition, uint64_t offset) {
    std::lock_guard lock(mu_);
    committed_[{group, partition}] = offset;
  }
  // The highest offset a Fetch asked to start from: once it is the log's end, the
  // reader has fetched (and, as it plans the next fetch on the pipeline's strand after
  // posting the last batch there, buffered) every record of the partition.
  uint64_t RequestedFrom(uint32_t partition) {
    std::lock_guard lock(mu_);
    auto it = requested_.find(partition);
    return it == requested_.end() ? 0 : it->second;
  }
  // Fetch calls answered so far.
  uint64_t Fetches() {
    std::lock_guard lock(mu_);
    return fetches_;
  }
  std::vector<DeadLetter> DeadLetters() {
    std::lock_guard lock(mu_);
    return dead_;
  }

 private:
  const std::string id_;
  const uint32_t partitions_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<FetchedRecord>> logs_;                    // GUARDED_BY mu_
  std::map<std::pair<std::string, uint32_t>, uint64_t> committed_;  // GUARDED_BY mu_
  std::vector<DeadLetter> dead_;                                    // GUARDED_BY mu_
  std::map<uint32_t, uint64_t> requested_;                          // GUARDED_BY mu_
  uint64_t fetches_ = 0;                                            // GUARDED_BY mu_
};

}  // namespace tp::broker::testing
