#pragma once
// One tracing session: installs the interceptions (the CPU allocator and the op observer always; for a CUDA
// device also the caching allocator's tracker and CUPTI), records, and hands back the recording.
#include <cstdint>
#include <string>

#include "tracer/recorder.h"

namespace trainmem {

struct TraceOptions {
  int64_t cpu_limit_bytes = 0;  // > 0: CPU allocations past that many live bytes fail as out-of-memory
  int cuda_device = -1;         // >= 0: also trace that CUDA device (needs one: see cuda_devices.h)
};

// What CUPTI contributed to a CUDA recording.
struct CuptiOutcome {
  bool traced = false;
  std::string error;  // why not, when not traced
  uint64_t memory_records = 0;        // device-memory allocations and releases, now driver events
  uint64_t other_memory_records = 0;  // pinned, managed and other memory kinds, left out
  uint64_t pool_records = 0;          // memory pools created or destroyed
  uint64_t dropped_records = 0;       // lost by CUPTI for want of buffer space
};

class TraceSession {
 public:
  explicit TraceSession(const TraceOptions& options = {});
  ~TraceSession();
  TraceSession(const TraceSession&) = delete;
  TraceSession& operator=(const TraceSession&) = delete;

  // Stops recording and returns what was recorded (once), CUPTI's records merged in by time.
  Recording finish();
  // Meaningful for CUDA sessions, after finish().
  const CuptiOutcome& cupti() const { return cupti_; }

 private:
  TraceOptions options_;
  bool finished_ = false;
  CuptiOutcome cupti_;
};

}  // namespace trainmem
