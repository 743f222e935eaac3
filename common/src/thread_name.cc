#include "tp/thread_name.h"

#include <algorithm>
#include <array>
#include <cstring>

#include <pthread.h>

namespace tp {

void NameThisThread(std::string_view name) {
  std::array<char, 16> buffer{};
  const std::size_t n = std::min(name.size(), buffer.size() - 1);
  std::memcpy(buffer.data(), name.data(), n);
  // Fails only for a name that is too long, which the copy above rules out.
  pthread_setname_np(pthread_self(), buffer.data());
}

}  // namespace tp
