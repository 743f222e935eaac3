// JSON scanning without building a document: validation, and walking one object's or
// array's members as views into the text; and the one string escaper for writing JSON.
//
// The broker checks every payload it stores and serves, and the collector reads every
// leased message; a DOM (nlohmann::json) allocates a node per value and a map per
// object, which made JSON the largest part of both processes' CPU per message. These
// functions make one pass over the bytes and allocate nothing, except DecodeString.
//
// Grammar: RFC 8259, strictly (no comments, trailing commas, NaN or leading '+'), strings
// must be valid UTF-8 with no raw control characters, the same as nlohmann::json::accept;
// and nesting is limited to kMaxDepth levels, so that hostile input cannot exhaust the
// stack. Thread-safe: no state outside the arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "tp/status.h"

namespace tp::json_scan {

inline constexpr int kMaxDepth = 512;

enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

// nlohmann's names, for error messages: "null", "boolean", "number", "string", ...
std::string_view KindName(Kind kind);

// One well-formed value: `text` is its exact source text (for a string, with quotes).
struct Value {
  Kind kind = Kind::kNull;
  std::string_view text;
};

// True when `text` is exactly one JSON value, with optional surrounding whitespace.
bool IsValid(std::string_view text);
// True when `text` is one JSON object, with optional surrounding whitespace.
bool IsObject(std::string_view text);

// Validates `text` as one JSON value (surrounding whitespace allowed) and returns it.
// InvalidArgument "malformed JSON at byte N" otherwise.
Result<Value> Parse(std::string_view text);

// Calls `member(key, value)` for each member of the object `object`, in order; `key` is
// decoded. The whole object is validated before the first call, so a malformed document
// never delivers a partial set of members. Stops at, and returns, the first non-OK
// status of `member`. InvalidArgument if `object` is not an object.
Status ForEachMember(
    Value object, const std::function<Status(std::string_view key, Value value)>& member);
// The same for the elements of an array.
Status ForEachElement(Value array, const std::function<Status(Value element)>& element);

// The integer a kNumber value spells when it is an integer literal (no fraction or
// exponent) within int64; InvalidArgument otherwise.
Result<std::int64_t> ToInt64(Value value);

// The string a kString value stands for, escapes decoded (\uXXXX to UTF-8, surrogate
// pairs joined). Requires value.kind == kString (a value from Parse or ForEach*).
std::string DecodeString(Value value);

// Appends `text` as the inside of a JSON string literal (no quotes): '"', '\\' and
// control characters escaped (\n, \r, \t, else \u00XX), well-formed UTF-8 copied as
// it is, and each byte that starts no well-formed UTF-8 sequence replaced by U+FFFD, so
// the literal is valid JSON whatever the bytes.
void AppendEscaped(std::string* out, std::string_view text);

}  // namespace tp::json_scan
