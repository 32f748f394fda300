#include "tracer/cupti_memory_tracer.h"

#include <cupti.h>

#include <cstdlib>
#include <mutex>

#include "tracer/clock.h"

namespace trainmem {
namespace {

constexpr size_t kBufferBytes = 8 << 20;
constexpr size_t kBufferAlignment = 8;  // CUPTI's ACTIVITY_RECORD_ALIGNMENT

std::mutex g_mutex;  // guards g_capture: CUPTI completes buffers on its own thread
CuptiCapture g_capture;
int64_t g_clock_offset_ns = 0;

std::string result_text(CUptiResult result) {
  const char* text = nullptr;
  if (cuptiGetResultString(result, &text) != CUPTI_SUCCESS || text == nullptr) return std::to_string(result);
  return text;
}

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(kBufferAlignment, kBufferBytes));
  *size = *buffer == nullptr ? 0 : kBufferBytes;
  *max_records = 0;  // as many as fit
}

void CUPTIAPI buffer_completed(CUcontext context, uint32_t stream_id, uint8_t* buffer, size_t size, size_t valid) {
  size_t dropped = 0;
  if (cuptiActivityGetNumDroppedRecords(context, stream_id, &dropped) != CUPTI_SUCCESS) dropped = 0;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    parse_activity_buffer(buffer, valid, g_capture);
    g_capture.dropped_records += dropped;
  }
  std::free(buffer);
}

}  // namespace

bool cupti_compiled() { return true; }

uint32_t cupti_version() {
  uint32_t version = 0;
  return cuptiGetVersion(&version) == CUPTI_SUCCESS ? version : 0;
}

void parse_activity_buffer(uint8_t* buffer, size_t valid_bytes, CuptiCapture& out) {
  CUpti_Activity* record = nullptr;
  while (cuptiActivityGetNextRecord(buffer, valid_bytes, &record) == CUPTI_SUCCESS) {
    if (record->kind == CUPTI_ACTIVITY_KIND_MEMORY2) {
      const auto* memory = reinterpret_cast<const CUpti_ActivityMemory4*>(record);
      if (memory->memoryOperationType != CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_ALLOCATION &&
          memory->memoryOperationType != CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_RELEASE) {
        ++out.other_records;
        continue;
      }
      out.memory.push_back({
          .allocation = memory->memoryOperationType == CUPTI_ACTIVITY_MEMORY_OPERATION_TYPE_ALLOCATION,
          .device_memory = memory->memoryKind == CUPTI_ACTIVITY_MEMORY_KIND_DEVICE,
          .device = static_cast<int8_t>(memory->deviceId),
          .address = memory->address,
          .bytes = memory->bytes,
          .timestamp_ns = static_cast<int64_t>(memory->timestamp),
      });
    } else if (record->kind == CUPTI_ACTIVITY_KIND_MEMORY_POOL) {
      const auto* pool = reinterpret_cast<const CUpti_ActivityMemoryPool3*>(record);
      if (pool->memoryPoolOperationType != CUPTI_ACTIVITY_MEMORY_POOL_OPERATION_TYPE_CREATED &&
          pool->memoryPoolOperationType != CUPTI_ACTIVITY_MEMORY_POOL_OPERATION_TYPE_DESTROYED) {
        ++out.other_records;  // trims change no pool's existence
        continue;
      }
      out.pools.push_back({
          .created = pool->memoryPoolOperationType == CUPTI_ACTIVITY_MEMORY_POOL_OPERATION_TYPE_CREATED,
          .device = static_cast<int8_t>(pool->deviceId),
          .address = pool->address,
          .bytes = pool->size,
          .timestamp_ns = static_cast<int64_t>(pool->timestamp),
      });
    } else {
      ++out.other_records;
    }
  }
}

std::string CuptiMemoryTracer::start() {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_capture = {};
  }
  CUptiResult result = cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed);
  if (result != CUPTI_SUCCESS) return "CUPTI refused its buffer callbacks: " + result_text(result);
  for (CUpti_ActivityKind kind : {CUPTI_ACTIVITY_KIND_MEMORY2, CUPTI_ACTIVITY_KIND_MEMORY_POOL}) {
    result = cuptiActivityEnable(kind);
    if (result != CUPTI_SUCCESS) {
      cuptiActivityDisable(CUPTI_ACTIVITY_KIND_MEMORY2);
      return "CUPTI cannot trace device memory (" + result_text(result) +
             "): no CUDA driver or device, or another profiler holds CUPTI";
    }
  }
  uint64_t cupti_now = 0;
  cuptiGetTimestamp(&cupti_now);
  g_clock_offset_ns = static_cast<int64_t>(cupti_now) - steady_ns();
  return "";
}

void CuptiMemoryTracer::flush() { cuptiActivityFlushAll(0); }

CuptiCapture CuptiMemoryTracer::stop() {
  cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  cuptiActivityDisable(CUPTI_ACTIVITY_KIND_MEMORY2);
  cuptiActivityDisable(CUPTI_ACTIVITY_KIND_MEMORY_POOL);
  std::lock_guard<std::mutex> lock(g_mutex);
  return std::move(g_capture);
}

int64_t CuptiMemoryTracer::clock_offset_ns() { return g_clock_offset_ns; }

}  // namespace trainmem
