// Logging setup shared by every binary: structured JSON lines by default, plain text for
// people (--log-format=text). Components log through a named spdlog logger with the
// SPDLOG_LOGGER_* macros so that file:line is recorded.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "tp/status.h"

namespace tp {

enum class LogFormat { kJson, kText };

struct LogOptions {
  LogFormat format = LogFormat::kJson;
  spdlog::level::level_enum level = spdlog::level::info;
};

// Parses "json"/"text" and "trace".."off"; errors name the bad value.
Result<LogFormat> ParseLogFormat(std::string_view text);
Result<spdlog::level::level_enum> ParseLogLevel(std::string_view text);

// Installs the sink and pattern for all loggers, existing and future. Call once from main
// before starting threads.
void InitLogging(const LogOptions& options);

// The logger for a component ("wal", "broker", ...); created on first use.
std::shared_ptr<spdlog::logger> Logger(const std::string& component);

}  // namespace tp
