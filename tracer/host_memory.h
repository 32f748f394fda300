#pragma once
#include <cstdint>

namespace trainmem {

// Memory the kernel reports as available to new allocations (MemAvailable), in bytes; 0 if unknown.
// A CPU run is capped there, so that a batch too large fails as a diagnosable out-of-memory instead of
// a process killed by the kernel.
int64_t available_host_memory_bytes();

}  // namespace trainmem
