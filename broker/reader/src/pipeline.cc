#include "pipeline.h"

#include <algorithm>
#include <charconv>
#include <ctime>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

namespace tp::broker::internal {

namespace {
// Per-message bookkeeping beyond key and payload, for the buffer budget.
constexpr std::size_t kMsgOverheadBytes = 128;
}  // namespace

void Shared::AddBytes(int64_t delta) {
  uint64_t now = buffered_bytes.fetch_add(static_cast<uint64_t>(delta)) +
                 static_cast<uint64_t>(delta);
  if (buffer_bytes_gauge != nullptr) {
    buffer_bytes_gauge->Set(static_cast<double>(now));
  }
  if (utilisation_gauge != nullptr) {
    utilisation_gauge->Set(std::min(
        1.0, static_cast<double>(now) / static_cast<double>(options.buffer_bytes)));
  }
}

std::string MakeLeaseId(uint32_t index) {
  return std::to_string(index) + "-" + Uuid::NewV7().ToString();
}

std::optional<uint32_t> PipelineIndexOf(const std::string& lease_id) {
  auto dash = lease_id.find('-');
  if (dash == std::string::npos || dash == 0) {
    return std::nullopt;
  }
  uint32_t index = 0;
  auto [ptr, ec] = std::from_chars(lease_id.data(), lease_id.data() + dash, index);
  if (ec != std::errc() || ptr != lease_id.data() + dash) {
    return std::nullopt;
  }
  if (!Uuid::Parse(std::string_view(lease_id).substr(dash + 1)).ok()) {
    return std::nullopt;
  }
  return index;
}

std::string FormatRfc3339(SystemClock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                     tm.tm_year + 1900,
                     tm.tm_mon + 1,
                     tm.tm_mday,
                     tm.tm_hour,
                     tm.tm_min,
                     tm.tm_sec,
                     ms.count() % 1000);
}

Pipeline::Pipeline(Shared* shared,
                   net::io_context& ioc,
                   std::string topic,
                   std::string group,
                   uint32_t index,
                   PipelineMetrics metrics,
                   const std::vector<WriterRef>& writers)
    : shared_(shared),
      strand_(net::make_strand(ioc)),
      topic_(std::move(topic)),
      group_(std::move(group)),
      index_(index),
      metrics_(metrics) {
  for (const WriterRef& w : writers) {
    AddWriter(w);
  }
}

net::awaitable<LeaseOutcome> Pipeline::Lease(std::shared_ptr<Pipeline> self,
                                             LeaseParams params) {
  const auto deadline = SteadyClock::now() + params.wait;
  for (;;) {
    if (self->stopping_ || self->draining_) {
      co_return LeaseOutcome{503, "the reader is draining; retry on another reader"};
    }
    if (self->leases_.size() >= self->shared_->options.max_leases_per_group) {
      co_return LeaseOutcome{429, "too many outstanding leases in this group"};
    }
    auto taken = self->TakeReady(params.max);
    if (!taken.empty()) {
      co_return self->Grant(params, taken);
    }
    if (SteadyClock::now() >= deadline) {
      co_return LeaseOutcome{};
    }
    // Wait for records (Wake cancels the timer), drain, shutdown or the deadline.
    net::steady_timer timer(co_await net::this_coro::executor, deadline);
    self->waiters_.push_back(&timer);
    boost::system::error_code ec;
    co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    std::erase(self->waiters_, &timer);
  }
}

net::awaitable<void> Pipeline::ScanLoop(std::shared_ptr<Pipeline> self) {
  net::steady_timer timer(co_await net::this_coro::executor);
  self->scan_timer_ = &timer;
  while (!self->stopping_) {
    timer.expires_after(self->shared_->options.expiry_scan_interval);
    boost::system::error_code ec;
    co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (self->stopping_) {
      break;
    }
    self->Scan();
  }
  self->scan_timer_ = nullptr;
}

std::vector<std::pair<Pipeline::PartKey, uint64_t>> Pipeline::TakeReady(uint32_t max) {
  // Round-robin: one message per partition per round, starting after the partition
  // served last, so a deep partition cannot starve the others.
  std::vector<std::pair<PartKey, uint64_t>> out;
  while (out.size() < max && !ready_parts_.empty()) {
    auto it = rr_cursor_ ? ready_parts_.upper_bound(*rr_cursor_) : ready_parts_.begin();
    if (it == ready_parts_.end()) {
      it = ready_parts_.begin();
    }
    PartKey key = *it;
    PartState& ps = parts_[key];
    uint64_t offset = *ps.ready.begin();
    ps.ready.erase(ps.ready.begin());
    if (ps.ready.empty()) {
      ready_parts_.erase(it);
    }
    rr_cursor_ = key;
    out.emplace_back(key, offset);
  }
  return out;
}

LeaseOutcome Pipeline::Grant(const LeaseParams& params,
                             const std::vector<std::pair<PartKey, uint64_t>>& taken) {
  LeaseOutcome out;
  out.lease_id = MakeLeaseId(index_);
  out.expires_at = SystemClock::now() + params.lease;
  LeaseEntry entry;
  entry.consumer_id = params.consumer_id;
  entry.deadline = SteadyClock::now() + params.lease;
  entry.expires_at = out.expires_at;
  uint64_t redelivered = 0;
  for (const auto& [key, offset] : taken) {
    Msg& m = parts_[key].msgs.at(offset);
    m.state = MsgState::kLeased;
    ++m.attempt;
    if (m.attempt > 1) {
      ++redelivered;
    }
    entry.items.push_back({key, offset, m.msg_uuid, false});
    out.messages.push_back({m.msg_uuid.ToString(),
                            key.second,
                            offset,
                            m.attempt,
                            m.payload,
                            m.payload_is_json});
  }
  entry.unsettled = entry.items.size();
  leases_.emplace(out.lease_id, std::move(entry));
  metrics_.leases->Inc();
  metrics_.leased->Inc(static_cast<double>(taken.size()));
  metrics_.redelivered->Inc(static_cast<double>(redelivered));
  UpdateGauges();
  return out;
}

Pipeline::LeaseMap::iterator Pipeline::FindLive(const std::string& lease_id,
                                                SettleOutcome& out) {
  auto it = leases_.find(lease_id);
  if (it != leases_.end() && it->second.deadline <= SteadyClock::now()) {
    ExpireLease(it);
    it = leases_.end();
  }
  if (it != leases_.end()) {
    return it;
  }
  auto tomb = tombstones_.find(lease_id);
  if (tomb == tombstones_.end()) {
    out.status = 404;
    out.detail = "unknown lease " + lease_id;
  } else if (tomb->second == Tombstone::kExpired) {
    out.status = 409;
    out.detail = "lease " + lease_id +
                 " has expired; its unacked messages are redelivered to another lease";
  } else {
    out.status = 200;  // every message of the lease was already acked or nacked
    out.count = 0;
  }
  return leases_.end();
}

void Pipeline::SettleSelected(LeaseEntry& lease,
                              const SettleParams& params,
                              SettleOutcome* out,
                              const std::function<void(LeaseItem&)>& settle) {
  for (LeaseItem& item : lease.items) {
    if (item.settled) {
      continue;
    }
    if (params.msg_uuids &&
        std::find(params.msg_uuids->begin(), params.msg_uuids->end(), item.msg_uuid) ==
            params.msg_uuids->end()) {
      continue;
    }
    item.settled = true;
    --lease.unsettled;
    ++out->count;
    settle(item);
  }
}

SettleOutcome Pipeline::Ack(const SettleParams& params) {
  SettleOutcome out;
  auto it = FindLive(params.lease_id, out);
  if (it == leases_.end()) {
    if (out.status == 200) {
      out.count = 0;
    }
    return out;
  }
  LeaseEntry& lease = it->second;
  SettleSelected(lease, params, &out, [this](LeaseItem& item) {
    auto pit = parts_.find(item.part);  // gone when its writer left
    if (pit == parts_.end()) {
      return;
    }
    PartState& ps = pit->second;
    auto mit = ps.msgs.find(item.offset);
    if (mit != ps.msgs.end() && mit->second.state == MsgState::kLeased) {
      Done(ps, mit);
    }
  });
  metrics_.acked->Inc(static_cast<double>(out.count));
  if (lease.unsettled == 0) {
    Finish(it, Tombstone::kFinished);
  }
  return out;
}

SettleOutcome Pipeline::Nack(const SettleParams& params) {
  SettleOutcome out;
  auto it = FindLive(params.lease_id, out);
  if (it == leases_.end()) {
    return out;
  }
  LeaseEntry& lease = it->second;
  SettleSelected(lease, params, &out, [this, &params](LeaseItem& item) {
    Return(item.part, item.offset, params.delay, "nacked");
  });
  metrics_.nacked->Inc(static_cast<double>(out.count));
  if (lease.unsettled == 0) {
    Finish(it, Tombstone::kFinished);
  }
  return out;
}

SettleOutcome Pipeline::Extend(const SettleParams& params) {
  SettleOutcome out;
  auto it = FindLive(params.lease_id, out);
  if (it == leases_.end()) {
    if (out.status == 200) {
      out.status = 409;
      out.detail = "lease " + params.lease_id + " has no unsettled messages left";
    }
    return out;
  }
  it->second.deadline = SteadyClock::now() + params.lease;
  it->second.expires_at = SystemClock::now() + params.lease;
  out.expires_at = it->second.expires_at;
  out.count = it->second.unsettled;
  return out;
}

void Pipeline::ExpireLease(LeaseMap::iterator it) {
  for (const LeaseItem& item : it->second.items) {
    if (!item.settled) {
      Return(item.part, item.offset, std::chrono::milliseconds(0), "lease expired");
    }
  }
  Finish(it, Tombstone::kExpired);
}

void Pipeline::Finish(LeaseMap::iterator it, Tombstone kind) {
  tombstones_[it->first] = kind;
  tombstone_order_.emplace_back(SteadyClock::now(), it->first);
  leases_.erase(it);
  UpdateGauges();
}

void Pipeline::Return(const PartKey& part,
                      uint64_t offset,
                      std::chrono::milliseconds delay,
                      const std::string& reason) {
  auto pit = parts_.find(part);
  if (pit == parts_.end()) {
    return;
  }
  PartState& ps = pit->second;
  auto mit = ps.msgs.find(offset);
  if (mit == ps.msgs.end() || mit->second.state != MsgState::kLeased) {
    return;
  }
  Msg& m = mit->second;
  if (m.attempt >= shared_->options.max_attempts) {
    m.state = MsgState::kDeadPending;
    dead_pending_.emplace_back(part, offset);
    (void)reason;
    return;
  }
  if (!ps.owned) {
    Drop(ps, mit);  // the partition's new owner delivers it
    return;
  }
  if (delay.count() > 0) {
    m.state = MsgState::kDelayed;
    m.due = SteadyClock::now() + delay;
    delayed_.emplace(m.due, std::make_pair(part, offset));
    return;
  }
  MakeReady(part, ps, offset);
  Wake();
}

void Pipeline::MakeReady(const PartKey& part, PartState& ps, uint64_t offset) {
  ps.msgs.at(offset).state = MsgState::kReady;
  ps.ready.insert(offset);
  ready_parts_.insert(part);
}

void Pipeline::Done(PartState& ps, std::map<uint64_t, Msg>::iterator it) {
  shared_->AddBytes(-static_cast<int64_t>(it->second.bytes));
  ps.msgs.erase(it);
}

void Pipeline::Drop(PartState& ps, std::map<uint64_t, Msg>::iterator it) {
  // Never commit past a message this reader did not finish.
  ps.next_fetch = std::min(ps.next_fetch, it->first);
  ps.ready.erase(it->first);
  Done(ps, it);
}

void Pipeline::Scan() {
  const auto now = SteadyClock::now();
  std::vector<std::string> expired;
  for (const auto& [id, lease] : leases_) {
    if (lease.deadline <= now) {
      expired.push_back(id);
    }
  }
  for (const std::string& id : expired) {
    ExpireLease(leases_.find(id));
  }
  bool woke = false;
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    auto [part, offset] = delayed_.begin()->second;
    auto due = delayed_.begin()->first;
    delayed_.erase(delayed_.begin());
    auto pit = parts_.find(part);
    if (pit == parts_.end()) {
      continue;
    }
    auto mit = pit->second.msgs.find(offset);
    if (mit == pit->second.msgs.end() || mit->second.state != MsgState::kDelayed ||
        mit->second.due != due) {
      continue;
    }
    if (!pit->second.owned) {
      Drop(pit->second, mit);
      continue;
    }
    MakeReady(part, pit->second, offset);
    woke = true;
  }
  if (woke) {
    Wake();
  }
  const auto ttl = shared_->options.lease_tombstone_ttl;
  while (!tombstone_order_.empty() &&
         (tombstone_order_.front().first + ttl <= now ||
          tombstone_order_.size() > shared_->options.max_leases_per_group)) {
    tombstones_.erase(tombstone_order_.front().second);
    tombstone_order_.pop_front();
  }
  // Keeps the utilisation gauge exact despite concurrent updates from other pipelines.
  shared_->AddBytes(0);
}

void Pipeline::SetAssignment(std::optional<Assignment> assignment) {
  assignment_ = assignment;
  for (std::size_t w = 0; w < writers_.size(); ++w) {
    Recompute(w);
  }
}

void Pipeline::AddWriter(WriterRef writer) {
  if (writer.slot >= writers_.size()) {
    writers_.resize(writer.slot + 1);
  }
  WriterState& ws = writers_[writer.slot];
  ws.active = true;
  ws.epoch = writer.epoch;
  // Asked again: the writer may have come back with another configuration. Until the
  // answer, its partitions keep the state RemoveWriter left (not owned).
  ws.partition_count.reset();
}

void Pipeline::RemoveWriter(std::size_t writer) {
  if (writer >= writers_.size()) {
    return;
  }
  writers_[writer].active = false;
  writers_[writer].partition_count.reset();
  // Forget its partitions, leased messages included: an ack or expiry of such a lease
  // then finds nothing, nothing more is committed to the writer, and when the address
  // comes back (perhaps another writer process, with other offsets) it starts afresh
  // from the group's committed offsets, never from offsets of the writer that left.
  auto it = parts_.lower_bound({writer, 0});
  while (it != parts_.end() && it->first.first == writer) {
    for (const auto& [offset, m] : it->second.msgs) {
      shared_->AddBytes(-static_cast<int64_t>(m.bytes));
    }
    ready_parts_.erase(it->first);
    it = parts_.erase(it);
  }
}

void Pipeline::SetPartitionCount(std::size_t writer, uint64_t epoch, uint32_t count) {
  if (!WriterActive(writer) || writers_[writer].epoch != epoch) {
    return;
  }
  writers_[writer].partition_count = count;
  Recompute(writer);
}

void Pipeline::Recompute(std::size_t writer) {
  const WriterState& ws = writers_[writer];
  if (!ws.active || !ws.partition_count) {
    return;  // nothing held (RemoveWriter), or decided once the count is known
  }
  const uint32_t count = *ws.partition_count;
  PartitionRange range{0, 0};
  if (assignment_) {
    range = RangeFor(*assignment_, count);
  }
  for (uint32_t p = 0; p < count; ++p) {
    const bool owned = range.Contains(p);
    PartKey key{writer, p};
    auto pit = parts_.find(key);
    if (pit == parts_.end()) {
      if (owned) {
        PartState& ps = parts_[key];
        ps.owned = true;
      }
      continue;
    }
    PartState& ps = pit->second;
    if (owned && !ps.owned) {
      // Gained: start again from the committed offsets unless messages of this
      // partition are still in flight here (then continue where we are).
      ps.owned = true;
      ++ps.generation;
      if (ps.msgs.empty()) {
        ps.initialized = false;
      }
    } else if (!owned && ps.owned) {
      // Lost: stop leasing it. Messages not leased right now are dropped (the new
      // owner replays them); leased ones may still be acked and committed here.
      ps.owned = false;
      ++ps.generation;
      for (auto mit = ps.msgs.begin(); mit != ps.msgs.end();) {
        auto next = std::next(mit);
        if (mit->second.state == MsgState::kReady ||
            mit->second.state == MsgState::kDelayed) {
          Drop(ps, mit);
        }
        mit = next;
      }
      ps.ready.clear();
      ready_parts_.erase(key);
    }
  }
}

FetchPlan Pipeline::PlanFetch(std::size_t writer, uint64_t epoch) {
  FetchPlan plan;
  plan.stop = stopping_ || !WriterActive(writer) || writers_[writer].epoch != epoch;
  if (plan.stop || draining_) {
    return plan;
  }
  if (!writers_[writer].partition_count) {
    plan.need_partition_count = true;
    return plan;
  }
  auto lo = parts_.lower_bound({writer, 0});
  for (auto it = lo; it != parts_.end() && it->first.first == writer; ++it) {
    if (it->second.owned && !it->second.initialized) {
      plan.need_init.emplace_back(it->first.second, it->second.generation);
    }
  }
  if (!plan.need_init.empty()) {
    return plan;
  }
  const uint64_t used = shared_->buffered_bytes.load();
  if (used >= shared_->options.buffer_bytes) {
    return plan;  // window full: fetch nothing until acks free room
  }
  plan.request.topic = topic_;
  plan.request.max_records_per_partition =
      shared_->options.fetch_max_records_per_partition;
  plan.request.max_bytes =
      std::min(shared_->options.fetch_max_bytes, shared_->options.buffer_bytes - used);
  plan.request.wait = shared_->options.fetch_wait;
  for (auto it = lo; it != parts_.end() && it->first.first == writer; ++it) {
    if (it->second.owned && it->second.initialized) {
      plan.request.partitions.push_back({it->first.second, it->second.next_fetch});
      plan.generations.push_back(it->second.generation);
    }
  }
  return plan;
}

void Pipeline::OnInit(std::size_t writer,
                      const std::map<uint32_t, uint64_t>& committed,
                      const std::vector<std::pair<uint32_t, uint64_t>>& partitions) {
  for (const auto& [p, generation] : partitions) {
    auto pit = parts_.find({writer, p});
    if (pit == parts_.end() || pit->second.generation != generation ||
        pit->second.initialized) {
      continue;
    }
    auto cit = committed.find(p);
    // No committed offset: from 0, which the writer answers from its first offset.
    const uint64_t start = cit == committed.end() ? 0 : cit->second;
    pit->second.next_fetch = start;
    pit->second.committed = start;
    pit->second.initialized = true;
  }
}

void Pipeline::OnFetched(std::size_t writer, std::vector<IncomingPartition> batch) {
  bool added = false;
  for (IncomingPartition& in : batch) {
    PartKey key{writer, in.partition};
    auto pit = parts_.find(key);
    if (pit == parts_.end()) {
      continue;
    }
    PartState& ps = pit->second;
    if (!ps.owned || ps.generation != in.generation || ps.next_fetch != in.from) {
      continue;  // stale: the partition moved or was re-initialised meanwhile
    }
    for (IncomingRecord& r : in.records) {
      if (r.offset < ps.next_fetch || ps.msgs.count(r.offset) != 0) {
        continue;
      }
      Msg m;
      m.msg_uuid = r.msg_uuid;
      m.key = std::move(r.key);
      m.publish_time_us = r.publish_time_us;
      m.payload = std::move(r.payload);
      m.payload_is_json = r.payload_is_json;
      m.bytes = m.payload->size() + m.key.size() + kMsgOverheadBytes;
      shared_->AddBytes(static_cast<int64_t>(m.bytes));
      ps.msgs.emplace(r.offset, std::move(m));
      ps.ready.insert(r.offset);
      ready_parts_.insert(key);
      added = true;
    }
    ps.next_fetch = std::max(ps.next_fetch, in.next_from);
  }
  if (added) {
    Wake();
  }
}

std::map<std::size_t, std::map<uint32_t, uint64_t>> Pipeline::CollectCommits() {
  std::map<std::size_t, std::map<uint32_t, uint64_t>> out;
  for (const auto& [key, ps] : parts_) {
    if (!ps.initialized) {
      continue;
    }
    uint64_t point = ps.next_fetch;
    if (!ps.msgs.empty()) {
      point = std::min(point, ps.msgs.begin()->first);
    }
    if (point > ps.committed) {
      out[key.first][key.second] = point;
    }
  }
  return out;
}

void Pipeline::OnCommitted(std::size_t writer,
                           const std::map<uint32_t, uint64_t>& committed) {
  for (const auto& [p, offset] : committed) {
    auto pit = parts_.find({writer, p});
    if (pit != parts_.end()) {
      pit->second.committed = std::max(pit->second.committed, offset);
    }
  }
}

std::vector<DeadLetterWork> Pipeline::TakeDeadLetters() {
  std::vector<DeadLetterWork> out;
  for (const auto& [part, offset] : dead_pending_) {
    auto pit = parts_.find(part);
    if (pit == parts_.end()) {
      continue;
    }
    auto mit = pit->second.msgs.find(offset);
    if (mit == pit->second.msgs.end() || mit->second.state != MsgState::kDeadPending) {
      continue;
    }
    Msg& m = mit->second;
    m.state = MsgState::kDeadSending;
    DeadLetterWork work;
    work.writer = part.first;
    work.partition = part.second;
    work.offset = offset;
    work.letter.topic = topic_;
    work.letter.partition = part.second;
    work.letter.offset = offset;
    work.letter.msg_uuid = m.msg_uuid;
    work.letter.group = group_;
    work.letter.attempts = m.attempt;
    work.letter.reason = "not acked after " + std::to_string(m.attempt) + " attempts";
    work.letter.key = m.key;
    work.letter.payload = *m.payload;
    out.push_back(std::move(work));
  }
  dead_pending_.clear();
  return out;
}

void Pipeline::OnDeadLettered(const std::vector<DeadLetterWork>& work,
                              const std::vector<bool>& ok) {
  for (std::size_t i = 0; i < work.size(); ++i) {
    PartKey key{work[i].writer, work[i].partition};
    auto pit = parts_.find(key);
    if (pit == parts_.end()) {
      continue;
    }
    auto mit = pit->second.msgs.find(work[i].offset);
    if (mit == pit->second.msgs.end() || mit->second.state != MsgState::kDeadSending) {
      continue;
    }
    if (ok[i]) {
      metrics_.dead_lettered->Inc();
      Done(pit->second, mit);
    } else {
      mit->second.state = MsgState::kDeadPending;  // retried by the next commit pass
      dead_pending_.emplace_back(key, work[i].offset);
    }
  }
}

void Pipeline::Wake() {
  for (net::steady_timer* t : waiters_) {
    t->cancel();
  }
}

void Pipeline::StartDrain() {
  draining_ = true;
  Wake();
}

void Pipeline::Shutdown() {
  stopping_ = true;
  Wake();
  if (scan_timer_ != nullptr) {
    scan_timer_->cancel();
  }
}

void Pipeline::UpdateGauges() {
  if (metrics_.outstanding_leases != nullptr) {
    metrics_.outstanding_leases->Set(static_cast<double>(leases_.size()));
  }
}

}  // namespace tp::broker::internal
