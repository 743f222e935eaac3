// The `migrate` binary end to end: real processes against a real PostgreSQL.
#include <fstream>
#include <future>

#include <pqxx/nontransaction>

#include "tp/migrate/migrate.h"
#include "tp/pg/connection.h"
#include "tp/testing/postgres_server.h"
#include "tp/testing/testing.h"

namespace tp::migrate {
namespace {

using ::tp::testing::ProcessOutput;

int CountOf(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

class MigrateCliTest : public ::tp::testing::PostgresTest {
 protected:
  ProcessOutput Migrate(std::vector<std::string> args) {
    std::vector<std::string> argv = {
        (::tp::testing::BinDir() / "migrate").string(), "--database-url", conninfo()};
    argv.insert(argv.end(), args.begin(), args.end());
    return ::tp::testing::RunProcess(argv);
  }
};

TEST_F(MigrateCliTest, UpStatusVersionDown) {
  ProcessOutput up = Migrate({"up"});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_EQ(CountOf(up.out, "applied "), 3) << up.out;
  EXPECT_NE(up.out.find("applied 1_create_telemetry"), std::string::npos) << up.out;
  EXPECT_NE(up.out.find("database at version 3"), std::string::npos) << up.out;

  ProcessOutput version = Migrate({"version"});
  ASSERT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out, "3\n");

  ProcessOutput down = Migrate({"down", "2"});
  ASSERT_EQ(down.exit_code, 0) << down.err;
  EXPECT_NE(down.out.find("reverted 3_telemetry_retention"), std::string::npos)
      << down.out;
  EXPECT_NE(down.out.find("reverted 2_create_gpus"), std::string::npos) << down.out;

  ProcessOutput status = Migrate({"status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("create_telemetry"), std::string::npos);
  EXPECT_EQ(CountOf(status.out, "applied"), 1) << status.out;
  EXPECT_EQ(CountOf(status.out, "pending"), 2) << status.out;

  ProcessOutput one_more = Migrate({"down"});  // default: one step
  ASSERT_EQ(one_more.exit_code, 0) << one_more.err;
  EXPECT_EQ(Migrate({"version"}).out, "none\n");
  ASSERT_EQ(Migrate({"up"}).exit_code, 0);
  ProcessOutput all = Migrate({"down", "--all"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(CountOf(all.out, "reverted "), 3) << all.out;
}

TEST_F(MigrateCliTest, TwoConcurrentRunnersApplyOnce) {
  for (int round = 0; round < 3; ++round) {
    auto a = std::async(std::launch::async, [&] { return Migrate({"up"}); });
    auto b = std::async(std::launch::async, [&] { return Migrate({"up"}); });
    ProcessOutput ra = a.get();
    ProcessOutput rb = b.get();
    ASSERT_EQ(ra.exit_code, 0) << ra.err;
    ASSERT_EQ(rb.exit_code, 0) << rb.err;
    EXPECT_EQ(CountOf(ra.out + rb.out, "applied "), 3) << ra.out << "---" << rb.out;
    EXPECT_EQ(Migrate({"version"}).out, "3\n");
    ASSERT_EQ(Migrate({"down", "--all"}).exit_code, 0);
  }
}

TEST_F(MigrateCliTest, DirtyDatabaseRefusesWithOneLineError) {
  ASSERT_EQ(Migrate({"up"}).exit_code, 0);
  ASSERT_OK_AND_ASSIGN(auto conn, pg::Connect(conninfo()));
  {
    pqxx::nontransaction tx(*conn);
    tx.exec("UPDATE schema_migrations SET version = 2, dirty = true");
  }
  EXPECT_EQ(Migrate({"version"}).out, "2 (dirty)\n");
  ProcessOutput up = Migrate({"up"});
  EXPECT_EQ(up.exit_code, 1);
  EXPECT_NE(up.err.find("dirty at version 2"), std::string::npos) << up.err;
  EXPECT_EQ(CountOf(up.err, "\n"), 1) << up.err;
  ProcessOutput force = Migrate({"force", "3"});
  ASSERT_EQ(force.exit_code, 0) << force.err;
  ProcessOutput again = Migrate({"up"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("no change: database at version 3"), std::string::npos);
}

TEST_F(MigrateCliTest, DatabaseUrlFromEnvironment) {
  ProcessOutput r =
      ::tp::testing::RunProcess({"/usr/bin/env",
                                 "DATABASE_URL=" + server().ConnectionUri(),
                                 (::tp::testing::BinDir() / "migrate").string(),
                                 "version"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "none\n");
}

TEST_F(MigrateCliTest, MigrationsDirOverridesEmbeddedFiles) {
  auto dir = ::tp::testing::MakeTempDir();
  std::ofstream(dir.path() / "0001_only.up.sql") << "CREATE TABLE only_one (id int);";
  std::ofstream(dir.path() / "0001_only.down.sql") << "DROP TABLE only_one;";
  std::ofstream(dir.path() / "README.md") << "ignored";
  ProcessOutput up = Migrate({"--migrations-dir", dir.path().string(), "up"});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_NE(up.out.find("applied 1_only"), std::string::npos) << up.out;
  ProcessOutput status = Migrate({"--migrations-dir", dir.path().string(), "status"});
  EXPECT_EQ(CountOf(status.out, "applied"), 1) << status.out;
  EXPECT_EQ(status.out.find("create_telemetry"), std::string::npos) << status.out;
}

TEST_F(MigrateCliTest, BadInputsFailWithOneLine) {
  ProcessOutput bad_url =
      ::tp::testing::RunProcess({(::tp::testing::BinDir() / "migrate").string(),
                                 "--database-url",
                                 "host=x nope=1",
                                 "up"});
  EXPECT_EQ(bad_url.exit_code, 1);
  EXPECT_NE(bad_url.err.find("invalid database connection string"), std::string::npos)
      << bad_url.err;
  EXPECT_EQ(CountOf(bad_url.err, "\n"), 1) << bad_url.err;

  ProcessOutput unreachable =
      ::tp::testing::RunProcess({(::tp::testing::BinDir() / "migrate").string(),
                                 "--database-url",
                                 "host=/tmp/tp-pg-missing user=postgres password=hunter2",
                                 "status"});
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_NE(unreachable.err.find("Unavailable"), std::string::npos) << unreachable.err;
  EXPECT_EQ(unreachable.err.find("hunter2"), std::string::npos) << unreachable.err;

  EXPECT_EQ(Migrate({}).exit_code, 2);
  EXPECT_EQ(Migrate({"sideways"}).exit_code, 2);
  EXPECT_EQ(Migrate({"down", "0"}).exit_code, 2);
  EXPECT_EQ(Migrate({"force", "banana"}).exit_code, 1);
}

}  // namespace
}  // namespace tp::migrate
