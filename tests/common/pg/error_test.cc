#include "tp/pg/error.h"

#include <stdexcept>

#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include "tp/pg/connection.h"
#include "tp/testing/postgres_server.h"
#include "tp/testing/testing.h"

namespace tp::pg {
namespace {

TEST(StatusCodeForSqlStateTest, MapsClasses) {
  EXPECT_EQ(StatusCodeForSqlState("08006"), StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("57P01"), StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("53300"), StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("40001"), StatusCode::kConflict);
  EXPECT_EQ(StatusCodeForSqlState("40P01"), StatusCode::kConflict);
  EXPECT_EQ(StatusCodeForSqlState("23505"), StatusCode::kAlreadyExists);
  EXPECT_EQ(StatusCodeForSqlState("23514"), StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusCodeForSqlState("42P01"), StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusCodeForSqlState("42601"), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeForSqlState("22012"), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeForSqlState("53100"), StatusCode::kFull);
  EXPECT_EQ(StatusCodeForSqlState("57014"), StatusCode::kTimeout);
  EXPECT_EQ(StatusCodeForSqlState("55P03"), StatusCode::kTimeout);
  EXPECT_EQ(StatusCodeForSqlState("58030"), StatusCode::kIOError);
  EXPECT_EQ(StatusCodeForSqlState("XX001"), StatusCode::kCorruption);
  EXPECT_EQ(StatusCodeForSqlState("XX000"), StatusCode::kInternal);
  EXPECT_EQ(StatusCodeForSqlState(""), StatusCode::kInternal);
}

TEST(StatusFromExceptionTest, ConvertsLibpqxxClasses) {
  EXPECT_EQ(StatusFromException(pqxx::broken_connection("gone")).code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromException(pqxx::in_doubt_error("?")).code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromException(pqxx::deadlock_detected("dl")).code(),
            StatusCode::kConflict);
  EXPECT_EQ(StatusFromException(pqxx::conversion_error("bad int")).code(),
            StatusCode::kInternal);
  EXPECT_EQ(StatusFromException(std::runtime_error("x")).code(), StatusCode::kInternal);
  Status s = StatusFromException(
      pqxx::unique_violation("ERROR:  dup\nDETAIL:  Key (id)=(1)\n", "INSERT", "23505"));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "[SQLSTATE 23505] ERROR: dup DETAIL: Key (id)=(1)");
}

TEST(CallTest, WrapsEveryReturnShape) {
  EXPECT_OK(Call("void", [] {}));
  ASSERT_OK_AND_ASSIGN(int v, Call("value", [] { return 7; }));
  EXPECT_EQ(v, 7);
  Result<int> r = Call("result", []() -> Result<int> { return Status::NotFound("x"); });
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  Status thrown =
      Call("insert batch", []() -> Status { throw pqxx::broken_connection("eof"); });
  EXPECT_EQ(thrown.code(), StatusCode::kUnavailable);
  EXPECT_NE(thrown.message().find("insert batch"), std::string::npos)
      << thrown.ToString();
}

class PgErrorTest : public ::tp::testing::PostgresTest {
 protected:
  void SetUp() override {
    PostgresTest::SetUp();
    auto conn = Connect(conninfo());
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::move(conn).value();
  }
  Status Exec(const std::string& sql) {
    return Call("exec", [&] {
      pqxx::work tx(*conn_);
      tx.exec(sql);
      tx.commit();
    });
  }
  std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(PgErrorTest, UniqueViolationIsAlreadyExistsWithSqlState) {
  ASSERT_OK(Exec("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)"));
  Status s = Exec("INSERT INTO t VALUES (1)");
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("[SQLSTATE 23505]"), std::string::npos) << s.ToString();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.ToString();
}

TEST_F(PgErrorTest, SqlErrorsMapByClass) {
  ASSERT_OK(Exec("CREATE TABLE t (id int CHECK (id > 0))"));
  EXPECT_EQ(Exec("SELEC 1").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Exec("SELECT 1/0").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Exec("SELECT * FROM missing_table").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Exec("INSERT INTO t VALUES (-1)").code(), StatusCode::kFailedPrecondition);
  Status timeout = Exec("SET LOCAL statement_timeout = 20; SELECT pg_sleep(5)");
  EXPECT_EQ(timeout.code(), StatusCode::kTimeout) << timeout.ToString();
  Status serialization =
      Exec("DO $$ BEGIN RAISE EXCEPTION 'retry me' USING ERRCODE = '40001'; END $$");
  EXPECT_EQ(serialization.code(), StatusCode::kConflict) << serialization.ToString();
}

TEST_F(PgErrorTest, TerminatedBackendIsUnavailable) {
  ASSERT_OK_AND_ASSIGN(auto killer, Connect(conninfo()));
  {
    pqxx::nontransaction tx(*killer);
    tx.exec("SELECT pg_terminate_backend(" + std::to_string(conn_->backendpid()) + ")");
  }
  Status s = Exec("SELECT 1");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
}

}  // namespace
}  // namespace tp::pg
