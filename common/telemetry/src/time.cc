#include "tp/telemetry/time.h"

#include <cstdio>
#include <string>

namespace tp::telemetry {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// Reads exactly `n` digits at text[pos..]; false if any is missing or not a digit.
bool ReadDigits(std::string_view text, size_t pos, size_t n, int* out) {
  if (pos + n > text.size())
    return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = text[pos + i];
    if (!IsDigit(c))
      return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

Status Bad(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("invalid RFC 3339 time '" + std::string(text) +
                                 "': " + std::string(why));
}

}  // namespace

Result<Timestamp> ParseRfc3339(std::string_view text) {
  using std::chrono::days;
  using std::chrono::hours;
  using std::chrono::microseconds;
  using std::chrono::minutes;
  using std::chrono::seconds;

  // Layout: YYYY-MM-DD T HH:MM:SS  -> fixed positions 0..18.
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (text.size() < 20)
    return Bad(text, "too short");
  if (!ReadDigits(text, 0, 4, &year) || text[4] != '-' ||
      !ReadDigits(text, 5, 2, &month) || text[7] != '-' ||
      !ReadDigits(text, 8, 2, &day)) {
    return Bad(text, "expected date YYYY-MM-DD");
  }
  if (text[10] != 'T' && text[10] != 't' && text[10] != ' ') {
    return Bad(text, "expected 'T' between date and time");
  }
  if (!ReadDigits(text, 11, 2, &hour) || text[13] != ':' ||
      !ReadDigits(text, 14, 2, &minute) || text[16] != ':' ||
      !ReadDigits(text, 17, 2, &second)) {
    return Bad(text, "expected time HH:MM:SS");
  }
  if (month < 1 || month > 12)
    return Bad(text, "invalid month " + std::to_string(month));
  const std::chrono::year_month_day ymd{std::chrono::year(year),
                                        std::chrono::month(static_cast<unsigned>(month)),
                                        std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) {
    return Bad(
        text,
        "invalid day " + std::to_string(day) + " for month " + std::to_string(month));
  }
  if (hour > 23)
    return Bad(text, "invalid hour " + std::to_string(hour));
  if (minute > 59)
    return Bad(text, "invalid minute " + std::to_string(minute));
  if (second == 60)
    return Bad(text, "leap seconds are not supported");
  if (second > 59)
    return Bad(text, "invalid second " + std::to_string(second));

  size_t pos = 19;
  int64_t micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < text.size() && IsDigit(text[pos])) {
      if (digits < 6)
        micros = micros * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0)
      return Bad(text, "expected digits after '.'");
    if (digits > 9)
      return Bad(text, "more than 9 fractional digits");
    for (size_t i = digits; i < 6; ++i)
      micros *= 10;
  }

  if (pos >= text.size())
    return Bad(text, "missing UTC offset ('Z' or +hh:mm)");
  int offset_minutes = 0;
  const char zone = text[pos];
  if (zone == 'Z' || zone == 'z') {
    ++pos;
  } else if (zone == '+' || zone == '-') {
    int oh = 0;
    int om = 0;
    if (!ReadDigits(text, pos + 1, 2, &oh) || pos + 3 >= text.size() ||
        text[pos + 3] != ':' || !ReadDigits(text, pos + 4, 2, &om)) {
      return Bad(text, "expected UTC offset +hh:mm");
    }
    if (oh > 23 || om > 59)
      return Bad(text, "invalid UTC offset");
    offset_minutes = (oh * 60 + om) * (zone == '-' ? -1 : 1);
    pos += 6;
  } else {
    return Bad(text, "expected 'Z' or +hh:mm after the time");
  }
  if (pos != text.size())
    return Bad(text, "unexpected trailing characters");

  // Local time minus its offset is UTC.
  const auto local = std::chrono::sys_days(ymd) + hours(hour) + minutes(minute) +
                     seconds(second) + microseconds(micros);
  return Timestamp(local - minutes(offset_minutes));
}

namespace {
// Writes `value` as exactly `width` decimal digits ending just before `end`.
void PutDigits(char* end, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) {
    *--end = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}
}  // namespace

// Hand-written rather than snprintf: the streamer stamps every message, and the format
// parser was most of the cost.
std::string FormatRfc3339(Timestamp time) {
  using std::chrono::days;
  // floor, not duration_cast: times before 1970 must still give a day-aligned date with a
  // non-negative time of day.
  const auto day_point = std::chrono::floor<days>(time);
  const std::chrono::year_month_day ymd{day_point};
  const std::chrono::hh_mm_ss tod{time - day_point};
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) {  // beyond four digits: keep the general formatter
    char buf[64];
    const int n = std::snprintf(buf,
                                sizeof(buf),
                                "%04d-%02u-%02uT%02d:%02d:%02lld.%06lldZ",
                                year,
                                static_cast<unsigned>(ymd.month()),
                                static_cast<unsigned>(ymd.day()),
                                static_cast<int>(tod.hours().count()),
                                static_cast<int>(tod.minutes().count()),
                                static_cast<long long>(tod.seconds().count()),
                                static_cast<long long>(tod.subseconds().count()));
    return std::string(buf, static_cast<size_t>(n));
  }
  std::string out = "YYYY-MM-DDTHH:MM:SS.ffffffZ";  // the digits are overwritten
  char* p = out.data();
  PutDigits(p + 4, static_cast<uint64_t>(year), 4);
  PutDigits(p + 7, static_cast<unsigned>(ymd.month()), 2);
  PutDigits(p + 10, static_cast<unsigned>(ymd.day()), 2);
  PutDigits(p + 13, static_cast<uint64_t>(tod.hours().count()), 2);
  PutDigits(p + 16, static_cast<uint64_t>(tod.minutes().count()), 2);
  PutDigits(p + 19, static_cast<uint64_t>(tod.seconds().count()), 2);
  PutDigits(p + 26, static_cast<uint64_t>(tod.subseconds().count()), 6);
  return out;
}

Timestamp NowMicros() {
  return std::chrono::floor<std::chrono::microseconds>(std::chrono::system_clock::now());
}

}  // namespace tp::telemetry
