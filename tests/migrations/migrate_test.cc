#include "tp/migrate/migrate.h"

#include <fstream>

#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include "tp/pg/connection.h"
#include "tp/pg/error.h"
#include "tp/testing/postgres_server.h"
#include "tp/testing/testing.h"

namespace tp::migrate {
namespace {

std::vector<Migration> FirstN(std::size_t n) {
  auto all = EmbeddedMigrations();
  all.resize(std::min(n, all.size()));
  return all;
}

class MigratorTest : public ::tp::testing::PostgresTest {
 protected:
  void SetUp() override {
    PostgresTest::SetUp();
    auto conn = pg::Connect(conninfo());
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::move(conn).value();
  }

  std::vector<std::string> Column(const std::string& sql) {
    pqxx::nontransaction tx(*conn_);
    std::vector<std::string> out;
    for (const auto& row : tx.exec(sql))
      out.push_back(row[0].c_str());
    return out;
  }
  std::vector<std::string> Tables() {
    return Column(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  }

  std::unique_ptr<pqxx::connection> conn_;
};

TEST(MigrationSourceTest, EmbeddedCopyMatchesTheSourceFolder) {
  ASSERT_OK_AND_ASSIGN(auto on_disk, LoadMigrations(TP_MIGRATIONS_SOURCE_DIR));
  const auto& embedded = EmbeddedMigrations();
  ASSERT_EQ(on_disk.size(), embedded.size())
      << "a migration is missing from TP_MIGRATION_FILES in migrations/CMakeLists.txt";
  for (std::size_t i = 0; i < embedded.size(); ++i) {
    EXPECT_EQ(embedded[i].version, on_disk[i].version);
    EXPECT_EQ(embedded[i].name, on_disk[i].name);
    EXPECT_EQ(embedded[i].up_sql, on_disk[i].up_sql);
    EXPECT_EQ(embedded[i].down_sql, on_disk[i].down_sql);
  }
  ASSERT_GE(embedded.size(), 3u);
  EXPECT_EQ(embedded[0].version, Version(1));
  EXPECT_EQ(embedded[0].name, "create_telemetry");
}

TEST(MigrationSourceTest, RejectsMalformedSets) {
  EXPECT_EQ(ParseMigrations({{"0001_a.up.sql", ""}}).status().code(),
            StatusCode::kInvalidArgument);  // no down
  EXPECT_EQ(ParseMigrations({{"create.up.sql", ""}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseMigrations({{"0001_.up.sql", ""}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseMigrations(
                {{"0001_a.up.sql", ""}, {"0001_a.down.sql", ""}, {"1_b.up.sql", ""}})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(auto ok,
                       ParseMigrations({{"0010_b.down.sql", "d"},
                                        {"0002_a.up.sql", "u"},
                                        {"0002_a.down.sql", "x"},
                                        {"0010_b.up.sql", "y"}}));
  ASSERT_EQ(ok.size(), 2u);
  EXPECT_EQ(ok[0].version, Version(2));
  EXPECT_EQ(ok[1].version, Version(10));
  EXPECT_EQ(ok[1].up_sql, "y");
  EXPECT_EQ(LoadMigrations("/nonexistent/dir").status().code(), StatusCode::kNotFound);
}

TEST_F(MigratorTest, UpDownUpOnARealDatabase) {
  Migrator m(*conn_, EmbeddedMigrations());
  ASSERT_OK_AND_ASSIGN(SchemaVersion before, m.CurrentVersion());
  EXPECT_EQ(before, SchemaVersion{});
  EXPECT_EQ(m.CheckCurrent().code(), StatusCode::kFailedPrecondition);

  ASSERT_OK_AND_ASSIGN(int applied, m.Up());
  EXPECT_EQ(applied, static_cast<int>(EmbeddedMigrations().size()));
  ASSERT_OK_AND_ASSIGN(SchemaVersion after, m.CurrentVersion());
  EXPECT_EQ(after, (SchemaVersion{m.LatestVersion(), false}));
  EXPECT_OK(m.CheckCurrent());
  EXPECT_EQ(Tables(),
            (std::vector<std::string>{"gpus", "schema_migrations", "telemetry"}));

  ASSERT_OK_AND_ASSIGN(int again, m.Up());
  EXPECT_EQ(again, 0);

  ASSERT_OK_AND_ASSIGN(int reverted, m.DownAll());
  EXPECT_EQ(reverted, applied);
  EXPECT_EQ(Tables(), (std::vector<std::string>{"schema_migrations"}));
  EXPECT_TRUE(Column("SELECT version::text FROM schema_migrations").empty());
  EXPECT_TRUE(Column("SELECT proname::text FROM pg_proc WHERE proname LIKE 'telemetry%'")
                  .empty());

  ASSERT_OK_AND_ASSIGN(int reapplied, m.Up());
  EXPECT_EQ(reapplied, applied);
  EXPECT_OK(m.CheckCurrent());
}

TEST_F(MigratorTest, DownNRevertsNewestFirst) {
  Migrator m(*conn_, EmbeddedMigrations());
  ASSERT_OK(m.Up().status());
  ASSERT_OK_AND_ASSIGN(int reverted, m.Down(2));
  EXPECT_EQ(reverted, 2);
  ASSERT_OK_AND_ASSIGN(SchemaVersion v, m.CurrentVersion());
  EXPECT_EQ(v, (SchemaVersion{Version(1), false}));
  EXPECT_EQ(Tables(), (std::vector<std::string>{"schema_migrations", "telemetry"}));
  ASSERT_OK_AND_ASSIGN(auto states, m.States());
  ASSERT_EQ(states.size(), 3u);
  EXPECT_TRUE(states[0].applied);
  EXPECT_FALSE(states[1].applied);
  EXPECT_FALSE(states[2].applied);
  // More steps than applied: reverts what there is.
  ASSERT_OK_AND_ASSIGN(int rest, m.Down(10));
  EXPECT_EQ(rest, 1);
  EXPECT_EQ(m.Down(0).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(MigratorTest, BehindSchemaFailsReadiness) {
  Migrator old_release(*conn_, FirstN(1));
  ASSERT_OK(old_release.Up().status());
  EXPECT_OK(old_release.CheckCurrent());
  Migrator new_release(*conn_, EmbeddedMigrations());
  Status s = new_release.CheckCurrent();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("behind"), std::string::npos) << s.ToString();
  // And a database newer than the binary is fine for Up (a newer release ran first).
  ASSERT_OK(new_release.Up().status());
  ASSERT_OK_AND_ASSIGN(int nothing, old_release.Up());
  EXPECT_EQ(nothing, 0);
}

TEST_F(MigratorTest, DirtyDatabaseRefusesUntilForced) {
  Migrator m(*conn_, EmbeddedMigrations());
  ASSERT_OK(m.Up().status());
  {
    pqxx::work tx(*conn_);
    tx.exec("UPDATE schema_migrations SET dirty = true");
    tx.commit();
  }
  Result<int> up = m.Up();
  EXPECT_EQ(up.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(up.status().message().find("dirty"), std::string::npos)
      << up.status().ToString();
  EXPECT_EQ(m.Down(1).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(m.CheckCurrent().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(m.Force(Version(99)).code(), StatusCode::kInvalidArgument);
  ASSERT_OK(m.Force(m.LatestVersion()));
  ASSERT_OK_AND_ASSIGN(int none, m.Up());
  EXPECT_EQ(none, 0);
  EXPECT_OK(m.CheckCurrent());
}

TEST_F(MigratorTest, FailedMigrationRollsBackAndStaysClean) {
  auto migrations = FirstN(1);
  migrations.push_back(Migration{Version(2),
                                 "broken",
                                 "CREATE TABLE half_done (id int); SELEC oops;",
                                 "DROP TABLE half_done;"});
  Migrator m(*conn_, migrations);
  Result<int> up = m.Up();
  EXPECT_EQ(up.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(up.status().message().find("SQLSTATE 42601"), std::string::npos)
      << up.status().ToString();
  EXPECT_NE(up.status().message().find("2_broken"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(SchemaVersion v, m.CurrentVersion());
  EXPECT_EQ(v, (SchemaVersion{Version(1), false}));
  EXPECT_EQ(Tables(), (std::vector<std::string>{"schema_migrations", "telemetry"}));
}

TEST_F(MigratorTest, WaitsForTheAdvisoryLockThenTimesOut) {
  ASSERT_OK_AND_ASSIGN(auto holder, pg::Connect(conninfo()));
  {
    pqxx::nontransaction tx(*holder);
    tx.exec("SELECT pg_advisory_lock(" + std::to_string(kAdvisoryLockKey) + ")");
  }
  Migrator m(*conn_,
             EmbeddedMigrations(),
             Options{.lock_timeout = std::chrono::milliseconds(200)});
  const auto start = std::chrono::steady_clock::now();
  Result<int> up = m.Up();
  EXPECT_EQ(up.status().code(), StatusCode::kTimeout) << up.status().ToString();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  holder.reset();  // closing the session releases its advisory lock
  ASSERT_OK_AND_ASSIGN(int applied, m.Up());
  EXPECT_EQ(applied, 3);
  // The lock is released after a run, and lock_timeout was reset for the session.
  pqxx::nontransaction tx(*conn_);
  EXPECT_TRUE(
      tx.exec1("SELECT pg_try_advisory_lock(" + std::to_string(kAdvisoryLockKey) + ")")[0]
          .as<bool>());
  EXPECT_EQ(tx.exec1("SHOW lock_timeout")[0].as<std::string>(), "0");
}

TEST_F(MigratorTest, StateTableIsGolangMigrateCompatible) {
  Migrator m(*conn_, EmbeddedMigrations());
  ASSERT_OK(m.Up().status());
  EXPECT_EQ(
      Column("SELECT column_name || ' ' || data_type || ' ' || is_nullable "
             "FROM information_schema.columns WHERE table_name = 'schema_migrations' "
             "ORDER BY ordinal_position"),
      (std::vector<std::string>{"version bigint NO", "dirty boolean NO"}));
  EXPECT_EQ(Column("SELECT a.attname::text FROM pg_index i JOIN pg_attribute a "
                   "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                   "WHERE i.indrelid = 'schema_migrations'::regclass AND i.indisprimary"),
            (std::vector<std::string>{"version"}));
  EXPECT_EQ(Column("SELECT version || ' ' || dirty FROM schema_migrations"),
            (std::vector<std::string>{"3 false"}));
}

}  // namespace
}  // namespace tp::migrate
