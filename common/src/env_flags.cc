#include <cctype>
#include <csignal>
#include <cstdio>

#include "tp/allocator.h"
#include "tp/cli.h"

namespace tp {

Result<LogOptions> LogFlags::ToOptions() const {
  LogOptions options;
  TP_ASSIGN_OR_RETURN(options.format, ParseLogFormat(format));
  TP_ASSIGN_OR_RETURN(options.level, ParseLogLevel(level));
  return options;
}

void AddLogFlags(CLI::App& app, LogFlags* flags) {
  app.add_option("--log-format", flags->format, "Log output: json (default) or text")
      ->check(CLI::IsMember({"json", "text"}));
  app.add_option("--log-level",
                 flags->level,
                 "Log level: trace, debug, info, warn, error, critical, off");
}

std::string EnvNameForFlag(const std::string& flag) {
  std::string out;
  for (char c : flag) {
    if (c == '-' && out.empty())
      continue;
    out +=
        c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

void BindEnvironment(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    if (!opt->get_envname().empty() || opt->get_lnames().empty())
      continue;
    if (opt->get_lnames().front() == "help")
      continue;
    opt->envname(EnvNameForFlag(opt->get_lnames().front()));
  }
  for (CLI::App* sub : app.get_subcommands({}))
    BindEnvironment(*sub);
}

namespace {
extern "C" void SetStopFlag(int) {
  StopFlag().store(true);
}
}  // namespace

std::atomic<bool>& StopFlag() {
  static std::atomic<bool> stop{false};
  return stop;
}

int RunMain(const LogFlags& log,
            const std::string& component,
            const std::function<int()>& body) {
  auto options = log.ToOptions();
  if (!options.ok()) {
    std::fprintf(
        stderr, "%s: %s\n", component.c_str(), options.status().message().c_str());
    return 2;
  }
  InitLogging(*options);
  KeepFreedMemoryMapped();
  std::signal(SIGTERM, SetStopFlag);
  std::signal(SIGINT, SetStopFlag);
  try {
    return body();
  } catch (const std::exception& e) {
    Logger(component)->critical("fatal: {}", e.what());
    return 1;
  }
}

}  // namespace tp
