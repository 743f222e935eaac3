// Schema migrations: numbered up/down SQL pairs applied golang-migrate style.
//
// Files are NNNN_name.up.sql / NNNN_name.down.sql (golang-migrate naming, so that tool
// works on the same folder). The binary embeds the files of migrations/ at build time;
// LoadMigrations reads another folder instead.
//
// State lives in schema_migrations(version bigint primary key, dirty boolean not null),
// exactly golang-migrate's table: at most one row, the current version; no row means
// nothing applied. Applying version V:
//   1. transaction: row := (V, dirty=true)                 -- "V is being applied"
//   2. transaction: V's SQL; row := (V, dirty=false)       -- all or nothing
// A runner that dies during step 2 leaves (V, dirty): later runs refuse to migrate until
// a person checks the schema and runs Force. If step 2 fails with an SQL error,
// PostgreSQL rolled it back, so the schema is known to be at the previous version and the
// row is set back to it (golang-migrate would leave it dirty; it does not know whether
// the file ran in a transaction, we do). So migration files must not contain BEGIN/COMMIT
// or statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY).
// Up/Down/Force hold a session-level pg_advisory_lock(kAdvisoryLockKey) for their whole
// run, so concurrent runners (every collector replica with --migrate, a Helm hook Job)
// apply each migration once; the others wait and then find nothing to do.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tp/status.h"
#include "tp/strong_type.h"

namespace pqxx {
class connection_base;
}  // namespace pqxx

namespace tp::migrate {

// The NNNN prefix of a migration file.
using Version = StrongType<std::int64_t, struct VersionTag>;

// Advisory lock key held while migrating ("tp-migr" in ASCII). Advisory locks are scoped
// to one database, so runners on other databases of the same server do not wait.
inline constexpr std::int64_t kAdvisoryLockKey = 0x74702d6d69677200;

struct Migration {
  Version version;
  std::string name;  // "create_telemetry"
  std::string up_sql;
  std::string down_sql;
};

// The migrations compiled into this binary, sorted by version.
const std::vector<Migration>& EmbeddedMigrations();

// Reads NNNN_name.up.sql/.down.sql pairs from `dir`, sorted by version. Other files
// (README.md) are ignored. Errors: kInvalidArgument for a malformed .sql name, a missing
// half of a pair, two names for one version; kNotFound / kIOError for the folder.
Result<std::vector<Migration>> LoadMigrations(const std::filesystem::path& dir);

// Same, from (file name, contents) pairs; what both of the above use.
Result<std::vector<Migration>> ParseMigrations(
    const std::vector<std::pair<std::string, std::string>>& files);

struct SchemaVersion {
  std::optional<Version> version;  // nullopt: no migration applied
  bool dirty = false;

  friend bool operator==(const SchemaVersion&, const SchemaVersion&) = default;
};
// "3", "3 (dirty)", "none".
std::string ToString(const SchemaVersion& v);

struct MigrationState {
  Version version;
  std::string name;
  bool applied = false;  // version <= current version
};

struct Options {
  // How long Up/Down/Force wait for another runner's advisory lock before kTimeout.
  std::chrono::milliseconds lock_timeout{std::chrono::minutes(5)};
  // Called after each migration step commits (for progress output); may be empty.
  std::function<void(const Migration&, bool up, std::chrono::milliseconds took)> on_step;
};

// Runs migrations over one borrowed connection. Not thread-safe; the connection must not
// be inside a transaction and must outlive the Migrator.
// Errors common to the calls below: kUnavailable (connection lost; see tp/pg/error.h),
// kTimeout (lock_timeout passed while another runner held the lock).
class Migrator {
 public:
  Migrator(pqxx::connection_base& conn,
           std::vector<Migration> migrations,
           Options options = {});

  // Applies every migration newer than the current version, in order. Returns how many
  // were applied (0 when up to date, or when the database is newer than every migration
  // this binary knows: a newer release ran first). Errors: kFailedPrecondition when the
  // database is dirty or at a version this binary has no file for (below the latest);
  // the SQL error's code when a migration fails (the database stays at the last good
  // version, clean).
  Result<int> Up();

  // Reverts up to `steps` (>= 1) migrations, newest first; returns how many were reverted
  // (fewer when fewer are applied). Errors: kInvalidArgument for steps < 1; otherwise as
  // Up.
  Result<int> Down(int steps);
  // Reverts every applied migration.
  Result<int> DownAll();

  // Sets the recorded version to `version` (nullopt: none) with dirty=false, without
  // running any SQL: the way out of a dirty state after fixing the schema by hand.
  // Errors: kInvalidArgument for a version with no migration.
  Status Force(std::optional<Version> version);

  // Reads schema_migrations (no lock). A missing table reads as "none".
  Result<SchemaVersion> CurrentVersion();
  // The newest migration known to this Migrator; nullopt when it has none.
  std::optional<Version> LatestVersion() const;
  // Every known migration with applied/pending, in version order.
  Result<std::vector<MigrationState>> States();

  // OK when the database is clean and at or past LatestVersion(): what collector and
  // apigw require for readiness. Errors: kFailedPrecondition ("schema version 1 is behind
  // 3", "schema is dirty at version 2"), or a connection error.
  Status CheckCurrent();

 private:
  Result<int> Run(bool up, int steps);

  pqxx::connection_base& conn_;
  std::vector<Migration> migrations_;
  Options options_;
};

}  // namespace tp::migrate
