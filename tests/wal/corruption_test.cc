// Damaged stored records: the test writes a log, closes it, rewrites one record's value
// directly in RocksDB (key layout: wal/src/key_format.h), and checks that the store and
// `walctl verify` (run as a process) name exactly that record while its neighbours stay
// readable.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "key_format.h"
#include "tp/testing/testing.h"
#include "wal/store.h"

namespace tp::wal {
namespace {

using nlohmann::json;

const TopicPartition kTp{"telemetry", PartitionId(0)};
const TopicPartition kOther{"telemetry", PartitionId(1)};
constexpr uint64_t kRecords = 10;

std::string PayloadOf(uint64_t offset) {
  return "payload-record-" + std::to_string(offset) + "-" + std::string(40, 'x');
}

// Opens the log's RocksDB database directly, with the store's column families.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& dir) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {"records", rocksdb::ColumnFamilyOptions()},
        {"meta", rocksdb::ColumnFamilyOptions()}};
    rocksdb::DB* raw = nullptr;
    status_ = rocksdb::DB::Open(rocksdb::DBOptions(), dir.string(), cfs, &handles_, &raw);
    db_.reset(raw);
  }
  ~RawDb() {
    if (!db_)
      return;
    for (auto* h : handles_)
      db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  const rocksdb::Status& status() const { return status_; }
  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* records() const { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* meta() const { return handles_[2]; }

  std::string RecordKey(const TopicPartition& tp, uint64_t offset) const {
    std::string id;
    EXPECT_TRUE(
        db_->Get(rocksdb::ReadOptions(), meta(), keys::TopicKey(tp.topic), &id).ok());
    EXPECT_EQ(id.size(), 4u);
    return keys::RecordKey(keys::GetBE32(id.data()), tp.partition.value(), offset);
  }

 private:
  rocksdb::Status status_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> db_;
};

enum class Damage { kPayloadByte, kEnvelopeByte, kTruncated };

struct DamageCase {
  Damage damage;
  uint64_t offset;
  const char* reason;  // expected in the Corruption message
};

std::string CaseName(const ::testing::TestParamInfo<DamageCase>& info) {
  const char* kind = info.param.damage == Damage::kPayloadByte    ? "PayloadByte"
                     : info.param.damage == Damage::kEnvelopeByte ? "EnvelopeByte"
                                                                  : "Truncated";
  return std::string(kind) + "At" + std::to_string(info.param.offset);
}

class CorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.maintenance_interval = std::chrono::milliseconds(0);
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(options, dir_));
    std::vector<std::string> payloads;
    for (uint64_t i = 0; i < kRecords; ++i)
      payloads.push_back(PayloadOf(i));
    std::vector<RecordInput> inputs;
    for (const auto& p : payloads)
      inputs.push_back({Uuid::NewV7(), "key", p, {}});
    ASSERT_OK(store->Append(kTp, inputs).status());
    std::vector<RecordInput> other(inputs.begin(), inputs.begin() + 3);
    ASSERT_OK(store->Append(kOther, other).status());
  }

  // Rewrites the stored value of kTp@offset with `mutate` applied, store closed.
  void DamageRecord(uint64_t offset, const std::function<void(std::string*)>& mutate) {
    RawDb raw(dir_);
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    const std::string key = raw.RecordKey(kTp, offset);
    std::string value;
    ASSERT_TRUE(raw.db()->Get(rocksdb::ReadOptions(), raw.records(), key, &value).ok());
    mutate(&value);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    ASSERT_TRUE(raw.db()->Put(wo, raw.records(), key, value).ok());
  }

  void ApplyDamage(const DamageCase& c) {
    DamageRecord(c.offset, [&](std::string* value) {
      switch (c.damage) {
        case Damage::kPayloadByte: {
          const size_t at = value->find(PayloadOf(c.offset));
          ASSERT_NE(at, std::string::npos) << "payload bytes not found in the value";
          (*value)[at + 20] ^= 0x01;  // inside the payload, past the unique prefix
          break;
        }
        case Damage::kEnvelopeByte:
          (*value)[7] ^= 0xff;  // the cumulative byte count
          break;
        case Damage::kTruncated:
          value->resize(10);
          break;
      }
    });
  }

  static testing::ProcessOutput Walctl(std::vector<std::string> args) {
    args.insert(args.begin(), (testing::BinDir() / "walctl").string());
    return testing::RunProcess(args);
  }

  TempDir tmp_ = testing::MakeTempDir("wal-corruption-");
  std::filesystem::path dir_ = tmp_.path() / "log";
};

class DamagedRecordTest : public CorruptionTest,
                          public ::testing::WithParamInterface<DamageCase> {};

TEST_P(DamagedRecordTest, IsReportedByStoreAndWalctlWhileNeighboursStayReadable) {
  const DamageCase c = GetParam();
  ASSERT_NO_FATAL_FAILURE(ApplyDamage(c));
  const std::string where = kTp.ToString() + "@" + std::to_string(c.offset);
  {
    Options options;
    options.maintenance_interval = std::chrono::milliseconds(0);
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(options, dir_));
    ASSERT_OK_AND_ASSIGN(PartitionStats stats, store->Stats(kTp));
    EXPECT_EQ(stats.next, Offset(kRecords)) << "a damaged record keeps its offset";

    auto damaged = store->Read(kTp, Offset(c.offset));
    ASSERT_EQ(damaged.status().code(), StatusCode::kCorruption);
    EXPECT_NE(damaged.status().message().find(where), std::string::npos)
        << damaged.status().ToString();
    EXPECT_NE(damaged.status().message().find(c.reason), std::string::npos)
        << damaged.status().ToString();

    // A range spanning it returns the good prefix (none if it is the first record).
    if (c.offset > 0) {
      ASSERT_OK_AND_ASSIGN(auto prefix, store->Read(kTp, Offset(0)));
      ASSERT_EQ(prefix.size(), c.offset) << "good prefix of a read spanning " << where;
      for (uint64_t i = 0; i < prefix.size(); ++i) {
        EXPECT_EQ(prefix[i].offset, Offset(i));
        EXPECT_EQ(prefix[i].payload, PayloadOf(i));
      }
      ASSERT_OK_AND_ASSIGN(auto before, store->Read(kTp, Offset(c.offset - 1)));
      ASSERT_EQ(before.size(), 1u);
      EXPECT_EQ(before[0].offset, Offset(c.offset - 1));
    }
    // Everything after it still reads.
    if (c.offset + 1 < kRecords) {
      ASSERT_OK_AND_ASSIGN(auto after, store->Read(kTp, Offset(c.offset + 1)));
      ASSERT_EQ(after.size(), kRecords - c.offset - 1);
      for (const Record& r : after)
        EXPECT_EQ(r.payload, PayloadOf(r.offset.value()));
    }
    ASSERT_OK_AND_ASSIGN(auto other, store->Read(kOther, Offset(0)));
    EXPECT_EQ(other.size(), 3u);

    const VerifyReport report = store->Verify();
    EXPECT_EQ(report.records_checked, kRecords + 3);
    ASSERT_EQ(report.corrupt.size(), 1u);
    EXPECT_EQ(report.corrupt[0].tp, kTp);
    EXPECT_EQ(report.corrupt[0].offset, Offset(c.offset));
    EXPECT_NE(report.corrupt[0].reason.find(c.reason), std::string::npos)
        << report.corrupt[0].reason;
    EXPECT_TRUE(report.problems.empty()) << report.problems.front();
  }

  auto verify = Walctl({"verify", dir_.string()});
  EXPECT_EQ(verify.exit_code, 1) << verify.out << verify.err;
  EXPECT_NE(verify.err.find(where), std::string::npos) << verify.err;
  EXPECT_NE(verify.out.find("verified " + std::to_string(kRecords + 3) +
                            " records in 2 partitions: 1 corrupt records"),
            std::string::npos)
      << verify.out;
  EXPECT_NE(verify.out.find(c.reason), std::string::npos) << verify.out;

  auto verify_json = Walctl({"verify", dir_.string(), "--json"});
  EXPECT_EQ(verify_json.exit_code, 1);
  const json report = json::parse(verify_json.out);
  EXPECT_EQ(report["ok"], false);
  ASSERT_EQ(report["corrupt"].size(), 1u);
  EXPECT_EQ(report["corrupt"][0]["topic"], "telemetry");
  EXPECT_EQ(report["corrupt"][0]["partition"], 0);
  EXPECT_EQ(report["corrupt"][0]["offset"], c.offset);

  // dump prints the good prefix, then fails naming the record.
  auto dump = Walctl(
      {"dump", dir_.string(), "--topic", "telemetry", "--partition", "0", "--json"});
  EXPECT_EQ(dump.exit_code, 1);
  EXPECT_NE(dump.err.find(where), std::string::npos) << dump.err;
  const json records = json::parse(dump.out);
  EXPECT_EQ(records["records"].size(), c.offset);
  EXPECT_NE(records["error"].get<std::string>().find(where), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Damages,
    DamagedRecordTest,
    ::testing::Values(DamageCase{Damage::kPayloadByte, 5, "record checksum mismatch"},
                      DamageCase{Damage::kPayloadByte, 0, "record checksum mismatch"},
                      DamageCase{Damage::kPayloadByte, 9, "record checksum mismatch"},
                      DamageCase{Damage::kEnvelopeByte, 5, "envelope checksum mismatch"},
                      DamageCase{Damage::kEnvelopeByte, 9, "envelope checksum mismatch"},
                      DamageCase{Damage::kTruncated, 3, "shorter than its envelope"}),
    CaseName);

TEST_F(CorruptionTest, UndamagedLogVerifiesClean) {
  auto verify = Walctl({"verify", dir_.string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_EQ(verify.out, "verified 13 records in 2 partitions: ok\n");
  EXPECT_EQ(verify.err, "");
}

TEST_F(CorruptionTest, PlainRocksDbIsNotALog) {
  const auto plain = tmp_.path() / "plain-rocksdb";
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, plain.string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
  }
  EXPECT_EQ(Store::OpenSecondary(plain, tmp_.path() / "scratch").status().code(),
            StatusCode::kInvalidArgument);
  auto verify = Walctl({"verify", plain.string()});
  EXPECT_EQ(verify.exit_code, 2);
  EXPECT_NE(verify.err.find(plain.string()), std::string::npos) << verify.err;
  EXPECT_NE(verify.err.find("not a log"), std::string::npos) << verify.err;
}

// Store bug (see the report of the walctl change): a record that is missing from the
// middle of a partition (offsets are documented as dense) is skipped silently by Read,
// which hands out the next record with a higher offset instead of reporting the hole;
// only Verify notices. Run with --gtest_also_run_disabled_tests.
TEST_F(CorruptionTest, ReadReportsMissingOffsetAsCorruption) {
  {
    RawDb raw(dir_);
    ASSERT_TRUE(raw.status().ok()) << raw.status().ToString();
    rocksdb::WriteOptions wo;
    wo.sync = true;
    ASSERT_TRUE(raw.db()->Delete(wo, raw.records(), raw.RecordKey(kTp, 5)).ok());
  }
  Options options;
  options.maintenance_interval = std::chrono::milliseconds(0);
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open(options, dir_));
  const VerifyReport report = store->Verify();
  // Verify does see the hole ("offsets 5..5 are missing", then a byte-position mismatch).
  ASSERT_FALSE(report.problems.empty());
  EXPECT_NE(report.problems[0].find("5..5 are missing"), std::string::npos)
      << report.problems[0];
  // Read does not: from 5 it returns offset 6 as the first record.
  auto at_hole = store->Read(kTp, Offset(5));
  EXPECT_EQ(at_hole.status().code(), StatusCode::kCorruption)
      << "Read(5) returned " << (at_hole.ok() ? at_hole->size() : 0)
      << " records starting at offset "
      << (at_hole.ok() && !at_hole->empty() ? at_hole->front().offset.value() : 0);
  // A read spanning the hole should stop before it, as it does before a damaged record.
  ASSERT_OK_AND_ASSIGN(auto prefix, store->Read(kTp, Offset(0)));
  EXPECT_EQ(prefix.size(), 5u);
}

}  // namespace
}  // namespace tp::wal
