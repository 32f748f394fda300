#pragma once
// Tensor-level CUDA tracing: the caching allocator's trace tracker feeds every block handed out and freed, and
// every segment reserved and released, into the recorder (caching_allocator_trace.h). The allocator's own
// statistics are what the trace is reconciled against.
#include <cstdint>

namespace trainmem {

struct CudaAllocatorStats {
  // Bytes requested by tensors: what the trace's alloc/free events count, so its peak must equal this one.
  int64_t requested_peak = 0;
  int64_t requested_current = 0;
  // The same blocks at the sizes the allocator handed out (rounded up to 512 B or more):
  // torch.cuda.max_memory_allocated.
  int64_t allocated_peak = 0;
  int64_t allocated_current = 0;
  // Segments reserved from the driver (torch.cuda.max_memory_reserved): the trace's segment events.
  int64_t reserved_peak = 0;
  int64_t reserved_current = 0;
  int64_t alloc_retries = 0;  // cache flushes forced by a failed cudaMalloc
  int64_t out_of_memory = 0;
  // cudaMemGetInfo: the whole device, every process and the CUDA context included.
  int64_t device_free_bytes = 0;
  int64_t device_total_bytes = 0;
  bool operator==(const CudaAllocatorStats&) const = default;
};

// Initializes CUDA and attaches the trace tracker to the caching allocator, once per process (trackers cannot
// be detached; this one records only while a recording is active). Needs a CUDA device (see cuda_devices.h).
void install_cuda_allocator_tracing();
// Caps what the allocator may reserve on `device` at `bytes` (0: the whole device), as a real smaller device
// would: past it, allocations fail with the allocator's out-of-memory error. Initializes CUDA.
void set_cuda_memory_limit(int device, int64_t bytes);
// Returns cached segments to the driver and resets the peaks, so that a recording starts from nothing reserved.
void reset_cuda_allocator(int device);
CudaAllocatorStats cuda_allocator_stats(int device);

}  // namespace trainmem
