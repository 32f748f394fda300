#pragma once
// What the CUDA caching allocator reports through its trace tracker, reduced to what the recorder needs, and its
// conversion into events. The LibTorch adapter (cuda_allocator.cpp) fills the record from c10's TraceEntry; tests
// fill it directly, so everything but the adapter runs without a GPU.
#include <cstdint>

namespace trainmem {

struct AllocatorTraceRecord {
  enum class Action : uint8_t {
    kAlloc,          // a tensor's block was handed out (bytes: the size requested)
    kFreeRequested,  // the tensor let go of it; it may still be in use by another stream
    kFreeCompleted,  // the block is really free (bytes: the size requested)
    kSegmentAlloc,   // a segment was reserved from the driver (cudaMalloc)
    kSegmentFree,    // a segment went back to the driver (cudaFree)
    kSegmentMap,     // expandable segments: pages mapped into a segment
    kSegmentUnmap,   // expandable segments: pages unmapped
    kOutOfMemory,    // the allocator is about to throw OutOfMemoryError (bytes: the size requested)
    kOther,          // snapshots and annotations: nothing to record
  };
  Action action = Action::kOther;
  int8_t device = 0;
  uint64_t address = 0;
  uint64_t bytes = 0;
};

// Turns the record into an event of the active recording (none when not recording). A block counts as freed
// when its free completes, which is when the allocator's own statistics let go of it.
void record_allocator_trace(const AllocatorTraceRecord& record);

}  // namespace trainmem
