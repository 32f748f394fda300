#pragma once
// Lossless, append-only store of events. Each thread appends into chunks of its own, so the common path
// takes no lock: one atomic increment for the global sequence number and a copy into the thread's chunk.
// A lock is taken only the first time a thread appends to a log.
//
// Time: reading the TSC costs ~14 ns on the machines we measured, as much as the rest of an event, so
// allocation events are not stamped one by one. A sampler thread pairs the sequence counter with the
// clock every millisecond (as heaptrack's timer does), phase and tag events are stamped exactly, and
// collect() interpolates every other event's time from its sequence number: exact order, times to ~1 ms.
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tracer/clock.h"
#include "tracer/event.h"

namespace trainmem {
namespace detail {

// One-entry cache of "this thread's buffer in log N"; a miss finds it under the log's lock.
struct EventLogCache {
  uint64_t log_id = 0;
  void* buffer = nullptr;
};
// initial-exec: a plain %fs-relative load on the hot path, never a call to __tls_get_addr.
inline thread_local EventLogCache t_event_log_cache __attribute__((tls_model("initial-exec")));

}  // namespace detail

class EventLog {
 public:
  EventLog();
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Stores `event` under the next sequence number, which it returns; its time is interpolated at collect().
  uint64_t append(Event event) {
    ThreadBuffer& buffer = local_buffer();
    if (buffer.cursor == buffer.end) start_chunk(buffer);
    if (!is_device_level(event.kind)) {
      // Only this thread writes its sums: a plain load and store, no locked instruction.
      auto& sum = buffer.bytes_by_device[device_slot(event.device)];
      sum.store(sum.load(std::memory_order_relaxed) + event.bytes, std::memory_order_relaxed);
    }
    event.seq = next_seq_.fetch_add(1, std::memory_order_acq_rel);
    // Fetch a line a few records ahead for writing: a record's first store to a line that misses would
    // otherwise hold up the next event's locked increment (a full barrier on x86) until the line arrives.
    __builtin_prefetch(buffer.cursor + kPrefetchAhead, /*rw=*/1);
    *buffer.cursor++ = event;
    return event.seq;
  }
  // Stores `event` with an exact timestamp (for rare events: phase changes, tags).
  void append_timed(Event event);
  // steady_ns() at the log's time 0: lets clocks of other tracers (CUPTI) be mapped onto event times.
  int64_t start_steady_ns() const { return clock_.start_steady_ns(); }
  // Number of events appended so far.
  uint64_t size() const { return next_seq_.load(std::memory_order_acquire); }
  // Sum of the `bytes` of the tensor-level events of `device` so far (live bytes): exact once appends have returned.
  int64_t bytes_sum(int8_t device) const;
  // Every event appended so far, in sequence order, times in ns since construction. Stops the sampler.
  // Writers must be quiescent (joined, or the recorder stopped).
  std::vector<Event> collect();

 private:
  struct Chunk;
  static constexpr size_t kDeviceSlots = 17;  // the CPU and 16 CUDA devices
  static constexpr size_t kMaxThreads = 1024;
  static constexpr size_t kPrefetchAhead = 8;  // records: 384 bytes
  static size_t device_slot(int8_t device) { return static_cast<size_t>(device + 1) % kDeviceSlots; }
  // A thread's chunks, appends going to [cursor, end) of the last one, and its sums of bytes.
  struct ThreadBuffer {
    std::vector<std::unique_ptr<Chunk>> chunks;
    Event* cursor = nullptr;
    Event* end = nullptr;
    std::atomic<int64_t> bytes_by_device[kDeviceSlots] = {};
  };
  struct ClockSample {
    uint64_t seq;
    uint64_t ticks;
  };
  ThreadBuffer& local_buffer() {
    auto& cache = detail::t_event_log_cache;
    return cache.log_id == id_ ? *static_cast<ThreadBuffer*>(cache.buffer) : find_local_buffer();
  }
  ThreadBuffer& find_local_buffer();
  static void start_chunk(ThreadBuffer& buffer);
  void add_sample(ClockSample sample);
  void sample_clock_until_stopped();
  void stop_sampler();

  const uint64_t id_;
  TickClock clock_;
  std::atomic<uint64_t> next_seq_{0};
  std::mutex buffers_mutex_;
  std::vector<std::unique_ptr<ThreadBuffer>> buffers_;
  // The same buffers, readable without the lock (by bytes_sum) while threads register.
  std::array<std::atomic<ThreadBuffer*>, kMaxThreads> buffer_list_{};
  std::atomic<size_t> buffer_count_{0};
  std::mutex samples_mutex_;
  std::vector<ClockSample> samples_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;  // guarded by samples_mutex_
  std::thread sampler_;
};

}  // namespace trainmem
