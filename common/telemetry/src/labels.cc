#include "tp/telemetry/labels.h"

#include <algorithm>
#include <vector>

namespace tp::telemetry {
namespace {

bool IsKeyStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsKeyChar(char c) {
  return IsKeyStart(c) || (c >= '0' && c <= '9');
}
bool IsSpace(char c) {
  return c == ' ' || c == '\t';
}

Status Bad(size_t pos, std::string_view why) {
  return Status::InvalidArgument("malformed labels at byte " + std::to_string(pos) +
                                 ": " + std::string(why));
}

}  // namespace

Status ForEachLabel(
    std::string_view raw,
    const std::function<Status(std::string_view key, std::string_view value)>& label) {
  std::vector<std::string_view> keys;  // views into raw: their position is known
  std::string unescaped;
  size_t pos = 0;
  const size_t n = raw.size();
  auto skip_spaces = [&] {
    while (pos < n && IsSpace(raw[pos]))
      ++pos;
  };
  skip_spaces();
  while (pos < n) {
    const size_t key_start = pos;
    if (!IsKeyStart(raw[pos]))
      return Bad(pos, "expected a label name");
    while (pos < n && IsKeyChar(raw[pos]))
      ++pos;
    const std::string_view key = raw.substr(key_start, pos - key_start);
    skip_spaces();
    if (pos >= n || raw[pos] != '=')
      return Bad(pos, "expected '=' after '" + std::string(key) + "'");
    ++pos;
    skip_spaces();
    if (pos >= n || raw[pos] != '"')
      return Bad(pos, "expected '\"' to open the value");
    ++pos;
    // A value without escapes is handed on as a view into raw.
    const size_t value_start = pos;
    pos = std::min(raw.find_first_of("\"\\", pos), n);
    std::string_view value = raw.substr(value_start, pos - value_start);
    if (pos < n && raw[pos] == '\\') {
      unescaped.assign(value);
      while (pos < n && raw[pos] != '"') {
        const char c = raw[pos++];
        if (c != '\\') {
          unescaped.push_back(c);
          continue;
        }
        if (pos >= n)
          break;
        const char e = raw[pos++];
        switch (e) {
          case '\\':
            unescaped.push_back('\\');
            break;
          case '"':
            unescaped.push_back('"');
            break;
          case 'n':
            unescaped.push_back('\n');
            break;
          default:
            return Bad(pos - 2, std::string("unknown escape '\\") + e + "'");
        }
      }
      value = unescaped;
    }
    if (pos >= n)
      return Bad(pos, "unterminated value of '" + std::string(key) + "'");
    ++pos;  // the closing quote
    keys.push_back(key);
    TP_RETURN_IF_ERROR(label(key, value));
    skip_spaces();
    if (pos >= n)
      break;
    if (raw[pos] != ',')
      return Bad(pos, "expected ',' between labels");
    ++pos;
    skip_spaces();
  }
  // Checked at the end, in O(n log n): a label string comes from outside and may be long.
  std::sort(keys.begin(), keys.end(), [](std::string_view a, std::string_view b) {
    return a < b || (a == b && a.data() < b.data());
  });
  if (const auto dup = std::adjacent_find(keys.begin(), keys.end()); dup != keys.end())
    return Bad(static_cast<size_t>(dup[1].data() - raw.data()), "duplicate label");
  return Status::Ok();
}

Result<Labels> ParseLabels(std::string_view raw) {
  Labels labels;
  TP_RETURN_IF_ERROR(ForEachLabel(raw, [&](std::string_view key, std::string_view value) {
    labels.emplace(key, value);
    return Status::Ok();
  }));
  return labels;
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string FormatLabels(const Labels& labels) {
  std::string out;
  for (const auto& [key, value] : labels) {
    if (!out.empty())
      out.push_back(',');
    out += key;
    out += "=\"";
    out += EscapeLabelValue(value);
    out.push_back('"');
  }
  return out;
}

}  // namespace tp::telemetry
