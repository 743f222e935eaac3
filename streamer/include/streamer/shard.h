// Splitting one CSV among N streamers: `--shard i/N` makes this streamer emit the rows
// whose 0-based data-row index is i modulo N. The assignment depends only on the row's
// position in the file, so N streamers over the same file emit every row exactly once
// per loop, whatever rows fail to parse.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tp/status.h"

namespace tp::streamer {

struct ShardSpec {
  uint32_t index = 0;
  uint32_t count = 1;

  bool Owns(uint64_t row_index) const { return row_index % count == index; }
  std::string ToString() const;  // "i/N"
  friend bool operator==(const ShardSpec&, const ShardSpec&) = default;
};

// Parses "i/N" with decimal i and N, N >= 1 and 0 <= i < N (spaces not allowed).
// InvalidArgument saying which part is wrong ("shard '3/3': index must be < count 3").
Result<ShardSpec> ParseShard(std::string_view text);

}  // namespace tp::streamer
