// Sizing of the buffer Beast reads HTTP messages through.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/optional/optional.hpp>

namespace tp::http::internal {

// Beast asks the socket for no more than the buffer has room for (at least 512 bytes),
// and a flat_buffer whose bytes the parser has moved into the body never grows: with
// the default first size a 500 KiB lease answer took 200+ reads, each a recvmsg, a
// timer re-arm and an epoll_wait. Bodies are read in steps of up to this instead.
inline constexpr std::size_t kBodyReadStep = 64 * 1024;

// Makes room for reading a body of `content_length` bytes (unknown: chunked) in steps
// of up to kBodyReadStep. The capacity stays for the connection's later messages.
inline void ReserveForBody(boost::beast::flat_buffer& buffer,
                           const boost::optional<std::uint64_t>& content_length) {
  const std::size_t step = static_cast<std::size_t>(
      std::min<std::uint64_t>(content_length.value_or(kBodyReadStep), kBodyReadStep));
  buffer.reserve(buffer.size() + step);
}

}  // namespace tp::http::internal
