#pragma once
// Device-level memory beneath the tensors: the segments the CUDA caching allocator reserved from the driver, and
// every device allocation CUPTI saw the driver make (PyTorch's segments and anyone else's). One streaming pass,
// separate from the tensor-level analysis, whose peak it is read against.
#include <cstdint>

#include "analysis/event_source.h"
#include "tracer/event.h"

namespace trainmem {

struct DeviceLevelBytes {
  uint64_t alloc_events = 0;
  uint64_t free_events = 0;
  int64_t peak_bytes = 0;      // most live at once
  Phase peak_phase = Phase::kOther;
  int64_t at_tensor_peak = 0;  // live when the tensor-level peak was reached
  int64_t at_end = 0;          // live where the stream ends
  uint64_t untraced_frees = 0; // driver only: releases of memory allocated before tracing began (not counted)
  bool operator==(const DeviceLevelBytes&) const = default;
};

struct DeviceMemory {
  DeviceLevelBytes reserved;  // caching-allocator segments (segment_alloc / segment_free)
  DeviceLevelBytes driver;    // CUPTI memory records (driver_alloc / driver_free)
  bool operator==(const DeviceMemory&) const = default;
};

// `tensor_peak_seq`: the event at which the tensor-level analysis found its peak. Throws TraceError when more
// segment bytes are freed than were reserved.
DeviceMemory analyze_device_memory(EventSource& source, int8_t device, uint64_t tensor_peak_seq);

}  // namespace trainmem
