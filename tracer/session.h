#pragma once
// One tracing session: installs the CPU allocator interception and the op observer, records, and hands
// back the recording.
#include <cstdint>

#include "tracer/recorder.h"

namespace trainmem {

class TraceSession {
 public:
  // `cpu_limit_bytes` > 0 makes CPU allocations past that many live bytes fail as out-of-memory.
  explicit TraceSession(int64_t cpu_limit_bytes = 0);
  ~TraceSession();
  TraceSession(const TraceSession&) = delete;
  TraceSession& operator=(const TraceSession&) = delete;

  // Stops recording and returns what was recorded (once).
  Recording finish();

 private:
  bool finished_ = false;
};

}  // namespace trainmem
