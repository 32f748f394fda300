#include "tracer/cuda_allocator.h"

#include <ATen/Context.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <mutex>

#include "tracer/cuda_trace_entry.h"

namespace trainmem {

namespace CachingAllocator = c10::cuda::CUDACachingAllocator;
using c10::CachingDeviceAllocator::TraceEntry;

AllocatorTraceRecord to_allocator_trace_record(const TraceEntry& entry) {
  using Action = AllocatorTraceRecord::Action;
  Action action = Action::kOther;
  switch (entry.action_) {
    case TraceEntry::ALLOC: action = Action::kAlloc; break;
    case TraceEntry::FREE_REQUESTED: action = Action::kFreeRequested; break;
    case TraceEntry::FREE_COMPLETED: action = Action::kFreeCompleted; break;
    case TraceEntry::SEGMENT_ALLOC: action = Action::kSegmentAlloc; break;
    case TraceEntry::SEGMENT_FREE: action = Action::kSegmentFree; break;
    case TraceEntry::SEGMENT_MAP: action = Action::kSegmentMap; break;
    case TraceEntry::SEGMENT_UNMAP: action = Action::kSegmentUnmap; break;
    case TraceEntry::OOM: action = Action::kOutOfMemory; break;
    default: break;  // snapshots, annotations
  }
  AllocatorTraceRecord record;
  record.action = action;
  record.device = static_cast<int8_t>(entry.device_);
  // For OOM, addr_ is the device's free memory, not an address.
  record.address = action == Action::kOutOfMemory ? 0 : entry.addr_;
  record.bytes = entry.size_;
  return record;
}

void install_cuda_allocator_tracing() {
  static std::once_flag once;
  std::call_once(once, [] {
    // The allocator makes its per-device state at CUDA's lazy initialization; trackers attach to that state.
    at::globalContext().lazyInitDevice(at::kCUDA);
    CachingAllocator::attachAllocatorTraceTracker(
        [](const TraceEntry& entry) { record_allocator_trace(to_allocator_trace_record(entry)); });
  });
}

void set_cuda_memory_limit(int device, int64_t bytes) {
  at::globalContext().lazyInitDevice(at::kCUDA);
  cudaDeviceProp properties{};
  double fraction = 1.0;
  if (bytes > 0 && cudaGetDeviceProperties(&properties, device) == cudaSuccess && properties.totalGlobalMem > 0) {
    fraction = std::min(1.0, static_cast<double>(bytes) / static_cast<double>(properties.totalGlobalMem));
  }
  CachingAllocator::setMemoryFraction(fraction, static_cast<c10::DeviceIndex>(device));
}

void reset_cuda_allocator(int device) {
  CachingAllocator::emptyCache();
  CachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(device));
  CachingAllocator::resetAccumulatedStats(static_cast<c10::DeviceIndex>(device));
}

CudaAllocatorStats cuda_allocator_stats(int device) {
  const auto stats = CachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device));
  constexpr auto all = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
  CudaAllocatorStats out;
  out.requested_peak = stats.requested_bytes[all].peak;
  out.requested_current = stats.requested_bytes[all].current;
  out.allocated_peak = stats.allocated_bytes[all].peak;
  out.allocated_current = stats.allocated_bytes[all].current;
  out.reserved_peak = stats.reserved_bytes[all].peak;
  out.reserved_current = stats.reserved_bytes[all].current;
  out.alloc_retries = stats.num_alloc_retries;
  out.out_of_memory = stats.num_ooms;
  size_t free_bytes = 0;
  size_t total_bytes = 0;
  int previous = 0;
  if (cudaGetDevice(&previous) == cudaSuccess && cudaSetDevice(device) == cudaSuccess &&
      cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
    out.device_free_bytes = static_cast<int64_t>(free_bytes);
    out.device_total_bytes = static_cast<int64_t>(total_bytes);
  }
  cudaSetDevice(previous);
  return out;
}

}  // namespace trainmem
