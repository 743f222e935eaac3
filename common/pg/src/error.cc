#include "tp/pg/error.h"

#include <string>

#include <pqxx/except>

namespace tp::pg {
namespace {

// PostgreSQL messages span lines (DETAIL, HINT, LINE 1: with a caret); fold them so one
// error is one log line.
std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space)
      out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

StatusCode StatusCodeForSqlState(std::string_view s) {
  if (s.size() != 5)
    return StatusCode::kInternal;
  if (s == "57P01" || s == "57P02" || s == "57P03" || s == "53300") {
    return StatusCode::kUnavailable;
  }
  if (s == "57014" || s == "55P03")
    return StatusCode::kTimeout;
  if (s == "23505")
    return StatusCode::kAlreadyExists;
  if (s == "42P01" || s == "42703" || s == "42883")
    return StatusCode::kFailedPrecondition;
  if (s == "XX001" || s == "XX002")
    return StatusCode::kCorruption;
  std::string_view cls = s.substr(0, 2);
  if (cls == "08")
    return StatusCode::kUnavailable;
  if (cls == "40")
    return StatusCode::kConflict;
  if (cls == "23" || cls == "25" || cls == "55")
    return StatusCode::kFailedPrecondition;
  if (cls == "22" || cls == "42" || cls == "0A")
    return StatusCode::kInvalidArgument;
  if (cls == "53")
    return StatusCode::kFull;
  if (cls == "58")
    return StatusCode::kIOError;
  return StatusCode::kInternal;
}

Status StatusFromException(const std::exception& e) {
  std::string what = OneLine(e.what());
  // Most specific first: in_doubt/completion-unknown before the failure base class, and
  // sql_error before broken_connection (too_many_connections is both in spirit).
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr ||
      dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) {
    return Status::Unavailable("connection lost, outcome of the transaction unknown: " +
                               what);
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    if (state.empty())
      return Status::Internal(what);
    return Status(StatusCodeForSqlState(state), "[SQLSTATE " + state + "] " + what);
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return Status::Unavailable("connection broken: " + what);
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    return Status::Conflict("transaction rolled back: " + what);
  }
  if (dynamic_cast<const pqxx::argument_error*>(&e) != nullptr) {
    return Status::InvalidArgument(what);
  }
  if (dynamic_cast<const pqxx::conversion_error*>(&e) != nullptr ||
      dynamic_cast<const pqxx::range_error*>(&e) != nullptr) {
    return Status::Internal("unexpected result from PostgreSQL: " + what);
  }
  if (StartsWith(what, "Lost connection") || StartsWith(what, "Connection to database")) {
    return Status::Unavailable(what);
  }
  return Status::Internal(what);
}

Status StatusFromCurrentException() {
  try {
    throw;
  } catch (const std::exception& e) {
    return StatusFromException(e);
  } catch (...) {
    return Status::Internal("unknown exception");
  }
}

}  // namespace tp::pg
