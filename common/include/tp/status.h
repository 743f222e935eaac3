// Status and Result<T>: how every library of the project reports failure.
//
// GCC 12 in C++20 mode has no std::expected, so this is a small Arrow/RocksDB-style
// pair. A Status is cheap when OK (no allocation). Errors carry a code that callers
// branch on (Full -> 429/507, NotFound -> 404) and a message for people.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tp {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,  // the caller's input is wrong; retrying will not help
  kNotFound,
  kAlreadyExists,
  kCorruption,   // stored bytes failed a checksum or structural check
  kIOError,      // the storage layer failed; the store is read-only afterwards
  kFull,         // a capacity limit (disk budget, buffer) is reached; retry later
  kUnavailable,  // transient: shutting down, peer unreachable, try again
  kTimeout,
  kFailedPrecondition,  // the object is in the wrong state for this call
  kConflict,            // e.g. an ack after the lease expired
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message);

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) {
    return {StatusCode::kNotFound, std::move(msg)};
  }
  static Status AlreadyExists(std::string msg) {
    return {StatusCode::kAlreadyExists, std::move(msg)};
  }
  static Status Corruption(std::string msg) {
    return {StatusCode::kCorruption, std::move(msg)};
  }
  static Status IOError(std::string msg) {
    return {StatusCode::kIOError, std::move(msg)};
  }
  static Status Full(std::string msg) { return {StatusCode::kFull, std::move(msg)}; }
  static Status Unavailable(std::string msg) {
    return {StatusCode::kUnavailable, std::move(msg)};
  }
  static Status Timeout(std::string msg) {
    return {StatusCode::kTimeout, std::move(msg)};
  }
  static Status FailedPrecondition(std::string msg) {
    return {StatusCode::kFailedPrecondition, std::move(msg)};
  }
  static Status Conflict(std::string msg) {
    return {StatusCode::kConflict, std::move(msg)};
  }
  static Status Internal(std::string msg) {
    return {StatusCode::kInternal, std::move(msg)};
  }

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  const std::string& message() const;
  // "Corruption: checksum mismatch at telemetry/3@17"
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context` ("open /data: ...").
  Status WithContext(std::string_view context) const;

  // Marks a deliberately ignored error, so that ignoring one is greppable.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code() == b.code() && a.message() == b.message();
  }

 private:
  struct State {
    StatusCode code;
    std::string message;
  };
  // shared_ptr keeps copies cheap; the state is immutable once made.
  std::shared_ptr<const State> state_;
};

// Result<T> holds a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status)                          // NOLINT(google-explicit-constructor)
      : status_(std::move(status)) {
    if (status_.ok()) {
      status_ = Status::Internal("Result constructed from an OK status without a value");
    }
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T&& operator*() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

  T ValueOr(T fallback) const& { return ok() ? *value_ : std::move(fallback); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace tp

#define TP_CONCAT_INNER_(a, b) a##b
#define TP_CONCAT_(a, b) TP_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function if it is not OK.
#define TP_RETURN_IF_ERROR(expr)      \
  do {                                \
    ::tp::Status tp_status_ = (expr); \
    if (!tp_status_.ok())             \
      return tp_status_;              \
  } while (false)

// TP_ASSIGN_OR_RETURN(auto x, MakeX()); declares/assigns `lhs` from a Result or returns
// its error. Expands to several statements: do not use as the body of an unbraced if.
#define TP_ASSIGN_OR_RETURN(lhs, expr) \
  TP_ASSIGN_OR_RETURN_IMPL_(TP_CONCAT_(tp_result_, __LINE__), lhs, expr)
#define TP_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok())                                  \
    return tmp.status();                          \
  lhs = std::move(tmp).value()
