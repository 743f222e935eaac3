#include "format.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>

namespace tp::walctl {

Table::Table(std::vector<Column> columns)
    : columns_(std::move(columns)), widths_(columns_.size(), 0) {
  for (size_t i = 0; i < columns_.size(); ++i)
    widths_[i] = columns_[i].title.size();
}

void Table::AddRow(std::vector<std::string> row) {
  row.resize(columns_.size());
  for (size_t i = 0; i < row.size(); ++i)
    widths_[i] = std::max(widths_[i], row[i].size());
  rows_.push_back(std::move(row));
}

void Table::PrintRow(std::ostream& out, const std::vector<std::string>& row) const {
  std::string line;
  for (size_t i = 0; i < row.size(); ++i) {
    const bool last = i + 1 == row.size();
    const size_t pad = widths_[i] - std::min(widths_[i], row[i].size());
    if (columns_[i].right_align) {
      line.append(pad, ' ');
      line += row[i];
    } else {
      line += row[i];
      if (!last)
        line.append(pad, ' ');
    }
    if (!last)
      line += "  ";
  }
  line.erase(line.find_last_not_of(' ') + 1);  // an empty last cell leaves no padding
  out << line << '\n';
}

void Table::Flush(std::ostream& out, bool with_header) {
  if (with_header) {
    std::vector<std::string> titles;
    for (const Column& c : columns_)
      titles.push_back(c.title);
    PrintRow(out, titles);
  }
  for (const auto& row : rows_)
    PrintRow(out, row);
  rows_.clear();
}

std::string FormatRfc3339Micros(wal::PublishTime time) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(time);
  const auto micros = (time - seconds).count();
  const std::time_t t = std::chrono::system_clock::to_time_t(seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%06lldZ", static_cast<long long>(micros));
  return buf;
}

bool IsText(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    const auto c = static_cast<uint8_t>(bytes[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
        return false;
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > bytes.size())
      return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<uint8_t>(bytes[i + k]);
      if ((cc & 0xc0) != 0x80)
        return false;
      cp = cp << 6 | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values beyond Unicode are not UTF-8.
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    // C1 control characters.
    if (cp >= 0x80 && cp < 0xa0)
      return false;
    i += len;
  }
  return true;
}

std::string Base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16 |
                       static_cast<uint8_t>(bytes[i + 1]) << 8 |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2)
      v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string CellForBytes(std::string_view bytes) {
  if (bytes.empty())
    return "\"\"";  // an empty cell would shift the columns after it
  if (!IsText(bytes))
    return "base64:" + Base64Encode(bytes);
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    switch (c) {
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace tp::walctl
