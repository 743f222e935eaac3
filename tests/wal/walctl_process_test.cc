// The walctl binary run as a process against a log that another process
// (wal_crash_writer) holds open and keeps appending to: every subcommand must succeed,
// see at least what was acknowledged before it started, and leave the writer running.
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crash_payload.h"
#include "tp/testing/child_process.h"
#include "tp/testing/testing.h"

namespace tp::wal {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int kRounds = 3;

std::string Base64Decode(const std::string& in) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=')
      break;
    const size_t v = kAlphabet.find(c);
    if (v == std::string::npos)
      return "<invalid base64>";
    acc = acc << 6 | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string Bytes(const json& obj, const std::string& name) {
  const std::string value = obj[name].get<std::string>();
  return obj[name + "_encoding"] == "base64" ? Base64Decode(value) : value;
}

testing::ProcessOutput Walctl(std::vector<std::string> args) {
  args.insert(args.begin(), (testing::BinDir() / "walctl").string());
  return testing::RunProcess(args);
}

// Highest acknowledged end offset per partition in `lines` ("partition first count").
std::map<uint32_t, uint64_t> AckedEnds(const std::vector<std::string>& lines) {
  std::map<uint32_t, uint64_t> ends;
  for (const std::string& line : lines) {
    unsigned p = 0;
    unsigned long long first = 0;
    unsigned count = 0;
    if (std::sscanf(line.c_str(), "%u %llu %u", &p, &first, &count) == 3)
      ends[p] = std::max<uint64_t>(ends[p], first + count);
  }
  return ends;
}

TEST(WalctlProcessTest, InspectsLogWhileAnotherProcessAppends) {
  TempDir tmp = testing::MakeTempDir("walctl-process-");
  const std::string dir = (tmp.path() / "log").string();
  const auto writer = testing::BinDir() / "wal_crash_writer";
  ASSERT_TRUE(std::filesystem::exists(writer)) << writer;
  ASSERT_TRUE(std::filesystem::exists(testing::BinDir() / "walctl"));
  testing::ChildProcess child({writer.string(),
                               "--dir",
                               dir,
                               "--threads",
                               "3",
                               "--max-seconds",
                               "60",
                               "--pause-ms",
                               "20"},
                              tmp.path() / "writer.stderr");
  ASSERT_GE(child.WaitForLines(30, 15s), 30u) << child.Stderr();

  const size_t acked_at_start = child.Lines().size();
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const auto acked = AckedEnds(child.Lines());

    auto partitions = Walctl({"partitions", dir, "--json"});
    ASSERT_EQ(partitions.exit_code, 0) << partitions.err;
    std::map<uint32_t, uint64_t> next;
    const json listed = json::parse(partitions.out);
    for (const json& p : listed["partitions"]) {
      EXPECT_EQ(p["topic"], crashtest::kTopic);
      next[p["partition"].get<uint32_t>()] = p["next"].get<uint64_t>();
    }
    for (const auto& [p, end] : acked) {
      EXPECT_GE(next[p], end) << "partition " << p
                              << ": walctl must see every append acked before it ran";
    }

    auto table = Walctl({"partitions", dir});
    ASSERT_EQ(table.exit_code, 0) << table.err;
    EXPECT_EQ(table.out.rfind("TOPIC  PARTITION", 0), 0u) << table.out;

    // The records walctl shows are the ones the writer wrote, byte for byte.
    auto dump = Walctl({"dump",
                        dir,
                        "--topic",
                        crashtest::kTopic,
                        "--partition",
                        "0",
                        "--limit",
                        "300",
                        "--json"});
    ASSERT_EQ(dump.exit_code, 0) << dump.err;
    const json records = json::parse(dump.out)["records"];
    EXPECT_FALSE(records.empty());
    uint64_t expected_offset = 0;
    for (const json& r : records) {
      const uint64_t o = r["offset"].get<uint64_t>();
      ASSERT_EQ(o, expected_offset++);
      ASSERT_EQ(Bytes(r, "payload"), crashtest::OwnedPayload(0, o)) << "offset " << o;
      ASSERT_EQ(r["msg_uuid"], crashtest::OwnedUuid(0, o).ToString());
      ASSERT_EQ(Bytes(r, "key"), crashtest::OwnedKey(0, o));
    }
    auto dump_table = Walctl({"dump",
                              dir,
                              "--topic",
                              crashtest::kTopic,
                              "--partition",
                              "100",
                              "--limit",
                              "5"});
    ASSERT_EQ(dump_table.exit_code, 0) << dump_table.err;

    auto verify = Walctl({"verify", dir});
    ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    EXPECT_EQ(verify.out.rfind("verified ", 0), 0u) << verify.out;
    EXPECT_NE(verify.out.find(" partitions: ok\n"), std::string::npos) << verify.out;

    auto offsets = Walctl({"offsets", dir, "--json"});
    ASSERT_EQ(offsets.exit_code, 0) << offsets.err;
    EXPECT_FALSE(json::parse(offsets.out)["partitions"].empty());
    auto stats = Walctl({"stats", dir});
    ASSERT_EQ(stats.exit_code, 0) << stats.err;
    EXPECT_NE(stats.out.find("total: "), std::string::npos) << stats.out;

    ASSERT_FALSE(child.Exited()) << "the writer died: " << child.Stderr();
  }
  EXPECT_GT(child.Lines().size(), acked_at_start) << "the writer kept appending";
  child.KillAndWait();
  EXPECT_EQ(child.Stderr(), "");
}

TEST(WalctlProcessTest, ExitCodesOfTheBinary) {
  TempDir tmp = testing::MakeTempDir("walctl-process-");
  auto help = Walctl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("verify"), std::string::npos);
  const std::string missing = (tmp.path() / "missing").string();
  auto r = Walctl({"verify", missing});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
  auto bad = Walctl({"verify", missing, "--no-such-flag"});
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace
}  // namespace tp::wal
