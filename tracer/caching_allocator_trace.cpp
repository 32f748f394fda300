#include "tracer/caching_allocator_trace.h"

#include "tracer/recorder.h"

namespace trainmem {

void record_allocator_trace(const AllocatorTraceRecord& record) {
  Recorder& recorder = Recorder::instance();
  if (!recorder.recording()) return;
  const auto bytes = static_cast<int64_t>(record.bytes);
  const auto* address = reinterpret_cast<const void*>(record.address);
  using Action = AllocatorTraceRecord::Action;
  switch (record.action) {
    case Action::kAlloc:
      recorder.on_alloc(address, bytes, record.device);
      break;
    case Action::kFreeCompleted:
      recorder.on_free(address, bytes, record.device);
      break;
    case Action::kSegmentAlloc:
    case Action::kSegmentMap:
      recorder.on_device_level(EventKind::kSegmentAlloc, record.address, bytes, record.device);
      break;
    case Action::kSegmentFree:
    case Action::kSegmentUnmap:
      recorder.on_device_level(EventKind::kSegmentFree, record.address, -bytes, record.device);
      break;
    case Action::kOutOfMemory:
      recorder.on_allocator_failure(bytes, record.device);
      break;
    case Action::kFreeRequested:
    case Action::kOther:
      break;
  }
}

}  // namespace trainmem
