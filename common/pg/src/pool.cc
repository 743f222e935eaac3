#include "tp/pg/pool.h"

#include <string>
#include <utility>

#include <poll.h>

namespace tp::pg {
namespace {

// An idle connection has nothing to read unless the server has closed it (it sends a
// FATAL ErrorResponse, then EOF). So a readable, hung-up or erroring socket means dead.
// One poll() with a zero timeout: no round trip to the server.
bool LooksHealthy(pqxx::connection& conn) {
  if (!conn.is_open())
    return false;
  int fd = conn.sock();
  if (fd < 0)
    return false;
  pollfd p{};
  p.fd = fd;
  p.events = POLLIN;
  int n = ::poll(&p, 1, 0);
  if (n < 0)
    return false;
  return n == 0;
}

}  // namespace

PooledConnection::PooledConnection(PooledConnection&& other) noexcept
    : pool_(std::move(other.pool_)),
      conn_(std::move(other.conn_)),
      discard_(std::exchange(other.discard_, false)) {}

PooledConnection& PooledConnection::operator=(PooledConnection&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = std::move(other.pool_);
    conn_ = std::move(other.conn_);
    discard_ = std::exchange(other.discard_, false);
  }
  return *this;
}

PooledConnection::~PooledConnection() {
  Release();
}

void PooledConnection::Release() {
  if (pool_ != nullptr && conn_ != nullptr)
    pool_->Return(std::move(conn_), discard_);
  conn_.reset();
  pool_.reset();
  discard_ = false;
}

Result<std::shared_ptr<ConnectionPool>> ConnectionPool::Create(PoolOptions options) {
  if (options.max_size == 0) {
    return Status::InvalidArgument("connection pool max_size must be at least 1");
  }
  if (options.acquire_timeout.count() < 0) {
    return Status::InvalidArgument(
        "connection pool acquire_timeout must not be negative");
  }
  TP_ASSIGN_OR_RETURN(options.conninfo,
                      NormalizeConnectionString(options.conninfo, options.connect));
  return std::shared_ptr<ConnectionPool>(new ConnectionPool(std::move(options)));
}

ConnectionPool::~ConnectionPool() = default;

Result<PooledConnection> ConnectionPool::Acquire() {
  return Acquire(options_.acquire_timeout);
}

Result<PooledConnection> ConnectionPool::Acquire(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    while (!idle_.empty()) {
      std::unique_ptr<pqxx::connection> conn = std::move(idle_.back());
      idle_.pop_back();
      if (LooksHealthy(*conn))
        return PooledConnection(shared_from_this(), std::move(conn));
      --open_;
      ++discarded_;
      // Closing sends a Terminate message; do it without holding the lock.
      lock.unlock();
      conn.reset();
      lock.lock();
    }
    if (open_ < options_.max_size) {
      ++open_;
      lock.unlock();
      // The conninfo already carries connect_timeout; connect outside the lock so that a
      // slow server does not stall releases.
      auto conn = Connect(options_.conninfo,
                          ConnectOptions{.connect_timeout = std::chrono::seconds(0)});
      lock.lock();
      if (!conn.ok()) {
        --open_;
        cv_.notify_one();
        return conn.status();
      }
      ++created_;
      return PooledConnection(shared_from_this(), std::move(conn).value());
    }
    bool woke = cv_.wait_until(
        lock, deadline, [this] { return !idle_.empty() || open_ < options_.max_size; });
    if (!woke) {
      return Status::Timeout("no PostgreSQL connection free within " +
                             std::to_string(timeout.count()) + " ms (pool size " +
                             std::to_string(options_.max_size) + ")");
    }
  }
}

void ConnectionPool::Return(std::unique_ptr<pqxx::connection> conn, bool discard) {
  const bool keep = !discard && conn->is_open();
  if (!keep)
    conn.reset();  // outside the lock: closing talks to the server
  std::lock_guard lock(mu_);
  if (keep) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
    ++discarded_;
  }
  cv_.notify_one();
}

ConnectionPool::Stats ConnectionPool::GetStats() const {
  std::lock_guard lock(mu_);
  return Stats{
      .open = open_, .idle = idle_.size(), .created = created_, .discarded = discarded_};
}

}  // namespace tp::pg
