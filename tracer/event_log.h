#pragma once
// Lossless, append-only store of events. Each thread appends into chunks of its own, so the common path
// takes no lock; a lock is taken only the first time a thread appends to a log.
//
// Order: one locked increment of a shared counter per event would cost ~9 ns here, a third of the tracer's
// budget per alloc+free pair. The thread that made the log (the training loop's, which appends almost every
// event) numbers its events with a counter only it writes: a plain load and store. Any other thread takes a
// number from a second, shared counter (locked increment) and reads the owner's counter: its event goes
// after the owner's events before that count and before the owner's next. Events in a causal chain keep
// their order: the owner's number is published before it frees a block, so a thread that gets the block
// next reads a later count; an event a thread records before handing a block on reads a count no later
// than the owner's when it receives it; two other threads order by count, then by their shared counter.
// collect() merges the two streams into one gap-free sequence.
// Live bytes (for memory limits, checked at every allocation) are kept the same way: sums the owner alone
// writes, and shared sums the other threads add to; reading them is two loads.
//
// Time: reading the TSC costs 10–14 ns on the machines we measured, as much as the rest of an event, so
// allocation events are not stamped one by one. Clock samples pair the owner's count with the clock:
// sample_clock() where the work changes (the op observer calls it at every operator start, and at every
// autograd node in backward; at most one per ~0.3 ms); phase and tag events are stamped exactly, and
// collect() interpolates every other event's time from its place in the sequence: times to well
// under 1 ms while operators run. No timer thread: its wakeups preempt a training thread on a busy machine
// (a 1 ms timer, as heaptrack's, cost ~10% of a training run's CPU time on a loaded 2-core VM; a 10 ms one
// ~0.4% of a step), and allocations happen inside operators, where samples are taken anyway.
//
// Phase and step: the hot path does not store them either. collect() gives each event the phase of the
// last phase event before it and the step of the last mark_step() before it, as they were when it was
// appended on the thread that changes them.
#include <array>
#include <atomic>
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

  // Stores `event` and returns its position: the owner's count of events before it (see Order above). Its
  // sequence number, time, phase and step are filled in by collect(); only a phase event's `phase` is kept.
  uint64_t append(const Event& event) {
    ThreadBuffer& buffer = local_buffer();
    if (buffer.cursor == buffer.end) start_chunk(buffer);
    const bool counted = !is_device_level(event.kind);
    uint64_t position = 0;
    if (buffer.owner) {
      // Only the owner writes its sums and count: a plain load and store each, no locked instruction.
      if (counted) {
        auto& sum = owner_bytes_[device_slot(event.device)];
        sum.store(sum.load(std::memory_order_relaxed) + event.bytes, std::memory_order_relaxed);
      }
      position = owner_count_.load(std::memory_order_relaxed);
      owner_count_.store(position + 1, std::memory_order_release);
    } else {
      if (counted) other_bytes_[device_slot(event.device)].fetch_add(event.bytes, std::memory_order_relaxed);
      position = other_position(buffer);
    }
    // Fetch a line a few records ahead for writing, so that a record's first store to a line rarely misses.
    __builtin_prefetch(buffer.cursor + kPrefetchAhead, /*rw=*/1);
    *buffer.cursor++ = Record::of(event, position);
    return position;
  }
  // Stores `event` with an exact timestamp (for rare events: phase changes, tags).
  void append_timed(const Event& event);
  // Takes a clock sample now, unless one was taken in the last ~0.3 ms: for callers on busy threads.
  void sample_clock() {
    const uint64_t ticks = clock_ticks();
    if (ticks - last_sample_ticks_.load(std::memory_order_relaxed) >= kMinSampleTicks) add_sample({position(), ticks});
  }
  // Events appended from now on belong to training step `step` (until the next mark).
  void mark_step(uint32_t step);
  // steady_ns() at the log's time 0: lets clocks of other tracers (CUPTI) be mapped onto event times.
  int64_t start_steady_ns() const { return clock_.start_steady_ns(); }
  // The owner's count of events so far: where an event appended now would be placed.
  uint64_t position() const { return owner_count_.load(std::memory_order_acquire); }
  // Sum of the `bytes` of the tensor-level events of `device` so far (live bytes): exact once appends have returned.
  // Two loads: a recording with a memory limit asks at every allocation.
  int64_t bytes_sum(int8_t device) const {
    return owner_bytes_[device_slot(device)].load(std::memory_order_relaxed) +
           other_bytes_[device_slot(device)].load(std::memory_order_relaxed);
  }
  // Every event appended so far, in sequence order, times in ns since construction, phases and steps filled
  // in.
  // Writers must be quiescent (joined, or the recorder stopped).
  std::vector<Event> collect();

 private:
  // What the hot path stores of an event: 32 bytes instead of Event's 48, so fewer lines to fill per event.
  // `detail` is a phase event's phase or a tag event's tag; time, phase and step come at collect(). The head
  // is packed by hand, not with bitfields: a bitfield store reads the record's line first (a cache miss on a
  // fresh line), and the record is written with whole-word stores only.
  struct Record {
    // Bits 0..47 the position (2.8e14 events, years of appends at tens of millions per second: never masked
    // on the way in), 48..51 the kind, 52..55 the detail, 56..63 the int8_t device's bits.
    uint64_t head;
    uint64_t address;
    int64_t bytes;
    uint32_t module;
    uint32_t op;

    static Record of(const Event& e, uint64_t position) {
      const auto detail = static_cast<uint64_t>(e.kind == EventKind::kPhase ? static_cast<uint8_t>(e.phase)
                                                                              : static_cast<uint8_t>(e.tag));
      const uint64_t head = position | static_cast<uint64_t>(e.kind) << 48 | (detail & 15) << 52 |
                            static_cast<uint64_t>(static_cast<uint8_t>(e.device)) << 56;
      return {head, e.address, e.bytes, e.module, e.op};
    }
    static constexpr uint64_t kPositionMask = (uint64_t{1} << 48) - 1;
    uint64_t position() const { return head & kPositionMask; }
    Event event() const;  // seq left 0
  };
  static_assert(sizeof(Record) == 32);
  struct Chunk;
  static constexpr size_t kDeviceSlots = 17;  // the CPU and 16 CUDA devices
  static constexpr size_t kPrefetchAhead = 12;  // records: 384 bytes
  static constexpr uint64_t kMinSampleTicks = 1 << 20;  // ~0.3 ms at 3 GHz
  static size_t device_slot(int8_t device) { return static_cast<size_t>(device + 1) % kDeviceSlots; }
  // A thread's chunks, appends going to [cursor, end) of the last one.
  struct ThreadBuffer {
    bool owner = false;  // the thread that made the log
    std::vector<std::unique_ptr<Chunk>> chunks;
    Record* cursor = nullptr;
    Record* end = nullptr;
    std::vector<uint64_t> orders;  // another thread's: each record's number from other_count_
  };
  struct ClockSample {
    uint64_t position;
    uint64_t ticks;
  };
  struct StepMark {
    uint64_t position;  // where the step's first event goes
    uint32_t step;
  };
  ThreadBuffer& local_buffer() {
    auto& cache = detail::t_event_log_cache;
    return cache.log_id == id_ ? *static_cast<ThreadBuffer*>(cache.buffer) : find_local_buffer();
  }
  ThreadBuffer& find_local_buffer();
  static void start_chunk(ThreadBuffer& buffer);
  uint64_t other_position(ThreadBuffer& buffer);
  void add_sample(ClockSample sample);

  const uint64_t id_;
  const std::thread::id owner_thread_;
  TickClock clock_;
  std::atomic<uint64_t> owner_count_{0};  // written by the owner only
  std::atomic<uint64_t> other_count_{0};
  std::mutex buffers_mutex_;
  std::vector<std::unique_ptr<ThreadBuffer>> buffers_;
  // Sums of the bytes of tensor-level events by device: the owner's (written by the owner only) and the others'.
  std::array<std::atomic<int64_t>, kDeviceSlots> owner_bytes_{};
  std::array<std::atomic<int64_t>, kDeviceSlots> other_bytes_{};
  std::mutex samples_mutex_;
  std::vector<ClockSample> samples_;
  std::atomic<uint64_t> last_sample_ticks_{0};
  std::vector<StepMark> step_marks_;  // guarded by samples_mutex_
};

}  // namespace trainmem
