// Allocator settings for the long-running services.
#pragma once

namespace tp {

// Makes glibc keep freed memory mapped instead of returning it to the kernel at once.
// By default glibc trims the heap as soon as 128 KiB at its top are free and serves
// blocks above a (moving) 128 KiB threshold with mmap, so a service that allocates and
// frees request-sized buffers (a 300 KiB lease answer, a batch of records) pays a page
// fault for every 4 KiB page of them, on every request: measured, page faults were a
// fifth of the collector's CPU time. The cost is up to 128 MiB per arena of memory that
// stays mapped after a peak. Call once at start-up, before threads start.
void KeepFreedMemoryMapped();

}  // namespace tp
