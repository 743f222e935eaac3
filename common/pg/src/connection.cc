#include "tp/pg/connection.h"

#include <utility>
#include <vector>

#include <libpq-fe.h>

#include "tp/pg/error.h"

namespace tp::pg {
namespace {

struct Param {
  std::string keyword;
  std::string value;
};

// Parses with libpq so that we accept exactly what a connection would. PQconninfoParse
// reports only what the string sets (no environment or compiled-in defaults).
Result<std::vector<Param>> Parse(std::string_view conninfo) {
  if (conninfo.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Status::InvalidArgument("empty database connection string");
  }
  std::string text(conninfo);
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(text.c_str(), &err);
  if (opts == nullptr) {
    std::string message = err != nullptr ? err : "out of memory";
    if (err != nullptr)
      PQfreemem(err);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    return Status::InvalidArgument("invalid database connection string: " + message);
  }
  std::vector<Param> params;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val != nullptr)
      params.push_back({o->keyword, o->val});
  }
  PQconninfoFree(opts);
  return params;
}

// Single-quoted libpq value: backslash and quote escaped.
std::string Quote(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'')
      out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

std::string Join(const std::vector<Param>& params, bool redact) {
  std::string out;
  for (const Param& p : params) {
    if (!out.empty())
      out += ' ';
    out += p.keyword;
    out += '=';
    out += redact && p.keyword == "password" ? "***" : Quote(p.value);
  }
  return out;
}

bool Has(const std::vector<Param>& params, std::string_view keyword) {
  for (const Param& p : params) {
    if (p.keyword == keyword)
      return true;
  }
  return false;
}

}  // namespace

Status ValidateConnectionString(std::string_view conninfo) {
  TP_ASSIGN_OR_RETURN(auto params, Parse(conninfo));
  (void)params;
  return Status::Ok();
}

std::string RedactConnectionString(std::string_view conninfo) {
  auto params = Parse(conninfo);
  if (!params.ok())
    return "<invalid connection string>";
  return Join(*params, /*redact=*/true);
}

Result<std::string> NormalizeConnectionString(std::string_view conninfo,
                                              const ConnectOptions& options) {
  TP_ASSIGN_OR_RETURN(auto params, Parse(conninfo));
  if (!Has(params, "connect_timeout") && options.connect_timeout.count() > 0) {
    params.push_back(
        {"connect_timeout", std::to_string(options.connect_timeout.count())});
  }
  if (!Has(params, "application_name") && !options.application_name.empty()) {
    params.push_back({"application_name", options.application_name});
  }
  return Join(params, /*redact=*/false);
}

Result<std::unique_ptr<pqxx::connection>> Connect(std::string_view conninfo,
                                                  const ConnectOptions& options) {
  TP_ASSIGN_OR_RETURN(std::string normalized,
                      NormalizeConnectionString(conninfo, options));
  try {
    return std::make_unique<pqxx::connection>(normalized);
  } catch (...) {
    Status s = StatusFromCurrentException();
    // Failing to open is always "cannot reach the database", whatever libpqxx threw
    // (bad password -> broken_connection too): the caller retries or reports unready.
    return Status::Unavailable(s.message())
        .WithContext("connect to " + RedactConnectionString(conninfo));
  }
}

}  // namespace tp::pg
