#include "tp/telemetry/labels.h"

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

Result<Labels> ParseLabels(std::string_view raw) {
  Labels labels;
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
    std::string key(raw.substr(key_start, pos - key_start));
    skip_spaces();
    if (pos >= n || raw[pos] != '=')
      return Bad(pos, "expected '=' after '" + key + "'");
    ++pos;
    skip_spaces();
    if (pos >= n || raw[pos] != '"')
      return Bad(pos, "expected '\"' to open the value");
    ++pos;
    std::string value;
    bool closed = false;
    while (pos < n) {
      const char c = raw[pos++];
      if (c == '"') {
        closed = true;
        break;
      }
      if (c != '\\') {
        value.push_back(c);
        continue;
      }
      if (pos >= n)
        break;
      const char e = raw[pos++];
      switch (e) {
        case '\\':
          value.push_back('\\');
          break;
        case '"':
          value.push_back('"');
          break;
        case 'n':
          value.push_back('\n');
          break;
        default:
          return Bad(pos - 2, std::string("unknown escape '\\") + e + "'");
      }
    }
    if (!closed)
      return Bad(pos, "unterminated value of '" + key + "'");
    if (!labels.emplace(std::move(key), std::move(value)).second) {
      return Bad(key_start, "duplicate label");
    }
    skip_spaces();
    if (pos >= n)
      break;
    if (raw[pos] != ',')
      return Bad(pos, "expected ',' between labels");
    ++pos;
    skip_spaces();
  }
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
