// walctl's commands. Each one opens the log as a RocksDB secondary instance in a scratch
// directory of its own (removed afterwards), reads a consistent view of the log as of
// the open, prints it, and closes. Nothing here writes to the log directory.
#include "walctl/walctl.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "format.h"
#include "tp/cli.h"
#include "tp/log.h"
#include "tp/status.h"
#include "tp/temp_dir.h"
#include "wal/store.h"

namespace tp::walctl {
namespace {

using nlohmann::json;

// Records per Read call of dump; also the page size of its table output.
constexpr uint32_t kDumpPageRecords = 1000;

struct Flags {
  std::string dir;
  bool json = false;
  std::string topic;
  uint32_t partition = 0;
  uint64_t from = 0;
  bool from_set = false;
  uint64_t limit = 0;  // 0: everything
};

// Invalid UTF-8 in a key or header name must not abort the output.
std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Sets j[name] to the bytes as text, or base64 with j[name + "_encoding"] = "base64".
void PutBytes(json& j, const std::string& name, std::string_view bytes) {
  if (IsText(bytes)) {
    j[name] = std::string(bytes);
    j[name + "_encoding"] = "text";
  } else {
    j[name] = Base64Encode(bytes);
    j[name + "_encoding"] = "base64";
  }
}

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kNotFound:
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
      return kExitUsage;
    default:
      return kExitFailed;
  }
}

// The store is declared last so it closes before its scratch directory is removed.
struct OpenedLog {
  std::optional<TempDir> scratch;
  std::unique_ptr<wal::Store> store;
};

Result<OpenedLog> OpenLog(const std::string& dir) {
  OpenedLog log;
  TP_ASSIGN_OR_RETURN(TempDir scratch, TempDir::Make("walctl-"));
  log.scratch.emplace(std::move(scratch));
  TP_ASSIGN_OR_RETURN(log.store,
                      wal::Store::OpenSecondary(dir, log.scratch->path() / "secondary"));
  return log;
}

std::string Str(uint64_t v) {
  return std::to_string(v);
}

// Sum of the sizes of the regular files under `dir`; files that vanish meanwhile (a
// running writer compacts) are skipped.
uint64_t DiskBytes(const std::filesystem::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(dir, ec);
  for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const auto size = it->file_size(size_ec);
      if (!size_ec)
        total += size;
    }
  }
  return total;
}

// ---- partitions ----

int Partitions(const wal::Store& store, const Flags& flags, std::ostream& out) {
  const auto all = store.AllStats();
  if (flags.json) {
    json parts = json::array();
    for (const auto& ps : all) {
      parts.push_back({{"topic", ps.tp.topic},
                       {"partition", ps.tp.partition.value()},
                       {"first", ps.first.value()},
                       {"next", ps.next.value()},
                       {"records", ps.next.value() - ps.first.value()}});
    }
    out << Dump({{"partitions", parts}}) << '\n';
    return kExitOk;
  }
  Table table({{"TOPIC"},
               {"PARTITION", true},
               {"FIRST", true},
               {"NEXT", true},
               {"RECORDS", true}});
  for (const auto& ps : all) {
    table.AddRow({ps.tp.topic,
                  Str(ps.tp.partition.value()),
                  Str(ps.first.value()),
                  Str(ps.next.value()),
                  Str(ps.next.value() - ps.first.value())});
  }
  table.Flush(out, /*with_header=*/true);
  return kExitOk;
}

// ---- dump ----

json RecordJson(const wal::Record& r) {
  json j = {{"offset", r.offset.value()},
            {"msg_uuid", r.msg_uuid.ToString()},
            {"publish_time", FormatRfc3339Micros(r.publish_time)},
            {"publish_time_us", r.publish_time.time_since_epoch().count()},
            {"payload_size", r.payload.size()},
            {"stored_bytes", r.stored_bytes}};
  PutBytes(j, "key", r.key);
  PutBytes(j, "payload", r.payload);
  json headers = json::array();
  for (const wal::Header& h : r.headers) {
    json hj;
    PutBytes(hj, "key", h.key);
    PutBytes(hj, "value", h.value);
    headers.push_back(std::move(hj));
  }
  j["headers"] = std::move(headers);
  return j;
}

std::string HeadersCell(const std::vector<wal::Header>& headers) {
  if (headers.empty())
    return "-";
  std::string out;
  for (const wal::Header& h : headers) {
    if (!out.empty())
      out += ',';
    out += CellForBytes(h.key) + "=" + CellForBytes(h.value);
  }
  return out;
}

int DumpRecords(const wal::Store& store,
                const Flags& flags,
                std::ostream& out,
                std::ostream& err) {
  const wal::TopicPartition tp{flags.topic, wal::PartitionId(flags.partition)};
  auto stats = store.Stats(tp);
  if (!stats.ok()) {
    err << "walctl: " << flags.dir << ": " << stats.status().message() << '\n';
    return ExitCodeFor(stats.status());
  }
  const uint64_t first = stats->first.value();
  const uint64_t next = stats->next.value();
  uint64_t pos = flags.from_set ? std::max(flags.from, first) : first;
  if (flags.from_set && flags.from > next) {
    err << "walctl: --from " << flags.from << " is beyond the next offset " << next
        << " of " << tp.ToString() << '\n';
    return kExitUsage;
  }
  const uint64_t limit = flags.limit == 0 ? next - std::min(pos, next) : flags.limit;

  Table table({{"OFFSET", true},
               {"PUBLISH_TIME"},
               {"MSG_UUID"},
               {"KEY"},
               {"SIZE", true},
               {"HEADERS"},
               {"PAYLOAD"}});
  bool header_printed = false;
  bool first_record = true;
  if (flags.json) {
    out << "{\"topic\":" << Dump(tp.topic) << ",\"partition\":" << flags.partition
        << ",\"first\":" << first << ",\"next\":" << next << ",\"records\":[";
  }
  uint64_t printed = 0;
  Status failure;
  // Bounded: every pass prints at least one record or stops, and pos < next.
  while (printed < limit && pos < next) {
    wal::ReadOptions ro;
    ro.max_records =
        static_cast<uint32_t>(std::min<uint64_t>(kDumpPageRecords, limit - printed));
    auto records = store.Read(tp, wal::Offset(pos), ro);
    if (!records.ok()) {
      failure = records.status();
      break;
    }
    if (records->empty())
      break;
    for (const wal::Record& r : *records) {
      if (flags.json) {
        out << (first_record ? "" : ",") << Dump(RecordJson(r));
      } else {
        table.AddRow({Str(r.offset.value()),
                      FormatRfc3339Micros(r.publish_time),
                      r.msg_uuid.ToString(),
                      CellForBytes(r.key),
                      Str(r.payload.size()),
                      HeadersCell(r.headers),
                      CellForBytes(r.payload)});
      }
      first_record = false;
      ++printed;
      pos = r.offset.value() + 1;
    }
    if (!flags.json) {
      table.Flush(out, !header_printed);
      header_printed = true;
    }
  }
  if (flags.json) {
    out << ']';
    if (!failure.ok())
      out << ",\"error\":" << Dump(failure.ToString());
    out << "}\n";
  } else if (!header_printed) {
    table.Flush(out, /*with_header=*/true);
  }
  if (!failure.ok()) {
    err << "walctl: " << flags.dir << ": " << failure.ToString() << '\n';
    return ExitCodeFor(failure) == kExitUsage ? kExitUsage : kExitFailed;
  }
  return kExitOk;
}

// ---- offsets ----

int Offsets(const wal::Store& store, const Flags& flags, std::ostream& out) {
  const auto all = store.AllStats();
  if (flags.json) {
    json parts = json::array();
    for (const auto& ps : all) {
      json groups = json::array();
      for (const auto& g : ps.groups) {
        groups.push_back({{"group", g.group},
                          {"committed", g.committed.value()},
                          {"lag_records", g.backlog_records},
                          {"lag_bytes", g.backlog_bytes}});
      }
      parts.push_back({{"topic", ps.tp.topic},
                       {"partition", ps.tp.partition.value()},
                       {"first", ps.first.value()},
                       {"next", ps.next.value()},
                       {"groups", std::move(groups)}});
    }
    out << Dump({{"partitions", parts}}) << '\n';
    return kExitOk;
  }
  Table table({{"TOPIC"},
               {"PARTITION", true},
               {"FIRST", true},
               {"NEXT", true},
               {"GROUP"},
               {"COMMITTED", true},
               {"LAG", true}});
  for (const auto& ps : all) {
    std::vector<std::string> base = {ps.tp.topic,
                                     Str(ps.tp.partition.value()),
                                     Str(ps.first.value()),
                                     Str(ps.next.value())};
    if (ps.groups.empty()) {
      auto row = base;
      row.insert(row.end(), {"-", "-", "-"});
      table.AddRow(std::move(row));
    }
    for (const auto& g : ps.groups) {
      auto row = base;
      row.insert(row.end(), {g.group, Str(g.committed.value()), Str(g.backlog_records)});
      table.AddRow(std::move(row));
    }
  }
  table.Flush(out, /*with_header=*/true);
  return kExitOk;
}

// ---- stats ----

int Stats(const wal::Store& store, const Flags& flags, std::ostream& out) {
  const auto all = store.AllStats();
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t backlog_records = 0;
  uint64_t backlog_bytes = 0;
  for (const auto& ps : all) {
    records += ps.next.value() - ps.first.value();
    bytes += ps.bytes;
    backlog_records += ps.backlog_records;
    backlog_bytes += ps.backlog_bytes;
  }
  const uint64_t disk = DiskBytes(flags.dir);
  if (flags.json) {
    json parts = json::array();
    for (const auto& ps : all) {
      json groups = json::array();
      for (const auto& g : ps.groups) {
        groups.push_back({{"group", g.group},
                          {"committed", g.committed.value()},
                          {"backlog_records", g.backlog_records},
                          {"backlog_bytes", g.backlog_bytes}});
      }
      parts.push_back({{"topic", ps.tp.topic},
                       {"partition", ps.tp.partition.value()},
                       {"first", ps.first.value()},
                       {"next", ps.next.value()},
                       {"records", ps.next.value() - ps.first.value()},
                       {"bytes", ps.bytes},
                       {"backlog_records", ps.backlog_records},
                       {"backlog_bytes", ps.backlog_bytes},
                       {"groups", std::move(groups)}});
    }
    json totals = {{"partitions", all.size()},
                   {"records", records},
                   {"bytes", bytes},
                   {"backlog_records", backlog_records},
                   {"backlog_bytes", backlog_bytes},
                   {"disk_bytes", disk}};
    out << Dump({{"partitions", parts}, {"totals", totals}}) << '\n';
    return kExitOk;
  }
  Table table({{"TOPIC"},
               {"PARTITION", true},
               {"RECORDS", true},
               {"BYTES", true},
               {"BACKLOG_RECORDS", true},
               {"BACKLOG_BYTES", true}});
  for (const auto& ps : all) {
    table.AddRow({ps.tp.topic,
                  Str(ps.tp.partition.value()),
                  Str(ps.next.value() - ps.first.value()),
                  Str(ps.bytes),
                  Str(ps.backlog_records),
                  Str(ps.backlog_bytes)});
  }
  table.Flush(out, /*with_header=*/true);
  out << "total: " << all.size() << " partitions, " << records << " records, " << bytes
      << " bytes; backlog " << backlog_records << " records, " << backlog_bytes
      << " bytes\n";
  out << "disk: " << disk << " bytes in " << flags.dir << '\n';
  return kExitOk;
}

// ---- verify ----

int VerifyLog(const wal::Store& store,
              const Flags& flags,
              std::ostream& out,
              std::ostream& err) {
  const wal::VerifyReport report = store.Verify();
  const size_t partitions = store.Partitions().size();
  if (flags.json) {
    json corrupt = json::array();
    for (const auto& c : report.corrupt) {
      corrupt.push_back({{"topic", c.tp.topic},
                         {"partition", c.tp.partition.value()},
                         {"offset", c.offset.value()},
                         {"reason", c.reason}});
    }
    out << Dump({{"ok", report.ok()},
                 {"records_checked", report.records_checked},
                 {"partitions", partitions},
                 {"corrupt", corrupt},
                 {"problems", report.problems}})
        << '\n';
  } else {
    if (!report.corrupt.empty()) {
      out << "corrupt records:\n";
      Table table({{"TOPIC"}, {"PARTITION", true}, {"OFFSET", true}, {"REASON"}});
      for (const auto& c : report.corrupt) {
        table.AddRow(
            {c.tp.topic, Str(c.tp.partition.value()), Str(c.offset.value()), c.reason});
      }
      table.Flush(out, /*with_header=*/true);
    }
    if (!report.problems.empty()) {
      out << "structural problems:\n";
      for (const auto& p : report.problems)
        out << "  " << p << '\n';
    }
    out << "verified " << report.records_checked << " records in " << partitions
        << " partitions: ";
    if (report.ok()) {
      out << "ok\n";
    } else {
      out << report.corrupt.size() << " corrupt records, " << report.problems.size()
          << " structural problems\n";
    }
  }
  if (report.ok())
    return kExitOk;
  err << "walctl: " << flags.dir << " is damaged: " << report.corrupt.size()
      << " corrupt records, " << report.problems.size() << " structural problems";
  if (!report.corrupt.empty()) {
    const auto& c = report.corrupt.front();
    err << " (first: " << c.tp.ToString() << "@" << c.offset.value() << ": " << c.reason
        << ")";
  }
  err << '\n';
  return kExitFailed;
}

}  // namespace

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "walctl: inspect a log directory read-only (works while a broker is writing to "
      "it)",
      "walctl"};
  app.require_subcommand(1);
  app.fallthrough();
  LogFlags log_flags;
  log_flags.format = "text";
  log_flags.level = "warn";
  AddLogFlags(app, &log_flags);
  app.get_option("--log-format")->description("Log output: text (default) or json");
  app.get_option("--log-level")
      ->description(
          "Log level: trace, debug, info, warn (default), error, critical, off");

  Flags flags;
  auto add_common = [&flags](CLI::App* sub) {
    sub->add_option("DIR", flags.dir, "Log directory (the broker's data directory)")
        ->required();
    sub->add_flag("--json", flags.json, "Print JSON instead of a table");
  };
  CLI::App* partitions =
      app.add_subcommand("partitions", "List partitions with first and next offsets");
  add_common(partitions);
  CLI::App* dump = app.add_subcommand("dump", "Print the records of one partition");
  add_common(dump);
  dump->add_option("--topic", flags.topic, "Topic name")->required();
  dump->add_option("--partition", flags.partition, "Partition number")->required();
  CLI::Option* from =
      dump->add_option("--from", flags.from, "First offset to print (default: first)");
  dump->add_option("--limit", flags.limit, "Most records to print (default 0: all)");
  CLI::App* offsets = app.add_subcommand(
      "offsets", "Per partition: first and next offset, committed offset per group");
  add_common(offsets);
  CLI::App* verify = app.add_subcommand(
      "verify", "Check every record's checksums and the offsets; exit 1 on damage");
  add_common(verify);
  CLI::App* stats = app.add_subcommand(
      "stats", "Per partition records, bytes and backlog, with store totals");
  add_common(stats);
  BindEnvironment(app);

  std::vector<std::string> argv_storage;
  argv_storage.reserve(args.size() + 1);
  argv_storage.emplace_back("walctl");
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  try {
    app.parse(static_cast<int>(argv_storage.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err) == 0 ? kExitOk : kExitUsage;
  }
  flags.from_set = from->count() > 0;

  auto log_options = log_flags.ToOptions();
  if (!log_options.ok()) {
    err << "walctl: " << log_options.status().message() << '\n';
    return kExitUsage;
  }
  InitLogging(*log_options);

  auto log = OpenLog(flags.dir);
  if (!log.ok()) {
    err << "walctl: cannot open log " << flags.dir << ": " << log.status().ToString()
        << '\n';
    return ExitCodeFor(log.status()) == kExitUsage ? kExitUsage : kExitFailed;
  }
  const wal::Store& store = *log->store;
  if (partitions->parsed())
    return Partitions(store, flags, out);
  if (dump->parsed())
    return DumpRecords(store, flags, out, err);
  if (offsets->parsed())
    return Offsets(store, flags, out);
  if (verify->parsed())
    return VerifyLog(store, flags, out, err);
  if (stats->parsed())
    return Stats(store, flags, out);
  err << "walctl: no subcommand\n";
  return kExitUsage;
}

}  // namespace tp::walctl
