// walctl's commands run in-process (tp::walctl::Run) on a log with known content.
// walctl_process_test.cc runs the binary against a log another process is writing.
#include "walctl/walctl.h"

#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "format.h"
#include "tp/testing/testing.h"
#include "wal/store.h"

namespace tp::walctl {
namespace {

using nlohmann::json;

const wal::TopicPartition kTelemetry0{"telemetry", wal::PartitionId(0)};
const wal::TopicPartition kTelemetry1{"telemetry", wal::PartitionId(1)};
const wal::TopicPartition kEvents7{"events", wal::PartitionId(7)};
const std::string kBinary("\x00\x01\xff\xfe", 4);

struct RunOutput {
  int exit_code = -1;
  std::string out;
  std::string err;
};

RunOutput RunWalctl(const std::vector<std::string>& args) {
  std::ostringstream out;
  std::ostringstream err;
  RunOutput r;
  r.exit_code = Run(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

bool IsRfc3339Micros(const std::string& s) {
  static const std::regex kRe(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$)");
  return std::regex_match(s, kRe);
}

class WalctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    wal::Options options;
    options.maintenance_interval = std::chrono::milliseconds(0);
    ASSERT_OK_AND_ASSIGN(auto store, wal::Store::Open(options, log_dir_));
    std::vector<std::string> payloads;
    for (int i = 0; i < 5; ++i) {
      payloads.push_back("row-" + std::to_string(i));
      keys_.push_back("GPU-" + std::to_string(i));
      uuids_.push_back(Uuid::NewV7());
    }
    std::vector<wal::RecordInput> inputs;
    for (int i = 0; i < 5; ++i)
      inputs.push_back({uuids_[i], keys_[i], payloads[i], {}});
    inputs[2].headers = headers_;
    ASSERT_OK(store->Append(kTelemetry0, inputs).status());

    std::vector<std::string> more = {"r1-0", "r1-1", "r1-2"};
    std::vector<wal::RecordInput> more_inputs;
    for (const auto& p : more)
      more_inputs.push_back({Uuid::NewV7(), "k", p, {}});
    ASSERT_OK(store->Append(kTelemetry1, more_inputs).status());

    std::vector<wal::RecordInput> events = {
        {Uuid::NewV7(), "bin", kBinary, binary_headers_},
        {Uuid::NewV7(), "multi", "line1\nline2", {}}};
    ASSERT_OK(store->Append(kEvents7, events).status());

    ASSERT_OK(store->Commit(kTelemetry0, "collectors", wal::Offset(3)).status());
    ASSERT_OK(store->Commit(kTelemetry0, "archiver", wal::Offset(1)).status());
    ASSERT_OK_AND_ASSIGN(auto records, store->Read(kTelemetry0, wal::Offset(0)));
    for (const auto& r : records)
      publish_times_.push_back(r.publish_time);
  }

  TempDir tmp_ = testing::MakeTempDir("walctl-test-");
  std::string log_dir_ = (tmp_.path() / "log").string();
  std::vector<Uuid> uuids_;
  std::vector<std::string> keys_;
  std::vector<wal::PublishTime> publish_times_;
  std::vector<wal::Header> headers_ = {{"content-type", "application/json"}};
  std::vector<wal::Header> binary_headers_ = {{"trace", kBinary}};
};

TEST_F(WalctlTest, PartitionsPrintsAlignedTable) {
  auto r = RunWalctl({"partitions", log_dir_});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "TOPIC      PARTITION  FIRST  NEXT  RECORDS\n"
            "events             7      0     2        2\n"
            "telemetry          0      0     5        5\n"
            "telemetry          1      0     3        3\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(WalctlTest, PartitionsJson) {
  auto r = RunWalctl({"partitions", log_dir_, "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["partitions"].size(), 3u);
  EXPECT_EQ(j["partitions"][0]["topic"], "events");
  EXPECT_EQ(j["partitions"][0]["partition"], 7);
  EXPECT_EQ(j["partitions"][1]["topic"], "telemetry");
  EXPECT_EQ(j["partitions"][1]["partition"], 0);
  EXPECT_EQ(j["partitions"][1]["first"], 0);
  EXPECT_EQ(j["partitions"][1]["next"], 5);
  EXPECT_EQ(j["partitions"][1]["records"], 5);
  EXPECT_EQ(j["partitions"][2]["next"], 3);
}

TEST_F(WalctlTest, DumpTableShowsEveryField) {
  auto r = RunWalctl({"dump", log_dir_, "--topic", "telemetry", "--partition", "0"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 6u) << r.out;
  EXPECT_EQ(lines[0].rfind("OFFSET  PUBLISH_TIME", 0), 0u) << lines[0];
  for (int i = 0; i < 5; ++i) {
    const std::string& line = lines[i + 1];
    std::istringstream fields(line);
    std::string offset, time, uuid, key, size, headers, payload;
    fields >> offset >> time >> uuid >> key >> size >> headers >> payload;
    EXPECT_EQ(offset, std::to_string(i));
    EXPECT_EQ(time, FormatRfc3339Micros(publish_times_[i]));
    EXPECT_EQ(uuid, uuids_[i].ToString());
    EXPECT_EQ(key, keys_[i]);
    EXPECT_EQ(size, "5");
    EXPECT_EQ(headers, i == 2 ? "content-type=application/json" : "-");
    EXPECT_EQ(payload, "row-" + std::to_string(i));
  }
  // Columns line up: every row has its payload at the same position.
  const size_t at = lines[0].find("PAYLOAD");
  for (size_t i = 1; i < lines.size(); ++i)
    EXPECT_EQ(lines[i].find("row-"), at) << lines[i];
}

TEST_F(WalctlTest, DumpJsonRecords) {
  auto r =
      RunWalctl({"dump", log_dir_, "--topic", "telemetry", "--partition", "0", "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["topic"], "telemetry");
  EXPECT_EQ(j["partition"], 0);
  EXPECT_EQ(j["first"], 0);
  EXPECT_EQ(j["next"], 5);
  EXPECT_FALSE(j.contains("error"));
  ASSERT_EQ(j["records"].size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const json& rec = j["records"][i];
    EXPECT_EQ(rec["offset"], i);
    EXPECT_EQ(rec["msg_uuid"], uuids_[i].ToString());
    EXPECT_EQ(rec["key"], keys_[i]);
    EXPECT_EQ(rec["key_encoding"], "text");
    EXPECT_EQ(rec["payload"], "row-" + std::to_string(i));
    EXPECT_EQ(rec["payload_encoding"], "text");
    EXPECT_EQ(rec["payload_size"], 5);
    EXPECT_GT(rec["stored_bytes"].get<uint64_t>(), 5u);
    EXPECT_TRUE(IsRfc3339Micros(rec["publish_time"])) << rec["publish_time"];
    EXPECT_EQ(rec["publish_time"], FormatRfc3339Micros(publish_times_[i]));
    EXPECT_EQ(rec["publish_time_us"], publish_times_[i].time_since_epoch().count());
  }
  ASSERT_EQ(j["records"][2]["headers"].size(), 1u);
  EXPECT_EQ(j["records"][2]["headers"][0]["key"], "content-type");
  EXPECT_EQ(j["records"][2]["headers"][0]["value"], "application/json");
  EXPECT_EQ(j["records"][2]["headers"][0]["value_encoding"], "text");
  EXPECT_TRUE(j["records"][0]["headers"].empty());
}

TEST_F(WalctlTest, DumpShowsBinaryAsBase64AndEscapesText) {
  auto r =
      RunWalctl({"dump", log_dir_, "--topic", "events", "--partition", "7", "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["records"].size(), 2u);
  EXPECT_EQ(j["records"][0]["payload"], "AAH//g==");
  EXPECT_EQ(j["records"][0]["payload_encoding"], "base64");
  EXPECT_EQ(j["records"][0]["payload_size"], 4);
  EXPECT_EQ(j["records"][0]["headers"][0]["value"], "AAH//g==");
  EXPECT_EQ(j["records"][0]["headers"][0]["value_encoding"], "base64");
  EXPECT_EQ(j["records"][1]["payload"], "line1\nline2");
  EXPECT_EQ(j["records"][1]["payload_encoding"], "text");

  auto table = RunWalctl({"dump", log_dir_, "--topic", "events", "--partition", "7"});
  ASSERT_EQ(table.exit_code, kExitOk) << table.err;
  const auto lines = Lines(table.out);
  ASSERT_EQ(lines.size(), 3u) << table.out;
  EXPECT_NE(lines[1].find("trace=base64:AAH//g=="), std::string::npos) << lines[1];
  EXPECT_EQ(lines[1].substr(lines[0].find("PAYLOAD")), "base64:AAH//g==") << lines[1];
  EXPECT_NE(lines[2].find("line1\\nline2"), std::string::npos) << lines[2];
}

TEST_F(WalctlTest, DumpFromAndLimit) {
  auto r = RunWalctl({"dump",
                      log_dir_,
                      "--topic",
                      "telemetry",
                      "--partition",
                      "0",
                      "--from",
                      "2",
                      "--limit",
                      "2",
                      "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["records"].size(), 2u);
  EXPECT_EQ(j["records"][0]["offset"], 2);
  EXPECT_EQ(j["records"][1]["offset"], 3);

  auto at_end = RunWalctl(
      {"dump", log_dir_, "--topic", "telemetry", "--partition", "0", "--from", "5"});
  ASSERT_EQ(at_end.exit_code, kExitOk) << at_end.err;
  EXPECT_EQ(Lines(at_end.out).size(), 1u) << "header only";

  auto beyond = RunWalctl(
      {"dump", log_dir_, "--topic", "telemetry", "--partition", "0", "--from", "6"});
  EXPECT_EQ(beyond.exit_code, kExitUsage);
  EXPECT_NE(beyond.err.find("beyond the next offset 5"), std::string::npos) << beyond.err;
}

TEST_F(WalctlTest, DumpUnknownPartitionIsUsageError) {
  auto r = RunWalctl({"dump", log_dir_, "--topic", "telemetry", "--partition", "9"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("telemetry/9"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(WalctlTest, OffsetsTable) {
  auto r = RunWalctl({"offsets", log_dir_});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "TOPIC      PARTITION  FIRST  NEXT  GROUP       COMMITTED  LAG\n"
            "events             7      0     2  -                   -    -\n"
            "telemetry          0      0     5  archiver            1    4\n"
            "telemetry          0      0     5  collectors          3    2\n"
            "telemetry          1      0     3  -                   -    -\n");
}

TEST_F(WalctlTest, OffsetsJson) {
  auto r = RunWalctl({"offsets", log_dir_, "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["partitions"].size(), 3u);
  const json& t0 = j["partitions"][1];
  EXPECT_EQ(t0["topic"], "telemetry");
  EXPECT_EQ(t0["first"], 0);
  EXPECT_EQ(t0["next"], 5);
  ASSERT_EQ(t0["groups"].size(), 2u);
  EXPECT_EQ(t0["groups"][0]["group"], "archiver");
  EXPECT_EQ(t0["groups"][0]["committed"], 1);
  EXPECT_EQ(t0["groups"][0]["lag_records"], 4);
  EXPECT_EQ(t0["groups"][1]["group"], "collectors");
  EXPECT_EQ(t0["groups"][1]["committed"], 3);
  EXPECT_EQ(t0["groups"][1]["lag_records"], 2);
  EXPECT_GT(t0["groups"][0]["lag_bytes"].get<uint64_t>(),
            t0["groups"][1]["lag_bytes"].get<uint64_t>());
  EXPECT_TRUE(j["partitions"][0]["groups"].empty());
}

TEST_F(WalctlTest, StatsTableAndJsonAgree) {
  auto r = RunWalctl({"stats", log_dir_, "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["partitions"].size(), 3u);
  uint64_t bytes = 0;
  for (const json& p : j["partitions"])
    bytes += p["bytes"].get<uint64_t>();
  const json& t0 = j["partitions"][1];
  EXPECT_EQ(t0["records"], 5);
  EXPECT_EQ(t0["backlog_records"], 4);  // against the lowest commit, archiver's 1
  EXPECT_EQ(j["partitions"][0]["backlog_records"], 2);  // no group: everything
  const json& totals = j["totals"];
  EXPECT_EQ(totals["partitions"], 3);
  EXPECT_EQ(totals["records"], 10);
  EXPECT_EQ(totals["bytes"], bytes);
  EXPECT_EQ(totals["backlog_records"], 9);
  EXPECT_GT(totals["disk_bytes"].get<uint64_t>(), bytes);

  auto table = RunWalctl({"stats", log_dir_});
  ASSERT_EQ(table.exit_code, kExitOk) << table.err;
  const auto lines = Lines(table.out);
  ASSERT_EQ(lines.size(), 6u) << table.out;
  EXPECT_EQ(lines[0],
            "TOPIC      PARTITION  RECORDS  BYTES  BACKLOG_RECORDS  BACKLOG_BYTES");
  EXPECT_EQ(lines[4].rfind("total: 3 partitions, 10 records, " + std::to_string(bytes) +
                               " bytes; backlog 9 records, ",
                           0),
            0u)
      << lines[4];
  EXPECT_EQ(lines[5].rfind("disk: ", 0), 0u);
  EXPECT_NE(lines[5].find(log_dir_), std::string::npos);
}

TEST_F(WalctlTest, VerifyIntactLog) {
  auto r = RunWalctl({"verify", log_dir_});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "verified 10 records in 3 partitions: ok\n");
  EXPECT_EQ(r.err, "");
  auto j = RunWalctl({"verify", log_dir_, "--json"});
  ASSERT_EQ(j.exit_code, kExitOk) << j.err;
  const json report = json::parse(j.out);
  EXPECT_EQ(report["ok"], true);
  EXPECT_EQ(report["records_checked"], 10);
  EXPECT_EQ(report["partitions"], 3);
  EXPECT_TRUE(report["corrupt"].empty());
  EXPECT_TRUE(report["problems"].empty());
}

TEST_F(WalctlTest, MissingDirectoryIsUsageError) {
  const std::string missing = (tmp_.path() / "no-such-log").string();
  for (const char* cmd : {"partitions", "offsets", "verify", "stats"}) {
    auto r = RunWalctl({cmd, missing});
    EXPECT_EQ(r.exit_code, kExitUsage) << cmd;
    EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_FALSE(std::filesystem::exists(missing)) << "walctl must not create it";
}

TEST_F(WalctlTest, NonLogDirectoryIsUsageError) {
  const auto plain = tmp_.path() / "plain";
  std::filesystem::create_directories(plain);
  { std::ofstream(plain / "notes.txt") << "hello"; }
  auto r = RunWalctl({"verify", plain.string()});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find(plain.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a log directory"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  // A file instead of a directory.
  auto file = RunWalctl({"partitions", (plain / "notes.txt").string()});
  EXPECT_EQ(file.exit_code, kExitUsage);
  EXPECT_NE(file.err.find("notes.txt"), std::string::npos) << file.err;
  // walctl leaves the directory as it found it.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(plain),
                          std::filesystem::directory_iterator()),
            1);
}

TEST_F(WalctlTest, EmptyLog) {
  const auto empty = tmp_.path() / "empty";
  {
    wal::Options options;
    options.maintenance_interval = std::chrono::milliseconds(0);
    ASSERT_OK(wal::Store::Open(options, empty).status());
  }
  auto r = RunWalctl({"verify", empty.string()});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "verified 0 records in 0 partitions: ok\n");
  auto p = RunWalctl({"partitions", empty.string(), "--json"});
  ASSERT_EQ(p.exit_code, kExitOk) << p.err;
  EXPECT_TRUE(json::parse(p.out)["partitions"].empty());
}

TEST_F(WalctlTest, ReadsLogThatIsOpenForWriting) {
  wal::Options options;
  options.maintenance_interval = std::chrono::milliseconds(0);
  ASSERT_OK_AND_ASSIGN(auto store, wal::Store::Open(options, log_dir_));
  std::vector<wal::RecordInput> more = {{Uuid::NewV7(), "k", "late", {}}};
  ASSERT_OK(store->Append(kTelemetry1, more).status());
  auto r = RunWalctl({"partitions", log_dir_, "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(json::parse(r.out)["partitions"][2]["next"], 4);
  auto v = RunWalctl({"verify", log_dir_});
  EXPECT_EQ(v.exit_code, kExitOk) << v.err;
  EXPECT_EQ(v.out, "verified 11 records in 3 partitions: ok\n");
}

TEST_F(WalctlTest, CommandLineErrors) {
  auto help = RunWalctl({"--help"});
  EXPECT_EQ(help.exit_code, kExitOk);
  for (const char* cmd : {"partitions", "dump", "offsets", "verify", "stats"})
    EXPECT_NE(help.out.find(cmd), std::string::npos) << cmd;
  auto dump_help = RunWalctl({"dump", "--help"});
  EXPECT_EQ(dump_help.exit_code, kExitOk);
  EXPECT_NE(dump_help.out.find("--limit"), std::string::npos);

  auto none = RunWalctl({});
  EXPECT_EQ(none.exit_code, kExitUsage);
  EXPECT_NE(none.err.find("subcommand"), std::string::npos) << none.err;
  auto no_topic = RunWalctl({"dump", log_dir_, "--partition", "0"});
  EXPECT_EQ(no_topic.exit_code, kExitUsage);
  EXPECT_NE(no_topic.err.find("--topic"), std::string::npos) << no_topic.err;
  auto no_dir = RunWalctl({"verify"});
  EXPECT_EQ(no_dir.exit_code, kExitUsage);
  auto unknown = RunWalctl({"compact", log_dir_});
  EXPECT_EQ(unknown.exit_code, kExitUsage);
}

TEST(WalctlFormatTest, Rfc3339Micros) {
  EXPECT_EQ(
      FormatRfc3339Micros(wal::PublishTime(std::chrono::microseconds(1714566896123456))),
      "2024-05-01T12:34:56.123456Z");
  EXPECT_EQ(FormatRfc3339Micros(wal::PublishTime(std::chrono::microseconds(0))),
            "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatRfc3339Micros(wal::PublishTime(std::chrono::microseconds(-1))),
            "1969-12-31T23:59:59.999999Z");
}

TEST(WalctlFormatTest, TextOrBase64) {
  EXPECT_TRUE(IsText(""));
  EXPECT_TRUE(IsText("plain text\twith tab\r\n"));
  EXPECT_TRUE(IsText("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsText(std::string("nul\0byte", 8)));
  EXPECT_FALSE(IsText("\x1b[31m"));
  EXPECT_FALSE(IsText("\xc3"));          // truncated
  EXPECT_FALSE(IsText("\xc0\xaf"));      // overlong
  EXPECT_FALSE(IsText("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(IsText("\xff"));
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(CellForBytes("a\tb\\c"), "a\\tb\\\\c");
  EXPECT_EQ(CellForBytes(kBinary), "base64:AAH//g==");
  EXPECT_EQ(CellForBytes(""), "\"\"");
}

TEST(WalctlFormatTest, TableAlignsAndRightAlignsNumbers) {
  Table table({{"NAME"}, {"N", true}, {"LAST"}});
  table.AddRow({"a", "1", "x"});
  table.AddRow({"longer", "100", ""});
  std::ostringstream out;
  table.Flush(out, /*with_header=*/true);
  EXPECT_EQ(out.str(),
            "NAME      N  LAST\n"
            "a         1  x\n"
            "longer  100\n");
}

}  // namespace
}  // namespace tp::walctl
