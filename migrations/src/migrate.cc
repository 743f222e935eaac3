#include "tp/migrate/migrate.h"

#include <algorithm>
#include <utility>

#include <pqxx/connection_base>
#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include "tp/pg/error.h"

namespace tp::migrate {
namespace {

// golang-migrate's NilVersion: a dirty row while reverting the first migration.
constexpr std::int64_t kNilVersion = -1;

std::string Describe(const Migration& m) {
  return std::to_string(m.version.value()) + "_" + m.name;
}

std::string VersionText(std::optional<Version> v) {
  return v.has_value() ? std::to_string(v->value()) : "none";
}

// Replaces the single row, as golang-migrate's postgres driver does.
void WriteVersion(pqxx::work& tx, std::optional<Version> version, bool dirty) {
  tx.exec("TRUNCATE schema_migrations");
  if (version.has_value() || dirty) {
    tx.exec("INSERT INTO schema_migrations (version, dirty) VALUES (" +
            tx.quote(version.has_value() ? version->value() : kNilVersion) + ", " +
            (dirty ? "true" : "false") + ")");
  }
}

Result<SchemaVersion> ReadVersion(pqxx::connection_base& conn) {
  return pg::Call("read schema version", [&]() -> SchemaVersion {
    pqxx::nontransaction tx(conn);
    SchemaVersion v;
    if (tx.exec1("SELECT to_regclass('schema_migrations') IS NOT NULL")[0].as<bool>()) {
      pqxx::result r = tx.exec("SELECT version, dirty FROM schema_migrations LIMIT 1");
      if (!r.empty()) {
        auto n = r[0][0].as<std::int64_t>();
        if (n != kNilVersion)
          v.version = Version(n);
        v.dirty = r[0][1].as<bool>();
      }
    }
    return v;
  });
}

// Holds the session-level advisory lock for one Up/Down/Force run.
class MigrationLock {
 public:
  explicit MigrationLock(pqxx::connection_base& conn) : conn_(conn) {}
  MigrationLock(const MigrationLock&) = delete;
  MigrationLock& operator=(const MigrationLock&) = delete;
  ~MigrationLock() {
    if (!held_)
      return;
    // Losing the connection releases the lock too, so a failure here is harmless.
    pg::Call("release migration lock", [&] {
      pqxx::nontransaction tx(conn_);
      tx.exec("SELECT pg_advisory_unlock(" + tx.quote(kAdvisoryLockKey) + ")");
    }).IgnoreError();
  }

  // lock_timeout bounds the wait (it applies to advisory locks: SQLSTATE 55P03 ->
  // kTimeout); it is reset afterwards so that migrations themselves are not limited.
  Status Acquire(std::chrono::milliseconds timeout) {
    TP_RETURN_IF_ERROR(pg::Call("wait for the migration lock", [&] {
      pqxx::nontransaction tx(conn_);
      tx.exec("SET lock_timeout = " + tx.quote(std::to_string(timeout.count()) + "ms"));
      try {
        tx.exec("SELECT pg_advisory_lock(" + tx.quote(kAdvisoryLockKey) + ")");
      } catch (...) {
        tx.exec("RESET lock_timeout");
        throw;
      }
      tx.exec("RESET lock_timeout");
    }));
    held_ = true;
    return Status::Ok();
  }

 private:
  pqxx::connection_base& conn_;
  bool held_ = false;
};

Status EnsureTable(pqxx::connection_base& conn) {
  return pg::Call("create schema_migrations", [&] {
    pqxx::nontransaction tx(conn);
    tx.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)");
  });
}

}  // namespace

std::string ToString(const SchemaVersion& v) {
  std::string text = VersionText(v.version);
  if (v.dirty)
    text += " (dirty)";
  return text;
}

Migrator::Migrator(pqxx::connection_base& conn,
                   std::vector<Migration> migrations,
                   Options options)
    : conn_(conn), migrations_(std::move(migrations)), options_(std::move(options)) {
  std::sort(migrations_.begin(),
            migrations_.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
}

std::optional<Version> Migrator::LatestVersion() const {
  if (migrations_.empty())
    return std::nullopt;
  return migrations_.back().version;
}

Result<SchemaVersion> Migrator::CurrentVersion() {
  return ReadVersion(conn_);
}

Result<std::vector<MigrationState>> Migrator::States() {
  TP_ASSIGN_OR_RETURN(SchemaVersion current, CurrentVersion());
  std::vector<MigrationState> states;
  for (const Migration& m : migrations_) {
    bool applied = current.version.has_value() && m.version <= *current.version;
    states.push_back(MigrationState{m.version, m.name, applied});
  }
  return states;
}

Status Migrator::CheckCurrent() {
  TP_ASSIGN_OR_RETURN(SchemaVersion current, CurrentVersion());
  if (current.dirty) {
    return Status::FailedPrecondition("schema is dirty at version " +
                                      VersionText(current.version));
  }
  std::optional<Version> latest = LatestVersion();
  if (latest.has_value() &&
      (!current.version.has_value() || *current.version < *latest)) {
    return Status::FailedPrecondition("schema version " + VersionText(current.version) +
                                      " is behind " + VersionText(latest) +
                                      ": run `migrate up`");
  }
  return Status::Ok();
}

Result<int> Migrator::Up() {
  return Run(/*up=*/true, /*steps=*/-1);
}

Result<int> Migrator::Down(int steps) {
  if (steps < 1) {
    return Status::InvalidArgument("down needs a number of steps >= 1, got " +
                                   std::to_string(steps));
  }
  return Run(/*up=*/false, steps);
}

Result<int> Migrator::DownAll() {
  return Run(/*up=*/false, /*steps=*/-1);
}

Status Migrator::Force(std::optional<Version> version) {
  if (version.has_value() &&
      std::none_of(migrations_.begin(), migrations_.end(), [&](const Migration& m) {
        return m.version == *version;
      })) {
    return Status::InvalidArgument("no migration has version " + VersionText(version));
  }
  MigrationLock lock(conn_);
  TP_RETURN_IF_ERROR(lock.Acquire(options_.lock_timeout));
  TP_RETURN_IF_ERROR(EnsureTable(conn_));
  return pg::Call("force version", [&] {
    pqxx::work tx(conn_);
    WriteVersion(tx, version, /*dirty=*/false);
    tx.commit();
  });
}

Result<int> Migrator::Run(bool up, int steps) {
  MigrationLock lock(conn_);
  TP_RETURN_IF_ERROR(lock.Acquire(options_.lock_timeout));
  // Created under the lock: two concurrent CREATE TABLE IF NOT EXISTS can both pass the
  // existence check and one then fails on the catalog's unique index.
  TP_RETURN_IF_ERROR(EnsureTable(conn_));
  TP_ASSIGN_OR_RETURN(SchemaVersion current, ReadVersion(conn_));
  if (current.dirty) {
    return Status::FailedPrecondition(
        "database is dirty at version " + VersionText(current.version) +
        ": a migration was interrupted; check the schema by hand, then run "
        "`migrate force VERSION` with the version it is really at");
  }

  // Position of the current version in migrations_; -1 for none.
  std::ptrdiff_t pos = -1;
  if (current.version.has_value()) {
    auto it =
        std::find_if(migrations_.begin(), migrations_.end(), [&](const Migration& m) {
          return m.version == *current.version;
        });
    if (it == migrations_.end()) {
      std::optional<Version> latest = LatestVersion();
      if (up && latest.has_value() && *current.version > *latest) {
        return 0;  // a newer release migrated already; it knows better
      }
      return Status::FailedPrecondition("database is at version " +
                                        VersionText(current.version) +
                                        ", which has no migration file here");
    }
    pos = it - migrations_.begin();
  }

  int done = 0;
  for (;;) {
    if (steps >= 0 && done >= steps)
      break;
    const std::ptrdiff_t index = up ? pos + 1 : pos;
    if (index < 0 || index >= static_cast<std::ptrdiff_t>(migrations_.size()))
      break;
    const Migration& m = migrations_[static_cast<std::size_t>(index)];
    const std::optional<Version> before =
        pos >= 0 ? std::optional(migrations_[static_cast<std::size_t>(pos)].version)
                 : std::nullopt;
    const std::optional<Version> after =
        up ? std::optional(m.version)
           : (index > 0 ? std::optional(
                              migrations_[static_cast<std::size_t>(index - 1)].version)
                        : std::nullopt);
    const std::string what = Describe(m) + (up ? " (up)" : " (down)");
    const auto start = std::chrono::steady_clock::now();

    TP_RETURN_IF_ERROR(pg::Call("mark " + what + " dirty", [&] {
      pqxx::work tx(conn_);
      WriteVersion(tx, after, /*dirty=*/true);
      tx.commit();
    }));
    Status applied = pg::Call("migration " + what, [&] {
      pqxx::work tx(conn_);
      tx.exec(up ? m.up_sql : m.down_sql);
      WriteVersion(tx, after, /*dirty=*/false);
      tx.commit();
    });
    if (!applied.ok()) {
      if (applied.code() == StatusCode::kUnavailable) {
        // The commit may or may not have happened: only a person can tell.
        return applied.WithContext("database left dirty at version " +
                                   VersionText(after));
      }
      // PostgreSQL rolled the transaction back: the schema is still at `before`.
      TP_RETURN_IF_ERROR(pg::Call("restore version after failed migration", [&] {
        pqxx::work tx(conn_);
        WriteVersion(tx, before, /*dirty=*/false);
        tx.commit();
      }));
      return applied.WithContext("database still at version " + VersionText(before));
    }
    ++done;
    pos = up ? index : index - 1;
    if (options_.on_step) {
      options_.on_step(m,
                       up,
                       std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start));
    }
  }
  return done;
}

}  // namespace tp::migrate
