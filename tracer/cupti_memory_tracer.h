#pragma once
// Device-level memory tracing with CUPTI's activity API: every device allocation and release the driver makes
// (PyTorch's segments, cuDNN/cuBLAS workspaces, anyone's), and memory pools. No CUPTI types here, so that callers
// build the same with or without CUPTI; without it (cupti_unavailable.cpp) start() says so.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tracer/driver_memory.h"

namespace trainmem {

struct CuptiCapture {
  std::vector<DriverMemoryRecord> memory;
  std::vector<MemoryPoolRecord> pools;
  uint64_t other_records = 0;    // records of kinds not asked for
  uint64_t dropped_records = 0;  // records CUPTI could not store (its buffers were full)
};

// Whether this build has CUPTI, and its version (CUPTI_API_VERSION of the library; 0 without CUPTI).
bool cupti_compiled();
uint32_t cupti_version();

// Parses one activity buffer as CUPTI hands it over: memory (CUpti_ActivityMemory4) and memory-pool
// (CUpti_ActivityMemoryPool3) records are appended to `out`, others counted.
void parse_activity_buffer(uint8_t* buffer, size_t valid_bytes, CuptiCapture& out);

// Process-wide, as CUPTI allows one subscriber per process.
class CuptiMemoryTracer {
 public:
  // Enables the memory and memory-pool records. Returns "" or, in one line, why CUPTI refused (no driver, no
  // device, another tool holds CUPTI).
  static std::string start();
  // Hands the completed buffers over; called at phase boundaries so buffers stay small.
  static void flush();
  // Flushes everything, disables the records and returns what was captured since start().
  static CuptiCapture stop();
  // CUPTI's clock minus steady_ns(), sampled by start(): maps record timestamps onto event times.
  static int64_t clock_offset_ns();
};

}  // namespace trainmem
