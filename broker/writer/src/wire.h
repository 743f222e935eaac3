// Encoding and decoding of the broker's flatbuffers wire formats (schema/broker.fbs),
// shared by the writer's routes and the HTTP LogSource so both sides use one codec.
// Decoders verify the buffer first and return InvalidArgument naming what is wrong.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "broker/log_source.h"
#include "broker/writer.h"
#include "tp/status.h"

namespace tp::broker::wire {

inline constexpr std::string_view kContentType = "application/x-flatbuffers";

// Takes the body over: the messages' keys and payloads view it (PublishBatch::bytes).
// A body of no or more than `max_messages` messages is refused before they are decoded.
Status DecodePublish(std::string body, uint32_t max_messages, PublishBatch* batch);

std::string EncodeFetchRequest(const FetchRequest& request);
Result<FetchRequest> DecodeFetchRequest(std::string_view body);
std::string EncodeFetchResponse(const FetchResponse& response);
Result<FetchResponse> DecodeFetchResponse(std::string_view body);

struct CommitRequest {
  std::string topic;
  std::string group;
  std::map<uint32_t, uint64_t> offsets;
};
std::string EncodeCommitRequest(const CommitRequest& request);
Result<CommitRequest> DecodeCommitRequest(std::string_view body);
std::string EncodeOffsets(const std::map<uint32_t, uint64_t>& offsets);
Result<std::map<uint32_t, uint64_t>> DecodeOffsets(std::string_view body);

}  // namespace tp::broker::wire
