#include "broker/membership.h"

#include <fstream>
#include <vector>

#include <gtest/gtest.h>

#include "tp/testing/testing.h"

namespace tp::broker {
namespace {

TEST(MembershipTest, RangesCoverEveryPartitionOnce) {
  for (uint32_t m = 1; m <= 7; ++m) {
    std::vector<int> hits(256, 0);
    for (uint32_t i = 0; i < m; ++i) {
      PartitionRange r = RangeFor({i, m}, 256);
      EXPECT_EQ(r.begin, 256 * i / m);
      EXPECT_EQ(r.end, 256 * (i + 1) / m);
      for (uint32_t p = r.begin; p < r.end; ++p) {
        ++hits[p];
      }
    }
    for (int h : hits) {
      ASSERT_EQ(h, 1) << "replicas " << m;
    }
  }
}

TEST(MembershipTest, OrdinalFromHostname) {
  EXPECT_EQ(*OrdinalFromHostname("broker-reader-3"), 3u);
  EXPECT_EQ(*OrdinalFromHostname("r-0"), 0u);
  EXPECT_FALSE(OrdinalFromHostname("reader").ok());
  EXPECT_FALSE(OrdinalFromHostname("reader-").ok());
  EXPECT_FALSE(OrdinalFromHostname("reader-x1").ok());
}

TEST(MembershipTest, ParseAssignmentJsonNamesField) {
  EXPECT_EQ(*ParseAssignmentJson(R"({"ordinal":1,"replicas":3})"), (Assignment{1, 3}));
  auto r = ParseAssignmentJson(R"({"ordinal":1})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("replicas"), std::string::npos);
  EXPECT_FALSE(ParseAssignmentJson(R"({"ordinal":3,"replicas":3})").ok());
  EXPECT_FALSE(ParseAssignmentJson(R"({"ordinal":-1,"replicas":3})").ok());
  EXPECT_FALSE(ParseAssignmentJson("not json").ok());
}

TEST(MembershipTest, StaticMembership) {
  EXPECT_EQ(*StaticMembership({2, 4})->Current(), (Assignment{2, 4}));
  EXPECT_FALSE(StaticMembership({4, 4})->Current().ok());
}

TEST(MembershipTest, FileIsRereadAndInvalidContentKeepsLastGood) {
  TempDir dir = tp::testing::MakeTempDir();
  auto path = dir.path() / "membership.json";
  auto write = [&](const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
  };
  auto m = FileMembership(path);
  EXPECT_FALSE(m->Current().ok());  // missing, nothing good yet
  write(R"({"ordinal":0,"replicas":2})");
  EXPECT_EQ(*m->Current(), (Assignment{0, 2}));
  write(R"({"ordinal":1,"replicas":2})");
  EXPECT_EQ(*m->Current(), (Assignment{1, 2}));
  write("{broken");
  EXPECT_EQ(*m->Current(), (Assignment{1, 2}));
  write(R"({"ordinal":5,"replicas":2})");
  EXPECT_EQ(*m->Current(), (Assignment{1, 2}));
  write(R"({"ordinal":2,"replicas":3})");
  EXPECT_EQ(*m->Current(), (Assignment{2, 3}));
}

TEST(MembershipTest, DnsCountsRecordsAndKeepsLastGood) {
  std::vector<std::string> records = {"10.0.0.1", "10.0.0.2", "10.0.0.2"};
  bool fail = false;
  auto m = DnsMembership("readers.ns.svc",
                         "broker-reader-1",
                         [&](const std::string&) -> Result<std::vector<std::string>> {
                           if (fail) {
                             return Status::Unavailable("no dns");
                           }
                           return records;
                         });
  EXPECT_EQ(*m->Current(), (Assignment{1, 2}));
  records.push_back("10.0.0.3");
  EXPECT_EQ(*m->Current(), (Assignment{1, 3}));
  fail = true;
  EXPECT_EQ(*m->Current(), (Assignment{1, 3}));
  fail = false;
  records = {"10.0.0.1"};  // ordinal 1 not covered yet: keep the last good
  EXPECT_EQ(*m->Current(), (Assignment{1, 3}));
}

TEST(MembershipTest, ParseDnsWriters) {
  auto w = ParseDnsWriters("dns:broker-writer.ns.svc:8081");
  ASSERT_OK(w.status());
  EXPECT_EQ(w->name, "broker-writer.ns.svc");
  EXPECT_EQ(w->port, 8081);
  for (const char* bad : {"broker-writer:8081",
                          "dns:broker-writer",
                          "dns::8081",
                          "dns:broker-writer:",
                          "dns:broker-writer:0",
                          "dns:broker-writer:65536",
                          "dns:broker-writer:80x"}) {
    EXPECT_EQ(ParseDnsWriters(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(MembershipTest, ResolveWriterUrlsBracketsIpv6AndSorts) {
  std::vector<std::string> records = {"10.0.0.2", "fd00::1", "10.0.0.1", "10.0.0.2"};
  Status failure = Status::Ok();
  Resolver resolver = [&](const std::string& name) -> Result<std::vector<std::string>> {
    EXPECT_EQ(name, "w.ns.svc");
    if (!failure.ok()) {
      return failure;
    }
    return records;
  };
  auto urls = ResolveWriterUrls({"w.ns.svc", 8081}, resolver);
  ASSERT_OK(urls.status());
  EXPECT_EQ(
      *urls,
      (std::vector<std::string>{
          "http://10.0.0.1:8081", "http://10.0.0.2:8081", "http://[fd00::1]:8081"}));
  records.clear();
  EXPECT_EQ(ResolveWriterUrls({"w.ns.svc", 8081}, resolver).status().code(),
            StatusCode::kUnavailable);
  failure = Status::Unavailable("no such host");
  EXPECT_EQ(ResolveWriterUrls({"w.ns.svc", 8081}, resolver).status().code(),
            StatusCode::kUnavailable);
  // The system resolver answers for the loopback name without a network.
  auto local = ResolveWriterUrls({"localhost", 8081});
  ASSERT_OK(local.status());
  EXPECT_FALSE(local->empty());
}

}  // namespace
}  // namespace tp::broker
