#include "tp/allocator.h"

#include <malloc.h>

namespace tp {

void KeepFreedMemoryMapped() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);   // glibc's own upper bound for the threshold
  mallopt(M_TRIM_THRESHOLD, 128 << 20);  // free top of heap kept before trimming
  mallopt(M_TOP_PAD, 16 << 20);          // heap grows in steps of at least this
}

}  // namespace tp
