// RFC 3339 timestamps at microsecond precision, shared by every component that reads or
// writes times on the wire (telemetry messages, apigw query parameters, lease deadlines).
//
// Parsing is strict about the calendar (month 1-12, day valid for the month including
// 29 February in leap years, hour 0-23, minute 0-59, second 0-59) but accepts any UTC
// offset, so clients may send local times. Formatting always produces UTC with 'Z' and
// exactly six fractional digits, so formatted strings sort like the times they denote.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "tp/status.h"

namespace tp::telemetry {

// A point in time, UTC, microsecond resolution. Microseconds are what PostgreSQL's
// timestamptz stores, so nothing is lost on the way to the database.
using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)". 'T' may also be 't' or a
// space and 'Z' may be 'z' (RFC 3339 section 5.6 note). The fraction may have 1 to 9
// digits; digits beyond microseconds are truncated (not rounded), so a nanosecond time
// never moves into the next microsecond. Leap seconds (:60) are rejected because
// std::chrono::sys_time cannot represent them.
// Returns InvalidArgument naming what is wrong ("invalid day 30 for month 2").
// Thread-safe (pure function).
Result<Timestamp> ParseRfc3339(std::string_view text);

// Formats as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, exactly 6 fractional digits). Every
// time ParseRfc3339 returns formats back to a string it accepts; years outside
// 0000-9999 (not RFC 3339) are printed with their sign and digits. Thread-safe.
std::string FormatRfc3339(Timestamp time);

// The current time truncated to microseconds.
Timestamp NowMicros();

}  // namespace tp::telemetry
