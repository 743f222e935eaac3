// Opaque pagination cursors: base64url (no padding) of a small JSON object. Opaque to
// clients, but not secret: a cursor only names a position, and every value read from one
// is validated again before it reaches a query.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tp/status.h"

namespace tp::apigw {

std::string Base64UrlEncode(std::string_view in);
// InvalidArgument on characters outside the alphabet or an impossible length.
Result<std::string> Base64UrlDecode(std::string_view in);

// GET /api/v1/gpus: the last GPU UUID returned.
std::string EncodeGpuCursor(std::string_view last_gpu);
Result<std::string> DecodeGpuCursor(std::string_view cursor);

// GET /api/v1/gpus/{id}/telemetry: the last (ts, msg_uuid) returned, plus the GPU and
// order it belongs to so that a cursor reused on another query is rejected.
struct TelemetryCursor {
  std::string gpu;
  bool desc = false;
  std::int64_t ts_micros = 0;
  std::string msg_uuid;  // canonical lower-case UUID text
};
std::string EncodeTelemetryCursor(const TelemetryCursor& cursor);
Result<TelemetryCursor> DecodeTelemetryCursor(std::string_view cursor);

}  // namespace tp::apigw
