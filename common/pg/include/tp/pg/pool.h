// A small, bounded, thread-safe pool of PostgreSQL connections (apigw, collector).
//
// Why not one connection per request: connecting costs a fork on the server and a few
// milliseconds; why a bound: PostgreSQL's max_connections is small and shared by every
// replica. The pool connects lazily, hands connections out LIFO (the warmest one first)
// and never hands out a connection it knows is dead:
//   - a lease marked Discard() (the caller saw kUnavailable) is closed on release;
//   - on acquire, an idle connection whose socket is readable or hung up is dropped: an
//   idle
//     connection receives nothing unless the server closed it (restart,
//     pg_terminate_backend, idle timeout), in which case PostgreSQL sent a FATAL message
//     and closed the socket.
// A connection that dies while idle and unnoticed still fails its next statement with
// kUnavailable; callers retry once on a fresh lease (see the example below).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pqxx/connection>

#include "tp/pg/connection.h"
#include "tp/status.h"

namespace tp::pg {

struct PoolOptions {
  std::string conninfo;  // libpq key=value string or URI
  std::size_t max_size = 8;
  // How long Acquire() waits for a free slot before kTimeout.
  std::chrono::milliseconds acquire_timeout{5000};
  ConnectOptions connect;
};

class ConnectionPool;

// A leased connection; returns itself to the pool when destroyed. Move-only.
// Use from one thread at a time; destroy every transaction object before the lease.
class PooledConnection {
 public:
  PooledConnection() = default;
  PooledConnection(PooledConnection&& other) noexcept;
  PooledConnection& operator=(PooledConnection&& other) noexcept;
  PooledConnection(const PooledConnection&) = delete;
  PooledConnection& operator=(const PooledConnection&) = delete;
  ~PooledConnection();

  pqxx::connection& operator*() const { return *conn_; }
  pqxx::connection* operator->() const { return conn_.get(); }
  pqxx::connection& get() const { return *conn_; }
  explicit operator bool() const { return conn_ != nullptr; }

  // Closes the connection on release instead of reusing it. Call after an error that may
  // have left it unusable (kUnavailable) or in an unknown session state.
  void Discard() { discard_ = true; }

  // Returns the connection to the pool now (same as destruction).
  void Release();

 private:
  friend class ConnectionPool;
  PooledConnection(std::shared_ptr<ConnectionPool> pool,
                   std::unique_ptr<pqxx::connection> conn)
      : pool_(std::move(pool)), conn_(std::move(conn)) {}

  std::shared_ptr<ConnectionPool> pool_;
  std::unique_ptr<pqxx::connection> conn_;
  bool discard_ = false;
};

// Usage:
//   TP_ASSIGN_OR_RETURN(auto pool, pg::ConnectionPool::Create(options));
//   TP_ASSIGN_OR_RETURN(auto conn, pool->Acquire());
//   Status s = pg::Call("insert batch", [&] { pqxx::work tx(*conn); ...; tx.commit(); });
//   if (s.code() == StatusCode::kUnavailable) conn.Discard();
// Thread-safety: every method may be called from any thread.
class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
 public:
  // Validates options (connection string, max_size >= 1). Does not connect.
  // Errors: kInvalidArgument.
  static Result<std::shared_ptr<ConnectionPool>> Create(PoolOptions options);

  // Hands out an idle healthy connection, or opens a new one while fewer than max_size
  // exist, or waits for a release. Leases keep the pool alive.
  // Errors: kTimeout when no connection became free within the timeout; kUnavailable
  // (libpq's message) when opening a new connection failed. Failing to connect returns at
  // once rather than retrying until the deadline: the caller's readiness and retry policy
  // decide what happens next.
  Result<PooledConnection> Acquire();
  Result<PooledConnection> Acquire(std::chrono::milliseconds timeout);

  struct Stats {
    std::size_t open = 0;  // connections that exist (idle + leased + being opened)
    std::size_t idle = 0;
    std::uint64_t created = 0;    // connections opened since Create
    std::uint64_t discarded = 0;  // connections closed because broken or Discard()ed
  };
  Stats GetStats() const;

  const PoolOptions& options() const { return options_; }

  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;
  ~ConnectionPool();

 private:
  friend class PooledConnection;
  explicit ConnectionPool(PoolOptions options) : options_(std::move(options)) {}
  void Return(std::unique_ptr<pqxx::connection> conn, bool discard);

  const PoolOptions options_;  // conninfo normalized by Create
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // GUARDED_BY(mu_)
  std::size_t open_ = 0;                                 // GUARDED_BY(mu_)
  std::uint64_t created_ = 0;                            // GUARDED_BY(mu_)
  std::uint64_t discarded_ = 0;                          // GUARDED_BY(mu_)
};

}  // namespace tp::pg
