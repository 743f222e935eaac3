// Converting libpqxx exceptions into tp::Status, once, at the boundary.
//
// libpqxx reports every failure by throwing. Code in this project calls libpqxx inside
// tp::pg::Call (or catches and calls StatusFromException) so that exceptions never travel
// further than the function that talks to PostgreSQL. The mapping keeps what callers
// branch on:
//   - the connection is gone (pqxx::broken_connection, SQLSTATE class 08, 57P0x admin or
//     crash shutdown, 53300 too many connections): kUnavailable, retry on a new
//     connection;
//   - pqxx::in_doubt_error / statement_completion_unknown (the link broke during COMMIT):
//     kUnavailable, and the message says the outcome is unknown; our writes are
//     idempotent (ON CONFLICT DO NOTHING), so a retry is the answer;
//   - SQL errors by SQLSTATE class (see StatusCodeForSqlState), with the SQLSTATE in the
//     message: "[SQLSTATE 23505] ERROR: duplicate key value ...".
// Messages are folded onto one line (PostgreSQL's DETAIL/HINT lines included) because
// they end up in one-line log records and CLI errors.
#pragma once

#include <exception>
#include <string_view>
#include <type_traits>
#include <utility>

#include "tp/status.h"

namespace tp::pg {

// The StatusCode for a five-character SQLSTATE:
//   08xxx, 57P01-57P03, 53300          -> kUnavailable (connection lost / server going
//   away) 40xxx (serialization, deadlock)    -> kConflict (retry the transaction) 23505
//   (unique violation)           -> kAlreadyExists 23xxx (other integrity violations) ->
//   kFailedPrecondition 42P01, 42703, 42883 (undefined table/column/function) ->
//   kFailedPrecondition (the
//                                         schema is behind: run migrations)
//   22xxx, 42xxx, 0Axxx                -> kInvalidArgument (bad data or bad SQL)
//   53100 (disk full), other 53xxx     -> kFull
//   57014 (statement timeout/cancel), 55P03 (lock timeout) -> kTimeout
//   25xxx, 55xxx                       -> kFailedPrecondition
//   58xxx                              -> kIOError
//   XX001, XX002 (data corrupted)      -> kCorruption
//   anything else, or empty            -> kInternal
StatusCode StatusCodeForSqlState(std::string_view sqlstate);

// Converts an exception thrown by libpqxx (or any std::exception) into a non-OK Status as
// described in the file comment. Never returns OK.
Status StatusFromException(const std::exception& e);

// Converts the exception currently being handled; call only inside a catch block.
Status StatusFromCurrentException();

namespace internal {
template <typename T>
struct IsResult : std::false_type {};
template <typename T>
struct IsResult<Result<T>> : std::true_type {};
}  // namespace internal

// Runs `fn` and turns anything it throws into a Status prefixed with `context`.
// fn returning void -> Status; Status -> Status; Result<T> -> Result<T>; T -> Result<T>.
//   TP_ASSIGN_OR_RETURN(auto n, pg::Call("count gpus", [&] {
//     pqxx::read_transaction tx(conn);
//     return tx.exec1("SELECT count(*) FROM gpus")[0].as<int64_t>();
//   }));
template <typename Fn>
auto Call(std::string_view context, Fn&& fn) {
  using R = std::invoke_result_t<Fn&>;
  if constexpr (std::is_void_v<R>) {
    try {
      fn();
      return Status::Ok();
    } catch (...) {
      return StatusFromCurrentException().WithContext(context);
    }
  } else if constexpr (std::is_same_v<R, Status> || internal::IsResult<R>::value) {
    try {
      return R(fn());
    } catch (...) {
      return R(StatusFromCurrentException().WithContext(context));
    }
  } else {
    try {
      return Result<R>(fn());
    } catch (...) {
      return Result<R>(StatusFromCurrentException().WithContext(context));
    }
  }
}

}  // namespace tp::pg
