#include "tp/log.h"

#include <chrono>
#include <mutex>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "tp/json_scan.h"

namespace tp {
namespace {

// spdlog does not escape %v, so a JSON pattern needs its own flag for the message.
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg,
              const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string escaped;
    json_scan::AppendEscaped(&escaped,
                             std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

std::mutex& InitMutex() {
  static std::mutex mu;
  return mu;
}

LogOptions& CurrentOptions() {
  static LogOptions options;
  return options;
}

std::unique_ptr<spdlog::formatter> MakeFormatter(LogFormat format) {
  auto formatter =
      std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (format == LogFormat::kJson) {
    formatter->add_flag<JsonMessageFlag>('*');
    formatter->set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","src":"%s:%#","msg":"%*"})");
  } else {
    formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v (%s:%#)");
  }
  return formatter;
}

void Configure(spdlog::logger& logger, const LogOptions& options) {
  logger.set_formatter(MakeFormatter(options.format));
  logger.set_level(options.level);
}

}  // namespace

Result<LogFormat> ParseLogFormat(std::string_view text) {
  if (text == "json")
    return LogFormat::kJson;
  if (text == "text")
    return LogFormat::kText;
  return Status::InvalidArgument("log format must be 'json' or 'text', got '" +
                                 std::string(text) + "'");
}

Result<spdlog::level::level_enum> ParseLogLevel(std::string_view text) {
  auto level = spdlog::level::from_str(std::string(text));
  if (level == spdlog::level::off && text != "off") {
    return Status::InvalidArgument(
        "log level must be trace, debug, info, warn, error, critical or off, got '" +
        std::string(text) + "'");
  }
  return level;
}

void InitLogging(const LogOptions& options) {
  std::lock_guard lock(InitMutex());
  CurrentOptions() = options;
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& logger) {
    Configure(*logger, options);
  });
}

std::shared_ptr<spdlog::logger> Logger(const std::string& component) {
  std::lock_guard lock(InitMutex());
  if (auto existing = spdlog::get(component))
    return existing;
  auto logger = std::make_shared<spdlog::logger>(
      component, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  Configure(*logger, CurrentOptions());
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace tp
