#include "tp/json_scan.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "tp/hex.h"

namespace tp::json_scan {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

bool IsPlain(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

// How many bytes from `p` on are plain: printable ASCII other than '"' and '\\', the
// bytes a JSON string holds as they are. Eight at a time: most of a telemetry message's
// text is plain, and the byte-by-byte checks were the largest part of scanning it.
std::size_t PlainRun(const char* p, const char* end) {
  const char* const start = p;
  if constexpr (std::endian::native == std::endian::little) {
    constexpr std::uint64_t kOnes = 0x0101010101010101;
    constexpr std::uint64_t kHigh = 0x8080808080808080;
    // High bit of each byte that is zero, below 0x20, or >= 0x80. Exact for the lowest
    // such byte (a borrow only disturbs the bytes above it), which is all that is used.
    auto special = [](std::uint64_t w) {
      auto zero = [](std::uint64_t v) {
        return (v - kOnes) & ~v & kHigh;
      };
      return zero(w ^ (kOnes * '"')) | zero(w ^ (kOnes * '\\')) |
             ((w - kOnes * 0x20) & ~w & kHigh) | (w & kHigh);
    };
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, sizeof w);
      if (const std::uint64_t m = special(w); m != 0)
        return static_cast<std::size_t>(p - start) + std::countr_zero(m) / 8;
      p += 8;
    }
  }
  while (p < end && IsPlain(static_cast<unsigned char>(*p)))
    ++p;
  return static_cast<std::size_t>(p - start);
}

// Reads the 4 hex digits of a \u escape at `p`; -1 if they are not 4 hex digits.
int Hex4(const char* p, const char* end) {
  if (end - p < 4)
    return -1;
  int v = 0;
  for (int i = 0; i < 4; ++i) {
    const int d = HexValue(p[i]);
    if (d < 0)
      return -1;
    v = v * 16 + d;
  }
  return v;
}

// The length of the well-formed UTF-8 sequence (Unicode Table 3-7) that starts with the
// byte >= 0x80 at `p`, or 0 if none does.
std::size_t Utf8Length(const char* p, const char* end) {
  const auto b0 = static_cast<unsigned char>(*p);
  std::size_t continuation = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    continuation = 1;
  } else if (b0 == 0xE0) {
    continuation = 2, lo = 0xA0;
  } else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
    continuation = 2;
  } else if (b0 == 0xED) {
    continuation = 2, hi = 0x9F;
  } else if (b0 == 0xF0) {
    continuation = 3, lo = 0x90;
  } else if (b0 >= 0xF1 && b0 <= 0xF3) {
    continuation = 3;
  } else if (b0 == 0xF4) {
    continuation = 3, hi = 0x8F;
  } else {
    return 0;
  }
  if (static_cast<std::size_t>(end - p) <= continuation)
    return 0;
  const auto b1 = static_cast<unsigned char>(p[1]);
  if (b1 < lo || b1 > hi)
    return 0;
  for (std::size_t i = 2; i <= continuation; ++i) {
    const auto b = static_cast<unsigned char>(p[i]);
    if (b < 0x80 || b > 0xBF)
      return 0;
  }
  return continuation + 1;
}

// A validating recursive-descent scanner over [p, end).
class Scanner {
 public:
  Scanner(const char* begin, const char* end) : begin_(begin), p_(begin), end_(end) {}

  void SkipSpace() {
    while (p_ < end_ && IsSpace(*p_))
      ++p_;
  }
  bool AtEnd() const { return p_ == end_; }
  std::size_t Offset() const { return static_cast<std::size_t>(p_ - begin_); }
  const char* Position() const { return p_; }

  // One value at the current position (no leading whitespace), which it consumes.
  bool ScanValue(Kind* kind, int depth) {
    if (p_ == end_)
      return false;
    switch (*p_) {
      case '{':
        *kind = Kind::kObject;
        return ScanObject(depth + 1);
      case '[':
        *kind = Kind::kArray;
        return ScanArray(depth + 1);
      case '"':
        *kind = Kind::kString;
        return ScanString();
      case 't':
        *kind = Kind::kBool;
        return Literal("true");
      case 'f':
        *kind = Kind::kBool;
        return Literal("false");
      case 'n':
        *kind = Kind::kNull;
        return Literal("null");
      default:
        *kind = Kind::kNumber;
        return ScanNumber();
    }
  }

  // At '"'. Consumes the string, checking escapes and UTF-8.
  bool ScanString() {
    ++p_;
    while (p_ < end_) {
      p_ += PlainRun(p_, end_);
      if (p_ == end_)
        break;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c == '\\') {
        if (!ScanEscape())
          return false;
      } else if (c < 0x20) {
        return false;
      } else if (c < 0x80) {
        ++p_;
      } else if (const std::size_t n = Utf8Length(p_, end_); n > 0) {
        p_ += n;
      } else {
        return false;
      }
    }
    return false;
  }

  // Walks the members of the object at the current position ('{', `depth` levels
  // deep), calling `member` with each raw key (quotes included) and value; stops early
  // when `member` returns non-OK, which lands in `*stopped`.
  template <typename Fn>
  bool WalkObject(int depth, Fn&& member, Status* stopped) {
    return WalkSequence('}', stopped, [&] {
      if (p_ == end_ || *p_ != '"')
        return false;
      const char* key = p_;
      if (!ScanString())
        return false;
      const std::string_view raw_key(key, static_cast<std::size_t>(p_ - key));
      SkipSpace();
      if (p_ == end_ || *p_ != ':')
        return false;
      ++p_;
      SkipSpace();
      return ScanItem(depth, stopped, [&](Value v) { return member(raw_key, v); });
    });
  }

  template <typename Fn>
  bool WalkArray(int depth, Fn&& element, Status* stopped) {
    return WalkSequence(']', stopped, [&] { return ScanItem(depth, stopped, element); });
  }

 private:
  // The items of an object or array at its opening bracket, separated by commas, up to
  // `close`. `item` scans one and returns false when it is malformed.
  template <typename Item>
  bool WalkSequence(char close, const Status* stopped, Item&& item) {
    ++p_;
    SkipSpace();
    if (p_ < end_ && *p_ == close) {
      ++p_;
      return true;
    }
    while (true) {
      if (!item())
        return false;
      if (!stopped->ok())
        return true;
      SkipSpace();
      if (p_ == end_)
        return false;
      if (*p_ == close) {
        ++p_;
        return true;
      }
      if (*p_ != ',')
        return false;
      ++p_;
      SkipSpace();
    }
  }

  // One value, handed to `deliver`, whose status lands in `*stopped`.
  template <typename Deliver>
  bool ScanItem(int depth, Status* stopped, Deliver&& deliver) {
    Value v;
    const char* start = p_;
    if (!ScanValue(&v.kind, depth))
      return false;
    v.text = std::string_view(start, static_cast<std::size_t>(p_ - start));
    *stopped = deliver(v);
    return true;
  }

  static Status Continue(std::string_view, Value) { return Status::Ok(); }
  static Status ContinueElement(Value) { return Status::Ok(); }

  bool ScanObject(int depth) {
    Status unused;
    return depth <= kMaxDepth && WalkObject(depth, Continue, &unused);
  }
  bool ScanArray(int depth) {
    Status unused;
    return depth <= kMaxDepth && WalkArray(depth, ContinueElement, &unused);
  }

  bool Literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::string_view(p_, word.size()) != word) {
      return false;
    }
    p_ += word.size();
    return true;
  }

  bool Digits() {
    if (p_ == end_ || !IsDigit(*p_))
      return false;
    while (p_ < end_ && IsDigit(*p_))
      ++p_;
    return true;
  }

  // Also rejects a number too large for a double, as nlohmann does: only a number whose
  // digits and exponent say it might be that large is converted.
  bool ScanNumber() {
    const char* start = p_;
    if (*p_ == '-')
      ++p_;
    if (p_ == end_)
      return false;
    const char* int_begin = p_;
    if (*p_ == '0') {
      ++p_;
    } else if (!Digits()) {
      return false;
    }
    long magnitude = p_ - int_begin;  // decimal digits before the point
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (!Digits())
        return false;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      bool negative = false;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-'))
        negative = *p_++ == '-';
      const char* exp_begin = p_;
      if (!Digits())
        return false;
      long exponent = 0;
      for (const char* d = exp_begin; d < p_ && exponent < 100'000; ++d)
        exponent = exponent * 10 + (*d - '0');
      magnitude += negative ? -exponent : exponent;
    }
    if (magnitude > 300) {
      const std::string number(start, p_);
      return std::isfinite(std::strtod(number.c_str(), nullptr));
    }
    return true;
  }

  // At '\\'. A \u escape of a high surrogate must be followed by one of a low surrogate,
  // and a low surrogate must not stand alone.
  bool ScanEscape() {
    ++p_;
    if (p_ == end_)
      return false;
    switch (*p_) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        ++p_;
        return true;
      case 'u': {
        const int unit = Hex4(p_ + 1, end_);
        if (unit < 0)
          return false;
        p_ += 5;
        if (unit >= 0xDC00 && unit <= 0xDFFF)
          return false;
        if (unit >= 0xD800 && unit <= 0xDBFF) {
          if (end_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u')
            return false;
          const int low = Hex4(p_ + 2, end_);
          if (low < 0xDC00 || low > 0xDFFF)
            return false;
          p_ += 6;
        }
        return true;
      }
      default:
        return false;
    }
  }

  const char* begin_;
  const char* p_;
  const char* end_;
};

Status Malformed(std::size_t offset) {
  return Status::InvalidArgument(fmt::format("malformed JSON at byte {}", offset));
}

void AppendUtf8(std::string* out, std::uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "boolean";
    case Kind::kNumber:
      return "number";
    case Kind::kString:
      return "string";
    case Kind::kArray:
      return "array";
    case Kind::kObject:
      return "object";
  }
  return "value";
}

Result<Value> Parse(std::string_view text) {
  Scanner s(text.data(), text.data() + text.size());
  s.SkipSpace();
  Value v;
  const char* start = s.Position();
  if (!s.ScanValue(&v.kind, 0))
    return Malformed(s.Offset());
  v.text = std::string_view(start, static_cast<std::size_t>(s.Position() - start));
  s.SkipSpace();
  if (!s.AtEnd())
    return Malformed(s.Offset());
  return v;
}

bool IsValid(std::string_view text) {
  return Parse(text).ok();
}

bool IsObject(std::string_view text) {
  auto v = Parse(text);
  return v.ok() && v->kind == Kind::kObject;
}

Status ForEachMember(
    Value object,
    const std::function<Status(std::string_view key, Value value)>& member) {
  if (object.kind != Kind::kObject || object.text.empty() || object.text.front() != '{') {
    return Status::InvalidArgument(
        fmt::format("expected an object, got {}", KindName(object.kind)));
  }
  Scanner s(object.text.data(), object.text.data() + object.text.size());
  Status stopped;
  std::string decoded_key;
  const bool ok = s.WalkObject(
      1,
      [&](std::string_view raw_key, Value v) {
        if (raw_key.find('\\') == std::string_view::npos) {
          return member(raw_key.substr(1, raw_key.size() - 2), v);
        }
        decoded_key = DecodeString(Value{Kind::kString, raw_key});
        return member(decoded_key, v);
      },
      &stopped);
  if (!ok)
    return Malformed(s.Offset());
  return stopped;
}

Status ForEachElement(Value array, const std::function<Status(Value element)>& element) {
  if (array.kind != Kind::kArray || array.text.empty() || array.text.front() != '[') {
    return Status::InvalidArgument(
        fmt::format("expected an array, got {}", KindName(array.kind)));
  }
  Scanner s(array.text.data(), array.text.data() + array.text.size());
  Status stopped;
  if (!s.WalkArray(1, element, &stopped))
    return Malformed(s.Offset());
  return stopped;
}

Result<std::int64_t> ToInt64(Value value) {
  std::int64_t out = 0;
  const char* end = value.text.data() + value.text.size();
  auto [ptr, ec] = std::from_chars(value.text.data(), end, out);
  if (value.kind != Kind::kNumber || ec != std::errc() || ptr != end) {
    return Status::InvalidArgument(fmt::format("expected an integer, got {}",
                                               value.kind == Kind::kNumber
                                                   ? std::string(value.text)
                                                   : std::string(KindName(value.kind))));
  }
  return out;
}

std::string DecodeString(Value value) {
  std::string out;
  if (value.kind != Kind::kString || value.text.size() < 2)
    return out;
  const std::string_view body = value.text.substr(1, value.text.size() - 2);
  out.reserve(body.size());
  for (std::size_t i = 0; i < body.size(); ++i) {
    // The text was validated: everything up to the next backslash is taken as it is.
    const std::size_t escape = std::min(body.find('\\', i), body.size());
    out.append(body.substr(i, escape - i));
    i = escape;
    if (i == body.size())
      break;
    const char e = body[++i];
    switch (e) {
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        const char* end = body.data() + body.size();
        std::uint32_t cp = static_cast<std::uint32_t>(Hex4(body.data() + i + 1, end));
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          const auto low = static_cast<std::uint32_t>(Hex4(body.data() + i + 3, end));
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          i += 6;
        }
        AppendUtf8(&out, cp);
        break;
      }
      default:  // '"', '\\', '/'
        out.push_back(e);
    }
  }
  return out;
}

void AppendEscaped(std::string* out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  out->reserve(out->size() + text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t plain = PlainRun(text.data() + i, text.data() + text.size());
    out->append(text.substr(i, plain));
    i += plain;
    if (i == text.size())
      break;
    const char ch = text[i];
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      const std::size_t n = Utf8Length(text.data() + i, text.data() + text.size());
      if (n == 0) {
        out->append(kReplacement);
        ++i;
      } else {
        out->append(text.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (ch) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(ch);
        }
    }
    ++i;
  }
}

}  // namespace tp::json_scan
