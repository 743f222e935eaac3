// Names the calling thread, so that top -H, ps -L, perf and /proc/<pid>/task/*/comm
// tell a process's threads apart (the benchmarks read the wal writer's scheduling
// figures by its name).
#pragma once

#include <string_view>

namespace tp {

// Linux keeps at most 15 bytes of a thread's name; longer names are cut there.
void NameThisThread(std::string_view name);

}  // namespace tp
