#include "tracer/event_log.h"

#include <stdexcept>

namespace trainmem {

struct EventLog::Chunk {
  static constexpr size_t kCapacity = 4096;
  Event events[kCapacity];
};

struct EventLog::ThreadBuffer {
  std::vector<std::unique_ptr<Chunk>> chunks;
  size_t used_in_last = Chunk::kCapacity;  // forces a chunk on first append
};

namespace {

std::atomic<uint64_t> g_next_log_id{1};

// One-entry cache of "this thread's buffer in log N"; a miss looks the buffer up under the log's lock.
struct LocalCache {
  uint64_t log_id = 0;
  void* buffer = nullptr;
};
thread_local LocalCache t_cache;

}  // namespace

EventLog::EventLog() : id_(g_next_log_id.fetch_add(1)) {}
EventLog::~EventLog() = default;

EventLog::ThreadBuffer& EventLog::local_buffer() {
  if (t_cache.log_id == id_) return *static_cast<ThreadBuffer*>(t_cache.buffer);
  std::lock_guard<std::mutex> lock(buffers_mutex_);
  // A thread whose cache was taken by another log finds its buffer again by identity.
  thread_local std::vector<std::pair<uint64_t, ThreadBuffer*>> owned;
  ThreadBuffer* buffer = nullptr;
  for (auto& [log_id, b] : owned) {
    if (log_id == id_) buffer = b;
  }
  if (buffer == nullptr) {
    buffers_.push_back(std::make_unique<ThreadBuffer>());
    buffer = buffers_.back().get();
    owned.emplace_back(id_, buffer);
  }
  t_cache = {id_, buffer};
  return *buffer;
}

void EventLog::append(Event event) {
  ThreadBuffer& buffer = local_buffer();
  if (buffer.used_in_last == Chunk::kCapacity) {
    buffer.chunks.push_back(std::make_unique<Chunk>());
    buffer.used_in_last = 0;
  }
  event.time_ns = static_cast<int64_t>(clock_ticks());  // converted in collect()
  event.seq = next_seq_.fetch_add(1, std::memory_order_acq_rel);
  buffer.chunks.back()->events[buffer.used_in_last++] = event;
}

std::vector<Event> EventLog::collect() {
  clock_.calibrate();
  std::lock_guard<std::mutex> lock(buffers_mutex_);
  const uint64_t count = size();
  std::vector<Event> out(count);
  std::vector<bool> seen(count, false);
  for (const auto& buffer : buffers_) {
    for (size_t c = 0; c < buffer->chunks.size(); ++c) {
      const size_t used = c + 1 == buffer->chunks.size() ? buffer->used_in_last : Chunk::kCapacity;
      for (size_t i = 0; i < used; ++i) {
        Event e = buffer->chunks[c]->events[i];
        if (e.seq >= count || seen[e.seq]) throw std::logic_error("event log: collected while threads append");
        e.time_ns = clock_.to_ns(static_cast<uint64_t>(e.time_ns));
        seen[e.seq] = true;
        out[e.seq] = e;
      }
    }
  }
  for (uint64_t i = 0; i < count; ++i) {
    if (!seen[i]) throw std::logic_error("event log: collected while threads append");
  }
  return out;
}

}  // namespace trainmem
