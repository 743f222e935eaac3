#include "tp/testing/postgres_server.h"

#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include "tp/pg/connection.h"
#include "tp/pg/error.h"
#include "tp/testing/testing.h"

namespace tp::testing {
namespace {

Result<std::string> QueryOne(const std::string& conninfo, const std::string& sql) {
  TP_ASSIGN_OR_RETURN(auto conn, pg::Connect(conninfo));
  return pg::Call("query", [&] {
    pqxx::work tx(*conn);
    auto row = tx.exec1(sql);
    tx.commit();
    return row[0].is_null() ? std::string("NULL") : row[0].as<std::string>();
  });
}

TEST(PostgresServerTest, StartsQuicklyAndAcceptsConnections) {
  const auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(auto server, PostgresServer::Start());
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(10));
  std::cout << "started in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
            << " ms\n";
  ASSERT_OK_AND_ASSIGN(std::string db,
                       QueryOne(server->ConnectionString(), "SELECT current_database()"));
  EXPECT_EQ(db, "tp_test");
  ASSERT_OK_AND_ASSIGN(std::string listen,
                       QueryOne(server->ConnectionUri(), "SHOW listen_addresses"));
  EXPECT_EQ(listen, "");
  ASSERT_OK_AND_ASSIGN(std::string fsync,
                       QueryOne(server->ConnectionString(), "SHOW fsync"));
  EXPECT_EQ(fsync, "off");
}

TEST(PostgresServerTest, DestructionRemovesEverything) {
  std::filesystem::path dir;
  {
    ASSERT_OK_AND_ASSIGN(auto server, PostgresServer::Start());
    dir = server->dir();
    EXPECT_TRUE(std::filesystem::exists(server->data_dir() / "PG_VERSION"));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(PostgresServerTest, RestartKeepsDataAndBreaksClients) {
  ASSERT_OK_AND_ASSIGN(auto server, PostgresServer::Start());
  ASSERT_OK(QueryOne(server->ConnectionString(),
                     "CREATE TABLE kept AS SELECT 42 AS answer; SELECT 1")
                .status());
  ASSERT_OK_AND_ASSIGN(auto client, pg::Connect(server->ConnectionString()));
  for (auto mode :
       {PostgresServer::StopMode::kFast, PostgresServer::StopMode::kImmediate}) {
    ASSERT_OK(server->Stop(mode));
    EXPECT_FALSE(server->running());
    EXPECT_EQ(pg::Connect(server->ConnectionString()).status().code(),
              StatusCode::kUnavailable);
    ASSERT_OK(server->Restart());
    ASSERT_OK_AND_ASSIGN(std::string answer,
                         QueryOne(server->ConnectionString(), "SELECT answer FROM kept"));
    EXPECT_EQ(answer, "42");
  }
  Status broken = pg::Call("old client", [&] {
    pqxx::nontransaction tx(*client);
    tx.exec("SELECT 1");
  });
  EXPECT_EQ(broken.code(), StatusCode::kUnavailable) << broken.ToString();
}

TEST(PostgresServerTest, CreateDatabase) {
  ASSERT_OK_AND_ASSIGN(auto server, SharedPostgresServer());
  ASSERT_OK_AND_ASSIGN(std::string conninfo, server->CreateDatabase("extra_db"));
  ASSERT_OK_AND_ASSIGN(std::string db, QueryOne(conninfo, "SELECT current_database()"));
  EXPECT_EQ(db, "extra_db");
  EXPECT_EQ(server->CreateDatabase("extra_db").status().code(),
            StatusCode::kInvalidArgument)
      << "42P04 duplicate_database is class 42";
  EXPECT_EQ(server->CreateDatabase("bad name;").status().code(),
            StatusCode::kInvalidArgument);
}

class SharedServerTest : public PostgresTest {};

TEST_F(SharedServerTest, EachTestGetsItsOwnDatabase) {
  ASSERT_OK_AND_ASSIGN(std::string db, QueryOne(conninfo(), "SELECT current_database()"));
  EXPECT_EQ(db, database());
  EXPECT_NE(database().find("eachtestgetsitsowndatabase"), std::string::npos)
      << database();
}

}  // namespace
}  // namespace tp::testing
