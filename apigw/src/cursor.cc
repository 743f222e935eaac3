#include "cursor.h"

#include <array>

#include <nlohmann/json.hpp>

#include "tp/uuid.h"

namespace tp::apigw {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr int kCursorVersion = 1;

Result<nlohmann::json> DecodeObject(std::string_view cursor, std::string_view kind) {
  TP_ASSIGN_OR_RETURN(std::string text, Base64UrlDecode(cursor));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("v") || j["v"] != kCursorVersion ||
      !j.contains("k") || j["k"] != kind) {
    return Status::InvalidArgument("not a cursor of this endpoint");
  }
  return j;
}

}  // namespace

std::string Base64UrlEncode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) {
    out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  }
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view in) {
  std::array<int, 256> value{};
  value.fill(-1);
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    value[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
  }
  if (in.size() % 4 == 1) {
    return Status::InvalidArgument("malformed cursor");
  }
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    const int v = value[c];
    if (v < 0) {
      return Status::InvalidArgument("malformed cursor");
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string EncodeGpuCursor(std::string_view last_gpu) {
  return Base64UrlEncode(
      nlohmann::json{{"v", kCursorVersion}, {"k", "gpus"}, {"id", last_gpu}}.dump());
}

Result<std::string> DecodeGpuCursor(std::string_view cursor) {
  TP_ASSIGN_OR_RETURN(nlohmann::json j, DecodeObject(cursor, "gpus"));
  if (!j.contains("id") || !j["id"].is_string() ||
      j["id"].get<std::string>().size() > 128) {
    return Status::InvalidArgument("malformed cursor");
  }
  return j["id"].get<std::string>();
}

std::string EncodeTelemetryCursor(const TelemetryCursor& c) {
  return Base64UrlEncode(nlohmann::json{
      {"v", kCursorVersion},
      {"k", "telemetry"},
      {"gpu", c.gpu},
      {"o", c.desc ? "desc" : "asc"},
      {"ts", c.ts_micros},
      {"id", c.msg_uuid}}.dump());
}

Result<TelemetryCursor> DecodeTelemetryCursor(std::string_view cursor) {
  TP_ASSIGN_OR_RETURN(nlohmann::json j, DecodeObject(cursor, "telemetry"));
  if (!j.contains("gpu") || !j["gpu"].is_string() || !j.contains("o") ||
      !j["o"].is_string() || !j.contains("ts") || !j["ts"].is_number_integer() ||
      !j.contains("id") || !j["id"].is_string()) {
    return Status::InvalidArgument("malformed cursor");
  }
  TelemetryCursor c;
  c.gpu = j["gpu"].get<std::string>();
  const std::string order = j["o"].get<std::string>();
  if (order != "asc" && order != "desc") {
    return Status::InvalidArgument("malformed cursor");
  }
  c.desc = order == "desc";
  c.ts_micros = j["ts"].get<std::int64_t>();
  // Within years 0001..9999, so that formatting it for PostgreSQL cannot fail.
  if (c.ts_micros < -62135596800000000 || c.ts_micros > 253402300799000000) {
    return Status::InvalidArgument("malformed cursor");
  }
  auto id = Uuid::Parse(j["id"].get<std::string>());
  if (!id.ok()) {
    return Status::InvalidArgument("malformed cursor");
  }
  c.msg_uuid = id->ToString();
  return c;
}

}  // namespace tp::apigw
