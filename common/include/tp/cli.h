// Command-line plumbing shared by every binary's main.cc: environment fallbacks for
// flags (--data-dir also reads DATA_DIR; the flag wins) and the common logging flags.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "tp/log.h"
#include "tp/status.h"

namespace tp {

struct LogFlags {
  std::string format = "json";
  std::string level = "info";

  Result<LogOptions> ToOptions() const;
};

// Adds --log-format and --log-level to `app`.
void AddLogFlags(CLI::App& app, LogFlags* flags);

// Gives every long option of `app` and of its subcommands an environment variable named
// after it (--foo-bar -> FOO_BAR) unless it already has one. Call after adding options.
void BindEnvironment(CLI::App& app);

// "--foo-bar" / "foo-bar" -> "FOO_BAR".
std::string EnvNameForFlag(const std::string& flag);

// Set by SIGTERM/SIGINT once RunMain installed its handlers; services poll it to stop.
std::atomic<bool>& StopFlag();

// The tail of every service's main: turns `log` into logging options (exit 2 with a
// message if they are bad), initialises logging, makes SIGTERM/SIGINT set StopFlag(), and
// runs `body`; an exception escaping it is logged by `component`'s logger and exits 1.
int RunMain(const LogFlags& log,
            const std::string& component,
            const std::function<int()>& body);

}  // namespace tp
