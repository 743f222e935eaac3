// Command-line plumbing shared by every binary's main.cc: environment fallbacks for
// flags (--data-dir also reads DATA_DIR; the flag wins) and the common logging flags.
#pragma once

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

}  // namespace tp
