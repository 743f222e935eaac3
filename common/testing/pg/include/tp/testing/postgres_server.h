// A private PostgreSQL server for tests: real PostgreSQL, no mocks (STYLE.md "Tests").
//
// Start() runs initdb --no-sync into a fresh directory under /tmp, appends settings that
// trade durability for speed (fsync=off, synchronous_commit=off, full_page_writes=off)
// and isolation (listen_addresses='': unix socket only, in that directory, so servers
// never clash on a TCP port), and starts it with pg_ctl -w. About one second in total.
// initdb refuses to run as root: as root the fixture runs initdb/pg_ctl as the `postgres`
// user (fork, setgid, setuid) and gives that user the directory; as any other user it
// runs them as itself. The superuser role is always "postgres", with trust
// authentication.
//
// Binaries come from $TP_PG_BIN_DIR, else the newest /usr/lib/postgresql/*/bin, else
// PATH.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tp/status.h"

namespace tp::testing {

struct PostgresServerOptions {
  std::string database = "tp_test";  // created at start
  // Extra postgresql.conf lines ("max_connections = 20").
  std::vector<std::string> settings;
};

class PostgresServer {
 public:
  // Creates the cluster and database and starts the server.
  // Errors: kUnavailable with the tail of the server log when any step fails.
  static Result<std::unique_ptr<PostgresServer>> Start(
      PostgresServerOptions options = {});

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  // Stops the server (immediate: nothing here needs to survive) and removes the
  // directory.
  ~PostgresServer();

  // libpq key=value string for `database` (default: the one created at start):
  // "host=/tmp/tp-pg-Ab12Cd port=5432 user=postgres dbname=tp_test".
  std::string ConnectionString() const { return ConnectionString(options_.database); }
  std::string ConnectionString(std::string_view database) const;
  // The same as a URI: "postgresql://postgres@%2Ftmp%2Ftp-pg-Ab12Cd:5432/tp_test".
  std::string ConnectionUri() const;

  // CREATE DATABASE `name` (an identifier: letters, digits, underscore) and returns its
  // connection string. Errors: kAlreadyExists, kInvalidArgument, kUnavailable.
  Result<std::string> CreateDatabase(std::string_view name);

  enum class StopMode {
    kFast,       // clean shutdown: sessions are terminated, a checkpoint is written
    kImmediate,  // like a crash: the next start replays WAL
  };
  // Stops the server and keeps the data; Restart() brings it back on the same data and
  // socket. Existing client connections break (they see kUnavailable).
  Status Stop(StopMode mode = StopMode::kFast);
  Status Restart();
  bool running() const { return running_; }

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  // The server log so far, for test failure messages.
  std::string Log() const;

 private:
  explicit PostgresServer(PostgresServerOptions options) : options_(std::move(options)) {}
  Status Init();
  Status RunTool(const std::vector<std::string>& args, std::string_view what) const;

  PostgresServerOptions options_;
  std::filesystem::path bin_dir_;
  std::filesystem::path dir_;  // socket dir; data in dir_/data, log in dir_/server.log
  bool as_postgres_user_ = false;
  unsigned uid_ = 0;
  unsigned gid_ = 0;
  bool running_ = false;
};

// One server per test binary, started on first use and stopped at exit. Tests that stop
// or restart PostgreSQL must make their own PostgresServer instead.
// Errors: as PostgresServer::Start (remembered: later calls fail the same way at once).
Result<PostgresServer*> SharedPostgresServer();

// Fixture: every test gets a fresh, empty database on the shared server, named after the
// test, so tests in one binary cannot see each other's tables.
//   class GpuStoreTest : public tp::testing::PostgresTest {};
//   TEST_F(GpuStoreTest, Upsert) { auto conn = pg::Connect(conninfo()); ... }
class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override;

  PostgresServer& server() const { return *server_; }
  // Connection string of this test's database.
  const std::string& conninfo() const { return conninfo_; }
  const std::string& database() const { return database_; }

 private:
  PostgresServer* server_ = nullptr;
  std::string database_;
  std::string conninfo_;
};

}  // namespace tp::testing
