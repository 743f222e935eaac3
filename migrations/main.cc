// migrate: applies the schema migrations (golang-migrate compatible state).
//   migrate --database-url URL up | down [N] [--all] | status | version | force VERSION
// Every flag also reads its environment variable (--database-url: DATABASE_URL).
// Exit status: 0 done; 1 failed (one line on stderr); 2 bad command line.
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "tp/cli.h"
#include "tp/log.h"
#include "tp/migrate/migrate.h"
#include "tp/pg/connection.h"

namespace {

struct Flags {
  std::string database_url;
  std::string migrations_dir;  // empty: the SQL compiled into this binary
  int lock_timeout_seconds = 300;
  tp::LogFlags log;
  int down_steps = 1;
  bool down_all = false;
  std::string force_version;
};

tp::Result<std::optional<tp::migrate::Version>> ParseForceVersion(
    const std::string& text) {
  if (text == "none" || text == "-1")
    return std::optional<tp::migrate::Version>();
  try {
    std::size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used == text.size() && v >= 0) {
      return std::optional<tp::migrate::Version>(tp::migrate::Version(v));
    }
  } catch (const std::exception&) {
    // fall through to the error below
  }
  return tp::Status::InvalidArgument("force needs a version number or `none`, got '" +
                                     text + "'");
}

tp::Status Run(const Flags& flags, const std::string& command) {
  std::vector<tp::migrate::Migration> migrations;
  if (flags.migrations_dir.empty()) {
    migrations = tp::migrate::EmbeddedMigrations();
  } else {
    TP_ASSIGN_OR_RETURN(migrations, tp::migrate::LoadMigrations(flags.migrations_dir));
  }
  TP_RETURN_IF_ERROR(tp::pg::ValidateConnectionString(flags.database_url));
  TP_ASSIGN_OR_RETURN(
      auto conn,
      tp::pg::Connect(flags.database_url,
                      tp::pg::ConnectOptions{.application_name = "migrate"}));
  tp::migrate::Options options;
  options.lock_timeout = std::chrono::seconds(flags.lock_timeout_seconds);
  options.on_step =
      [](const tp::migrate::Migration& m, bool up, std::chrono::milliseconds took) {
        std::cout << (up ? "applied " : "reverted ") << m.version << "_" << m.name << " ("
                  << took.count() << " ms)" << std::endl;
      };
  tp::migrate::Migrator migrator(*conn, std::move(migrations), options);

  if (command == "up" || command == "down") {
    tp::Result<int> done = command == "up"  ? migrator.Up()
                           : flags.down_all ? migrator.DownAll()
                                            : migrator.Down(flags.down_steps);
    if (!done.ok())
      return done.status();
    TP_ASSIGN_OR_RETURN(auto version, migrator.CurrentVersion());
    std::cout << (*done == 0 ? "no change: " : "") << "database at version "
              << tp::migrate::ToString(version) << std::endl;
    return tp::Status::Ok();
  }
  if (command == "status") {
    TP_ASSIGN_OR_RETURN(auto version, migrator.CurrentVersion());
    TP_ASSIGN_OR_RETURN(auto states, migrator.States());
    for (const auto& s : states) {
      std::printf("%-8lld %-40s %s\n",
                  static_cast<long long>(s.version.value()),
                  s.name.c_str(),
                  s.applied ? "applied" : "pending");
    }
    std::cout << "database at version " << tp::migrate::ToString(version) << std::endl;
    return tp::Status::Ok();
  }
  if (command == "version") {
    TP_ASSIGN_OR_RETURN(auto version, migrator.CurrentVersion());
    std::cout << tp::migrate::ToString(version) << std::endl;
    return tp::Status::Ok();
  }
  if (command == "force") {
    TP_ASSIGN_OR_RETURN(auto version, ParseForceVersion(flags.force_version));
    TP_RETURN_IF_ERROR(migrator.Force(version));
    std::cout << "database forced to version "
              << (version ? std::to_string(version->value()) : std::string("none"))
              << std::endl;
    return tp::Status::Ok();
  }
  return tp::Status::InvalidArgument("unknown command " + command);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Applies the telemetry schema migrations (golang-migrate compatible)."};
  Flags flags;
  app.add_option("--database-url",
                 flags.database_url,
                 "libpq connection string or URI (postgresql://user@host/db)")
      ->required();
  app.add_option("--migrations-dir",
                 flags.migrations_dir,
                 "Read NNNN_name.{up,down}.sql from this folder instead of the SQL built "
                 "into the binary");
  app.add_option("--lock-timeout",
                 flags.lock_timeout_seconds,
                 "Seconds to wait for another runner's migration lock")
      ->check(CLI::PositiveNumber);
  tp::AddLogFlags(app, &flags.log);
  app.require_subcommand(1);
  app.add_subcommand("up", "Apply every pending migration");
  CLI::App* down =
      app.add_subcommand("down", "Revert the newest N migrations (default 1)");
  down->add_option("N", flags.down_steps, "How many to revert")
      ->check(CLI::PositiveNumber);
  down->add_flag("--all", flags.down_all, "Revert every applied migration");
  app.add_subcommand("status", "List migrations as applied or pending");
  app.add_subcommand("version", "Print the current version, e.g. `3` or `3 (dirty)`");
  CLI::App* force = app.add_subcommand(
      "force", "Record VERSION (or `none`) as current and clean, without running SQL");
  force->add_option("VERSION", flags.force_version, "Version number or `none`")
      ->required();
  tp::BindEnvironment(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto log_options = flags.log.ToOptions();
  if (!log_options.ok()) {
    std::cerr << "migrate: " << log_options.status().ToString() << std::endl;
    return 2;
  }
  tp::InitLogging(*log_options);

  const std::string command = app.get_subcommands().front()->get_name();
  tp::Status status = Run(flags, command);
  if (!status.ok()) {
    std::cerr << "migrate: " << command << " failed: " << status.ToString() << std::endl;
    return 1;
  }
  return 0;
}
