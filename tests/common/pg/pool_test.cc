#include "tp/pg/pool.h"

#include <atomic>
#include <thread>

#include <pqxx/nontransaction>

#include "tp/pg/error.h"
#include "tp/testing/postgres_server.h"
#include "tp/testing/testing.h"

namespace tp::pg {
namespace {

using namespace std::chrono_literals;  // NOLINT(google-build-using-namespace)

class ConnectionPoolTest : public ::tp::testing::PostgresTest {
 protected:
  std::shared_ptr<ConnectionPool> MakePool(std::size_t max_size,
                                           std::chrono::milliseconds timeout = 2000ms) {
    auto pool = ConnectionPool::Create(
        {.conninfo = conninfo(), .max_size = max_size, .acquire_timeout = timeout});
    EXPECT_TRUE(pool.ok()) << pool.status().ToString();
    return pool.ok() ? *pool : nullptr;
  }

  void Terminate(int backend_pid) {
    auto conn = Connect(conninfo());
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    pqxx::nontransaction tx(**conn);
    tx.exec("SELECT pg_terminate_backend(" + std::to_string(backend_pid) + ")");
    // Wait until the backend is gone, so its socket has been closed.
    for (int i = 0; i < 200; ++i) {
      if (tx.exec("SELECT 1 FROM pg_stat_activity WHERE pid = " +
                  std::to_string(backend_pid))
              .empty()) {
        return;
      }
      std::this_thread::sleep_for(5ms);
    }
    FAIL() << "backend " << backend_pid << " still alive";
  }
};

Status SelectOne(PooledConnection& conn) {
  return Call("select 1", [&] {
    pqxx::nontransaction tx(*conn);
    tx.exec1("SELECT 1");
  });
}

TEST_F(ConnectionPoolTest, CreateValidatesOptions) {
  EXPECT_EQ(ConnectionPool::Create({.conninfo = "nope=1"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ConnectionPool::Create({.conninfo = conninfo(), .max_size = 0}).status().code(),
      StatusCode::kInvalidArgument);
}

TEST_F(ConnectionPoolTest, ReleasedConnectionIsReused) {
  auto pool = MakePool(2);
  int pid = 0;
  {
    ASSERT_OK_AND_ASSIGN(PooledConnection conn, pool->Acquire());
    pid = conn->backendpid();
    ASSERT_OK(SelectOne(conn));
  }
  ASSERT_OK_AND_ASSIGN(PooledConnection again, pool->Acquire());
  EXPECT_EQ(again->backendpid(), pid);
  auto stats = pool->GetStats();
  EXPECT_EQ(stats.created, 1u);
  EXPECT_EQ(stats.open, 1u);
  EXPECT_EQ(stats.idle, 0u);
}

TEST_F(ConnectionPoolTest, AcquireTimesOutWhenAllLeased) {
  auto pool = MakePool(1, 100ms);
  ASSERT_OK_AND_ASSIGN(PooledConnection held, pool->Acquire());
  const auto start = std::chrono::steady_clock::now();
  auto second = pool->Acquire();
  EXPECT_EQ(second.status().code(), StatusCode::kTimeout) << second.status().ToString();
  EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
}

TEST_F(ConnectionPoolTest, ReleaseWakesWaiter) {
  auto pool = MakePool(1);
  ASSERT_OK_AND_ASSIGN(PooledConnection held, pool->Acquire());
  const int pid = held->backendpid();
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);
    held.Release();
  });
  auto waited = pool->Acquire();
  releaser.join();
  ASSERT_TRUE(waited.ok()) << waited.status().ToString();
  EXPECT_EQ((*waited)->backendpid(), pid);
}

TEST_F(ConnectionPoolTest, DiscardedConnectionIsClosed) {
  auto pool = MakePool(1);
  int pid = 0;
  {
    ASSERT_OK_AND_ASSIGN(PooledConnection conn, pool->Acquire());
    pid = conn->backendpid();
    conn.Discard();
  }
  EXPECT_EQ(pool->GetStats().open, 0u);
  ASSERT_OK_AND_ASSIGN(PooledConnection fresh, pool->Acquire());
  EXPECT_NE(fresh->backendpid(), pid);
  EXPECT_EQ(pool->GetStats().discarded, 1u);
}

TEST_F(ConnectionPoolTest, IdleConnectionKilledByServerIsReplaced) {
  auto pool = MakePool(2);
  int pid = 0;
  {
    ASSERT_OK_AND_ASSIGN(PooledConnection conn, pool->Acquire());
    pid = conn->backendpid();
  }
  Terminate(pid);
  ASSERT_OK_AND_ASSIGN(PooledConnection conn, pool->Acquire());
  EXPECT_NE(conn->backendpid(), pid);
  EXPECT_OK(SelectOne(conn));
  EXPECT_EQ(pool->GetStats().discarded, 1u);
}

TEST_F(ConnectionPoolTest, ConnectionBrokenDuringUseReportsUnavailable) {
  auto pool = MakePool(1);
  ASSERT_OK_AND_ASSIGN(PooledConnection conn, pool->Acquire());
  Terminate(conn->backendpid());
  Status s = SelectOne(conn);
  ASSERT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  conn.Discard();
  conn.Release();
  ASSERT_OK_AND_ASSIGN(PooledConnection fresh, pool->Acquire());
  EXPECT_OK(SelectOne(fresh));
}

TEST_F(ConnectionPoolTest, ConcurrentUseNeverExceedsMaxSize) {
  constexpr std::size_t kMax = 3;
  auto pool = MakePool(kMax, 5000ms);
  std::atomic<int> in_use{0};
  std::atomic<int> peak{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto conn = pool->Acquire();
        if (!conn.ok()) {
          ++failures;
          continue;
        }
        int now = ++in_use;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        if (!SelectOne(*conn).ok())
          ++failures;
        --in_use;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(peak.load(), static_cast<int>(kMax));
  EXPECT_LE(pool->GetStats().created, kMax);
}

TEST(ConnectionPoolRestartTest, RecoversAfterServerRestart) {
  ASSERT_OK_AND_ASSIGN(auto server, ::tp::testing::PostgresServer::Start());
  ASSERT_OK_AND_ASSIGN(
      auto pool,
      ConnectionPool::Create({.conninfo = server->ConnectionString(), .max_size = 2}));
  {
    ASSERT_OK_AND_ASSIGN(PooledConnection a, pool->Acquire());
    ASSERT_OK_AND_ASSIGN(PooledConnection b, pool->Acquire());
  }
  ASSERT_EQ(pool->GetStats().idle, 2u);
  ASSERT_OK(server->Stop());
  auto down = pool->Acquire();
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable) << down.status().ToString();
  EXPECT_EQ(pool->GetStats().open, 0u);  // both dead idle connections were dropped
  ASSERT_OK(server->Restart());
  ASSERT_OK_AND_ASSIGN(PooledConnection conn, pool->Acquire());
  EXPECT_OK(SelectOne(conn));
}

}  // namespace
}  // namespace tp::pg
