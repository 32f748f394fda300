#pragma once
// Lossless, append-only store of events. Each thread appends into chunks of its own, so the common path
// takes no lock: one atomic increment for the global sequence number and a copy into the thread's chunk.
// A lock is taken only the first time a thread appends to a log.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "tracer/clock.h"
#include "tracer/event.h"

namespace trainmem {

class EventLog {
 public:
  EventLog();
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Stamps `event` with the next sequence number and the current time, and stores it.
  void append(Event event);
  // Number of events appended so far.
  uint64_t size() const { return next_seq_.load(std::memory_order_acquire); }
  // Every event appended so far, in sequence order, times in ns since construction.
  // Writers must be quiescent (joined, or the recorder stopped).
  std::vector<Event> collect();

 private:
  struct Chunk;
  struct ThreadBuffer;
  ThreadBuffer& local_buffer();

  const uint64_t id_;
  TickClock clock_;
  std::atomic<uint64_t> next_seq_{0};
  std::mutex buffers_mutex_;
  std::vector<std::unique_ptr<ThreadBuffer>> buffers_;
};

}  // namespace trainmem
