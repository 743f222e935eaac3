#include "tp/http/url.h"

#include <charconv>

#include <fmt/format.h>

#include "tp/hex.h"

namespace tp::http {
namespace {

Result<std::uint16_t> ParsePort(std::string_view text, bool allow_zero) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() ||
      value > 65535 || (!allow_zero && value == 0)) {
    return Status::InvalidArgument(fmt::format("invalid port '{}'", text));
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

Result<std::string> PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) {
        return Status::InvalidArgument(fmt::format("truncated %-escape in '{}'", in));
      }
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) {
        return Status::InvalidArgument(fmt::format("bad %-escape in '{}'", in));
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string PercentEncode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<std::multimap<std::string, std::string>> ParseQuery(std::string_view query) {
  std::multimap<std::string, std::string> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (piece.empty()) {
      continue;
    }
    const size_t eq = piece.find('=');
    TP_ASSIGN_OR_RETURN(std::string key, PercentDecode(piece.substr(0, eq), true));
    std::string value;
    if (eq != std::string_view::npos) {
      TP_ASSIGN_OR_RETURN(value, PercentDecode(piece.substr(eq + 1), true));
    }
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

std::string BaseUrl::HostPort() const {
  if (host.find(':') != std::string::npos) {
    return fmt::format("[{}]:{}", host, port);
  }
  return fmt::format("{}:{}", host, port);
}

Result<std::pair<std::string, std::uint16_t>> ParseHostPort(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() ||
        text[close + 1] != ':') {
      return Status::InvalidArgument(
          fmt::format("invalid address '{}': want [ipv6]:port", text));
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument(
          fmt::format("invalid address '{}': want host:port", text));
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Status::InvalidArgument(
          fmt::format("invalid address '{}': put IPv6 addresses in brackets", text));
    }
  }
  if (host.empty()) {
    return Status::InvalidArgument(fmt::format("invalid address '{}': empty host", text));
  }
  auto p = ParsePort(port, /*allow_zero=*/true);
  if (!p.ok()) {
    return Status::InvalidArgument(fmt::format("invalid address '{}': bad port", text));
  }
  return std::make_pair(std::string(host), *p);
}

Result<BaseUrl> ParseBaseUrl(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  if (url.starts_with("https://")) {
    return Status::InvalidArgument(fmt::format(
        "unsupported URL '{}': https is not supported, use http://host:port", url));
  }
  if (!url.starts_with(kHttp)) {
    return Status::InvalidArgument(
        fmt::format("invalid URL '{}': want http://host:port[/prefix]", url));
  }
  std::string_view rest = url.substr(kHttp.size());
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("invalid URL '{}': no query or fragment allowed", url));
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view prefix =
      slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("invalid URL '{}': no user info allowed", url));
  }
  BaseUrl out;
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument(fmt::format("invalid URL '{}': unclosed '['", url));
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return Status::InvalidArgument(fmt::format("invalid URL '{}'", url));
      }
      port = after.substr(1);
      if (port.empty()) {
        return Status::InvalidArgument(fmt::format("invalid URL '{}': empty port", url));
      }
    }
  } else {
    const size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty()) {
        return Status::InvalidArgument(fmt::format("invalid URL '{}': empty port", url));
      }
    }
  }
  if (host.empty()) {
    return Status::InvalidArgument(fmt::format("invalid URL '{}': empty host", url));
  }
  out.host = std::string(host);
  if (!port.empty()) {
    auto p = ParsePort(port, /*allow_zero=*/false);
    if (!p.ok()) {
      return Status::InvalidArgument(
          fmt::format("invalid URL '{}': port must be 1..65535", url));
    }
    out.port = *p;
  }
  while (!prefix.empty() && prefix.back() == '/') {
    prefix.remove_suffix(1);
  }
  out.prefix = std::string(prefix);
  return out;
}

}  // namespace tp::http
