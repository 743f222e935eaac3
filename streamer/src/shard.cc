#include "streamer/shard.h"

#include <charconv>

namespace tp::streamer {
namespace {

bool ParseU32(std::string_view s, uint32_t* out) {
  if (s.empty())
    return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

std::string ShardSpec::ToString() const {
  return std::to_string(index) + "/" + std::to_string(count);
}

Result<ShardSpec> ParseShard(std::string_view text) {
  const std::string prefix = "shard '" + std::string(text) + "': ";
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return Status::InvalidArgument(prefix + "expected i/N, e.g. 0/4");
  }
  ShardSpec spec;
  if (!ParseU32(text.substr(0, slash), &spec.index)) {
    return Status::InvalidArgument(prefix + "index must be a non-negative integer");
  }
  if (!ParseU32(text.substr(slash + 1), &spec.count)) {
    return Status::InvalidArgument(prefix + "count must be a positive integer");
  }
  if (spec.count == 0)
    return Status::InvalidArgument(prefix + "count must be >= 1");
  if (spec.index >= spec.count) {
    return Status::InvalidArgument(prefix + "index must be < count " +
                                   std::to_string(spec.count));
  }
  return spec;
}

}  // namespace tp::streamer
