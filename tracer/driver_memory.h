#pragma once
// Device memory as the driver saw it (CUPTI memory activity records), and how those records join a recording.
// CUPTI delivers records late, in buffers, stamped with its own clock: they are placed into the event stream by
// time, and take the phase and step that were current then.
#include <cstdint>
#include <vector>

#include "tracer/recorder.h"

namespace trainmem {

struct DriverMemoryRecord {
  bool allocation = true;  // false: a release
  bool device_memory = true;  // false: pinned host, managed or other memory kinds, kept out of the stream
  int8_t device = 0;
  uint64_t address = 0;
  uint64_t bytes = 0;
  int64_t timestamp_ns = 0;  // CUPTI's clock
};

// A memory pool created or destroyed (cudaMallocAsync pools); counted, not put into the stream.
struct MemoryPoolRecord {
  bool created = true;
  int8_t device = 0;
  uint64_t address = 0;
  uint64_t bytes = 0;
  int64_t timestamp_ns = 0;
};

// Device-memory records become driver_alloc/driver_free events of `recording`, at time
// `timestamp_ns - cupti_ns_at_steady_zero - recording.start_steady_ns`, i.e. `cupti_ns_at_steady_zero` is CUPTI's
// clock minus steady_ns() (sampled once). Sequence numbers are renumbered gap-free in time order; events of
// equal time keep the recording's first.
void merge_driver_records(Recording& recording, const std::vector<DriverMemoryRecord>& records,
                          int64_t cupti_ns_at_steady_zero);

}  // namespace trainmem
