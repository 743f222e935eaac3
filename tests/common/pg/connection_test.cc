#include "tp/pg/connection.h"

#include <pqxx/nontransaction>

#include "tp/testing/postgres_server.h"
#include "tp/testing/testing.h"

namespace tp::pg {
namespace {

using ::tp::testing::PostgresTest;

TEST(ConnectionStringTest, AcceptsKeyValueAndUri) {
  EXPECT_OK(ValidateConnectionString("host=/tmp/x dbname=telemetry user=tp"));
  EXPECT_OK(ValidateConnectionString(
      "postgresql://tp:secret@db:5432/telemetry?sslmode=disable"));
  EXPECT_OK(ValidateConnectionString("postgres://%2Ftmp%2Fpg/telemetry"));
}

TEST(ConnectionStringTest, RejectsBadStringsWithClearError) {
  for (const char* bad : {"",
                          "   ",
                          "host=x bogus_keyword=1",
                          "host='unterminated",
                          "postgresql://db:5432/telemetry?nonsense=1",
                          "just some words"}) {
    Status s = ValidateConnectionString(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("connection string"), std::string::npos) << s.message();
  }
}

TEST(ConnectionStringTest, RedactHidesPassword) {
  std::string redacted = RedactConnectionString("postgresql://tp:s3cret@db/telemetry");
  EXPECT_EQ(redacted.find("s3cret"), std::string::npos) << redacted;
  EXPECT_NE(redacted.find("password=***"), std::string::npos) << redacted;
  EXPECT_NE(redacted.find("host='db'"), std::string::npos) << redacted;
  EXPECT_EQ(RedactConnectionString("bogus=1"), "<invalid connection string>");
}

TEST(ConnectionStringTest, NormalizeAddsDefaultsButKeepsTheUsers) {
  ASSERT_OK_AND_ASSIGN(
      std::string n,
      NormalizeConnectionString(
          "postgresql://db/t",
          {.connect_timeout = std::chrono::seconds(7), .application_name = "apigw"}));
  // Keywords come out in libpq's own order.
  EXPECT_EQ(n, "dbname='t' host='db' connect_timeout='7' application_name='apigw'");
  ASSERT_OK_AND_ASSIGN(
      std::string kept,
      NormalizeConnectionString("host=db connect_timeout=2 password='a\\'b\\\\c'"));
  EXPECT_EQ(kept, "password='a\\'b\\\\c' connect_timeout='2' host='db'");
}

class ConnectTest : public PostgresTest {};

TEST_F(ConnectTest, ConnectsWithKeyValueString) {
  ASSERT_OK_AND_ASSIGN(auto conn,
                       Connect(conninfo(), {.application_name = "connect_test"}));
  pqxx::nontransaction tx(*conn);
  EXPECT_EQ(tx.exec1("SELECT current_database()")[0].as<std::string>(), database());
  EXPECT_EQ(tx.exec1("SELECT current_setting('application_name')")[0].as<std::string>(),
            "connect_test");
}

TEST_F(ConnectTest, ConnectsWithUri) {
  ASSERT_OK_AND_ASSIGN(auto conn, Connect(server().ConnectionUri()));
  EXPECT_TRUE(conn->is_open());
}

TEST_F(ConnectTest, MissingServerIsUnavailable) {
  auto conn =
      Connect("host=/tmp/tp-pg-no-such-dir dbname=x user=postgres password=hunter2");
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable) << conn.status().ToString();
  EXPECT_EQ(conn.status().message().find("hunter2"), std::string::npos);
  EXPECT_EQ(conn.status().message().find('\n'), std::string::npos);
}

TEST_F(ConnectTest, MissingDatabaseIsUnavailableAndSaysSo) {
  auto conn = Connect(server().ConnectionString("no_such_db"));
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(conn.status().message().find("does not exist"), std::string::npos)
      << conn.status().ToString();
}

TEST_F(ConnectTest, BadStringIsInvalidArgumentWithoutConnecting) {
  auto conn = Connect("host=x nope=1");
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tp::pg
