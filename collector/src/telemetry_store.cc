#include "collector/telemetry_store.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>
#include <pqxx/pqxx>
#include <pqxx/tablewriter>

#include "tp/json_scan.h"
#include "tp/pg/error.h"
#include "tp/telemetry/labels.h"
#include "tp/telemetry/time.h"

namespace tp::collector {
namespace {

// Rows per INSERT statement: 15 columns each, well under any statement size concern.
constexpr std::size_t kRowsPerStatement = 1000;

bool HasNul(const std::string& s) {
  return s.find('\0') != std::string::npos;
}

// labels_raw is kept verbatim; the parsed form is best effort ({} when malformed). Keys
// go in the order of labels_raw: jsonb orders them itself.
std::string LabelsJson(const std::string& raw) {
  std::string json = "{";
  const Status parsed =
      telemetry::ForEachLabel(raw, [&](std::string_view key, std::string_view value) {
        if (json.size() > 1) {
          json += ',';
        }
        json += '"';
        json_scan::AppendEscaped(&json, key);
        json += "\":\"";
        json_scan::AppendEscaped(&json, value);
        json += '"';
        return Status::Ok();
      });
  if (!parsed.ok()) {
    return "{}";
  }
  json += '}';
  return json;
}

// What one batch says about one GPU.
struct GpuAggregate {
  const telemetry::TelemetryRecord* latest = nullptr;
  telemetry::Timestamp first{};
  telemetry::Timestamp last{};
  std::set<std::string> metrics;
};
using GpuAggregates = std::map<std::string, GpuAggregate>;  // by gpu_uuid: lock order

GpuAggregates AggregateGpus(const std::vector<StoreRow>& rows) {
  GpuAggregates gpus;
  for (const auto& row : rows) {
    const auto& r = row.record;
    auto [it, fresh] = gpus.try_emplace(r.uuid);
    GpuAggregate& g = it->second;
    if (fresh || r.timestamp >= g.last) {
      g.latest = &r;
    }
    g.first = fresh ? r.timestamp : std::min(g.first, r.timestamp);
    g.last = fresh ? r.timestamp : std::max(g.last, r.timestamp);
    g.metrics.insert(r.metric_name);
  }
  return gpus;
}

constexpr const char* kGpuUpsertTail = R"(
ON CONFLICT (gpu_uuid) DO UPDATE SET
    hostname     = CASE WHEN EXCLUDED.last_seen >= g.last_seen THEN EXCLUDED.hostname ELSE g.hostname END,
    gpu_index    = CASE WHEN EXCLUDED.last_seen >= g.last_seen THEN EXCLUDED.gpu_index ELSE g.gpu_index END,
    device       = CASE WHEN EXCLUDED.last_seen >= g.last_seen THEN EXCLUDED.device ELSE g.device END,
    model_name   = CASE WHEN EXCLUDED.last_seen >= g.last_seen THEN EXCLUDED.model_name ELSE g.model_name END,
    first_seen   = LEAST(g.first_seen, EXCLUDED.first_seen),
    last_seen    = GREATEST(g.last_seen, EXCLUDED.last_seen),
    metric_names = ARRAY(SELECT DISTINCT unnest(g.metric_names || EXCLUDED.metric_names) ORDER BY 1)
WHERE EXCLUDED.last_seen > g.last_seen
   OR EXCLUDED.first_seen < g.first_seen
   OR NOT g.metric_names @> EXCLUDED.metric_names)";

// Elements of a PostgreSQL array literal: "{" before the first, "," before the others;
// text quoted with backslash and double quote escaped (NUL bytes were rejected earlier).
void AppendArrayNull(std::string* array) {
  array->push_back(array->empty() ? '{' : ',');
  array->append("NULL");
}
void AppendArrayElement(std::string* array, std::string_view text) {
  array->push_back(array->empty() ? '{' : ',');
  array->push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') {
      array->push_back('\\');
    }
    array->push_back(c);
  }
  array->push_back('"');
}

constexpr std::size_t kTelemetryColumnCount = 14;
constexpr std::array<const char*, kTelemetryColumnCount> kTelemetryColumns = {
    "msg_uuid",
    "ts",
    "gpu_uuid",
    "gpu_index",
    "device",
    "model_name",
    "hostname",
    "container",
    "pod",
    "namespace",
    "metric_name",
    "value",
    "labels",
    "labels_raw"};

// One row's fields as text, in kTelemetryColumns order, each handed to `visit` as an
// optional<string_view> (nullopt is SQL NULL). The views live until `visit` returns.
template <typename Visit>
void VisitFields(const StoreRow& row, Visit&& visit) {
  using Field = std::optional<std::string_view>;
  const auto& r = row.record;
  auto nullable = [](const std::string& v) {
    return v.empty() ? Field() : Field(v);
  };
  char number[32];
  visit(Field(row.msg_uuid.ToString()));
  visit(Field(telemetry::FormatRfc3339(r.timestamp)));
  visit(Field(r.uuid));
  visit(Field(std::string_view(
      number, std::to_chars(number, number + sizeof number, r.gpu_id).ptr - number)));
  visit(Field(r.device));
  visit(Field(r.model_name));
  visit(Field(r.hostname));
  visit(nullable(r.container));
  visit(nullable(r.pod));
  visit(nullable(r.namespace_));
  visit(Field(r.metric_name));
  if (r.value) {
    const auto out = fmt::format_to_n(number, sizeof number, "{:.17g}", *r.value);
    visit(Field(std::string_view(number, out.size)));
  } else {
    visit(Field());
  }
  visit(Field(LabelsJson(r.labels_raw)));
  visit(Field(r.labels_raw));
}

// Appends one field in COPY's text format: \N for NULL, and backslash and the control
// characters that the format gives a meaning escaped (as pqxx's own COPY writer does).
void AppendCopyField(std::string* line, std::optional<std::string_view> field) {
  // Each special character and the letter that follows the backslash for it.
  constexpr std::string_view kSpecial = "\\\b\f\n\r\t\v";
  constexpr std::string_view kLetter = "\\bfnrtv";
  if (!field) {
    line->append("\\N");
    return;
  }
  std::string_view rest = *field;
  for (std::size_t special; (special = rest.find_first_of(kSpecial)) != rest.npos;) {
    line->append(rest.substr(0, special));
    line->push_back('\\');
    line->push_back(kLetter[kSpecial.find(rest[special])]);
    rest.remove_prefix(special + 1);
  }
  line->append(rest);
}

// pqxx 6.4 (Debian 12) hands a COPY a ready line only through tablewriter, which it
// marks deprecated in favour of stream_to; stream_to builds three strings per field
// (to_string, escape, join): a quarter of a collector's CPU time. The deprecation
// is about tablewriter's own escaping, which is not used here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
pqxx::tablewriter OpenCopy(pqxx::transaction_base& tx) {
  return pqxx::tablewriter(
      tx, "telemetry", kTelemetryColumns.begin(), kTelemetryColumns.end());
}
#pragma GCC diagnostic pop

// Fast path: COPY the rows straight into telemetry inside a savepoint, as fast as a bulk
// load. A message stored before (a redelivery, or twice in one batch) makes COPY fail on
// the msg_uuid key; the savepoint is rolled back and false returned, and the caller
// stores the rows with InsertIgnoringDuplicates instead.
bool CopyRows(pqxx::work& tx, const std::vector<StoreRow>& rows) {
  try {
    pqxx::subtransaction savepoint(tx, "copy_rows");
    {
      pqxx::tablewriter copy = OpenCopy(savepoint);
      std::string line;
      for (const StoreRow& row : rows) {
        line.clear();
        VisitFields(row, [&](std::optional<std::string_view> field) {
          AppendCopyField(&line, field);
          line.push_back('\t');
        });
        line.pop_back();  // the tab after the last field
        copy.write_raw_line(line);
      }
      copy.complete();
    }
    savepoint.commit();
    return true;
  } catch (const pqxx::unique_violation&) {
    return false;
  }
}

// Columns of the insert, each as one array literal, so a whole chunk of rows is one
// parameterised statement: PostgreSQL parses 14 arrays instead of planning a VALUES list
// of thousands of expressions.
struct TelemetryArrays {
  std::array<std::string, kTelemetryColumnCount> arrays;

  void Add(const StoreRow& row) {
    std::size_t c = 0;
    VisitFields(row, [&](std::optional<std::string_view> field) {
      if (field) {
        AppendArrayElement(&arrays[c++], *field);
      } else {
        AppendArrayNull(&arrays[c++]);
      }
    });
  }
  void Close() {
    for (auto& a : arrays) {
      a += '}';
    }
  }
};

constexpr const char* kTelemetryInsert =
    "INSERT INTO telemetry (msg_uuid, ts, gpu_uuid, gpu_index, device, model_name, "
    "hostname, container, pod, namespace, metric_name, value, labels, labels_raw) "
    "SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::int[], "
    "$5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], "
    "$11::text[], $12::float8[], $13::jsonb[], $14::text[]) "
    "ON CONFLICT (msg_uuid) DO NOTHING";

// Returns how many rows were new.
std::uint64_t InsertIgnoringDuplicates(pqxx::work& tx,
                                       const std::vector<StoreRow>& rows) {
  std::uint64_t inserted = 0;
  for (std::size_t begin = 0; begin < rows.size(); begin += kRowsPerStatement) {
    const std::size_t end = std::min(rows.size(), begin + kRowsPerStatement);
    TelemetryArrays columns;
    for (std::size_t i = begin; i < end; ++i) {
      columns.Add(rows[i]);
    }
    columns.Close();
    const auto& a = columns.arrays;
    const pqxx::result res = tx.exec_params(kTelemetryInsert,
                                            a[0],
                                            a[1],
                                            a[2],
                                            a[3],
                                            a[4],
                                            a[5],
                                            a[6],
                                            a[7],
                                            a[8],
                                            a[9],
                                            a[10],
                                            a[11],
                                            a[12],
                                            a[13]);
    inserted += static_cast<std::uint64_t>(res.affected_rows());
  }
  return inserted;
}

// `gpus`: the batch's GPUs that need the upsert.
WriteResult WriteInTransaction(pqxx::connection& conn,
                               const std::vector<StoreRow>& rows,
                               const GpuAggregates& gpus) {
  pqxx::work tx(conn, "collector_write");
  WriteResult result;
  result.inserted = CopyRows(tx, rows) ? rows.size() : InsertIgnoringDuplicates(tx, rows);
  result.duplicates = rows.size() - result.inserted;

  // One statement for the GPUs of the batch: the upsert locks each GPU's row until
  // COMMIT, and concurrent writers queue on those locks, so the time between the first
  // lock and the commit is what bounds the collectors' combined throughput. Rows come
  // in gpu_uuid order, so two writers always lock in the same order.
  if (!gpus.empty()) {
    std::string sql =
        "INSERT INTO gpus AS g (gpu_uuid, hostname, gpu_index, device, model_name, "
        "first_seen, last_seen, metric_names) VALUES ";
    bool first_gpu = true;
    for (const auto& [uuid, g] : gpus) {
      std::string metrics = "ARRAY[";
      bool first = true;
      for (const auto& m : g.metrics) {
        if (!first) {
          metrics += ',';
        }
        first = false;
        metrics += tx.quote(m);
      }
      metrics += "]::text[]";
      const auto& r = *g.latest;
      if (!first_gpu) {
        sql += ',';
      }
      first_gpu = false;
      sql += fmt::format("({},{},{},{},{},{}::timestamptz,{}::timestamptz,{})",
                         tx.quote(uuid),
                         tx.quote(r.hostname),
                         r.gpu_id,
                         tx.quote(r.device),
                         tx.quote(r.model_name),
                         tx.quote(telemetry::FormatRfc3339(g.first)),
                         tx.quote(telemetry::FormatRfc3339(g.last)),
                         metrics);
    }
    sql += kGpuUpsertTail;
    tx.exec(sql);
  }
  tx.commit();
  return result;
}

}  // namespace

// What this store last committed to gpus, per GPU: a hint that lets a batch leave out
// the GPUs whose row it would not change by more than the resolution. Only committed
// transactions update it, so a failed one never hides a GPU.
class TelemetryStore::GpuCache {
 public:
  explicit GpuCache(std::chrono::microseconds resolution) : resolution_(resolution) {}

  void DropCovered(GpuAggregates* gpus) const {
    std::lock_guard lock(mu_);
    std::erase_if(*gpus, [&](const auto& entry) {
      const auto it = committed_.find(entry.first);
      return it != committed_.end() && Covers(it->second, entry.second);
    });
  }

  void Committed(const GpuAggregates& gpus) {
    std::lock_guard lock(mu_);
    if (committed_.size() + gpus.size() > kMaxGpus) {
      committed_.clear();  // a fleet this big only costs some extra upserts
    }
    for (const auto& [uuid, g] : gpus) {
      auto [it, fresh] = committed_.try_emplace(uuid);
      CommittedGpu& c = it->second;
      if (fresh || g.last >= c.last) {
        c.hostname = g.latest->hostname;
        c.gpu_index = g.latest->gpu_id;
        c.device = g.latest->device;
        c.model_name = g.latest->model_name;
      }
      c.first = fresh ? g.first : std::min(c.first, g.first);
      c.last = fresh ? g.last : std::max(c.last, g.last);
      c.metrics.insert(g.metrics.begin(), g.metrics.end());
    }
  }

 private:
  static constexpr std::size_t kMaxGpus = 100'000;

  struct CommittedGpu {
    std::string hostname;
    int gpu_index = 0;
    std::string device;
    std::string model_name;
    telemetry::Timestamp first{};
    telemetry::Timestamp last{};
    std::set<std::string> metrics;
  };

  bool Covers(const CommittedGpu& c, const GpuAggregate& g) const {
    const auto& r = *g.latest;
    return g.first >= c.first && g.last <= c.last + resolution_ &&
           r.hostname == c.hostname && r.gpu_id == c.gpu_index && r.device == c.device &&
           r.model_name == c.model_name &&
           std::includes(
               c.metrics.begin(), c.metrics.end(), g.metrics.begin(), g.metrics.end());
  }

  const std::chrono::microseconds resolution_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, CommittedGpu> committed_;
};

Status ValidateForStorage(const telemetry::TelemetryRecord& r) {
  for (const std::string* s : {&r.metric_name,
                               &r.device,
                               &r.uuid,
                               &r.model_name,
                               &r.hostname,
                               &r.container,
                               &r.pod,
                               &r.namespace_,
                               &r.labels_raw}) {
    if (HasNul(*s)) {
      return Status::InvalidArgument("a text field contains a NUL byte");
    }
  }
  return Status::Ok();
}

// Queues Write calls while max_concurrent_writes transactions are in flight; the call
// at the head of the queue takes a free slot and writes the queue in one transaction.
class TelemetryStore::Combiner {
 public:
  explicit Combiner(std::size_t max_writers) : max_writers_(max_writers) {}

  Result<WriteResult> Write(TelemetryStore& store, const std::vector<StoreRow>& rows) {
    Call me{&rows, std::nullopt};
    std::unique_lock lock(mu_);
    waiting_.push_back(&me);
    cv_.wait(lock, [&] {
      return me.result.has_value() || (active_ < max_writers_ && waiting_.front() == &me);
    });
    if (me.result) {
      return std::move(*me.result);
    }
    ++active_;
    std::vector<Call*> group;
    std::size_t total = 0;
    while (!waiting_.empty() &&
           (group.empty() || total + waiting_.front()->rows->size() <= kMaxRows)) {
      total += waiting_.front()->rows->size();
      group.push_back(waiting_.front());
      waiting_.pop_front();
    }
    lock.unlock();
    cv_.notify_all();  // the next in line may lead if another slot is free
    std::vector<Result<WriteResult>> results = WriteGroup(store, group, total);
    lock.lock();
    --active_;
    for (std::size_t i = 0; i < group.size(); ++i) {
      group[i]->result = std::move(results[i]);
    }
    lock.unlock();
    cv_.notify_all();
    return std::move(*me.result);
  }

 private:
  struct Call {
    const std::vector<StoreRow>* rows;
    std::optional<Result<WriteResult>> result;
  };
  // Bounds one combined transaction (a COPY of this many rows is a few MB).
  static constexpr std::size_t kMaxRows = 10000;

  static std::vector<Result<WriteResult>> WriteGroup(TelemetryStore& store,
                                                     const std::vector<Call*>& group,
                                                     std::size_t total) {
    std::vector<Result<WriteResult>> results;
    if (group.size() > 1) {
      std::vector<StoreRow> all;
      all.reserve(total);
      for (const Call* call : group) {
        all.insert(all.end(), call->rows->begin(), call->rows->end());
      }
      auto combined = store.WriteOne(all);
      if (combined.ok()) {
        results.assign(group.size(), WriteResult{});
        results[0] = std::move(combined);
        return results;
      }
    }
    for (const Call* call : group) {
      results.push_back(store.WriteOne(*call->rows));
    }
    return results;
  }

  const std::size_t max_writers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Call*> waiting_;  // GUARDED_BY mu_
  std::size_t active_ = 0;     // GUARDED_BY mu_
};

TelemetryStore::TelemetryStore(std::shared_ptr<pg::ConnectionPool> pool,
                               TelemetryStoreOptions options)
    : pool_(std::move(pool)),
      gpus_(std::make_unique<GpuCache>(options.gpu_seen_resolution)),
      combiner_(options.max_concurrent_writes > 0
                    ? std::make_unique<Combiner>(options.max_concurrent_writes)
                    : nullptr) {}

TelemetryStore::~TelemetryStore() = default;

Result<WriteResult> TelemetryStore::Write(const std::vector<StoreRow>& rows) {
  if (rows.empty()) {
    return WriteResult{};
  }
  return combiner_ ? combiner_->Write(*this, rows) : WriteOne(rows);
}

Result<WriteResult> TelemetryStore::WriteOne(const std::vector<StoreRow>& rows) {
  GpuAggregates gpus = AggregateGpus(rows);
  gpus_->DropCovered(&gpus);
  TP_ASSIGN_OR_RETURN(pg::PooledConnection conn, pool_->Acquire());
  auto result = pg::Call("write telemetry batch",
                         [&] { return WriteInTransaction(conn.get(), rows, gpus); });
  if (result.ok()) {
    gpus_->Committed(gpus);
    return result;
  }
  // A server that goes away during COPY surfaces as a plain write failure rather than
  // broken_connection; the connection's own state says what happened.
  if (result.status().code() != StatusCode::kUnavailable && !conn.get().is_open()) {
    result = Status::Unavailable(result.status().message() + " (connection lost)");
  }
  if (result.status().code() == StatusCode::kUnavailable) {
    conn.Discard();
  }
  return result;
}

Status TelemetryStore::Ping() {
  TP_ASSIGN_OR_RETURN(pg::PooledConnection conn, pool_->Acquire());
  Status s = pg::Call("ping", [&] {
    pqxx::nontransaction tx(conn.get());
    tx.exec("SELECT 1");
  });
  if (!s.ok()) {
    conn.Discard();
  }
  return s;
}

}  // namespace tp::collector
