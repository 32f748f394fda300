#pragma once
// The one place that reads LibTorch's TraceEntry: kept apart so that tests can feed real entries through the same
// conversion the tracker uses, without a GPU.
#include <c10/core/CachingDeviceAllocator.h>

#include "tracer/caching_allocator_trace.h"

namespace trainmem {

AllocatorTraceRecord to_allocator_trace_record(const c10::CachingDeviceAllocator::TraceEntry& entry);

}  // namespace trainmem
