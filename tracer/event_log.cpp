#include "tracer/event_log.h"

#include <sys/mman.h>

#include <algorithm>
#include <condition_variable>
#include <new>
#include <stdexcept>

namespace trainmem {

// Chunks are large and recycled through a process-wide pool: first touches of fresh pages cost more
// than recording itself (zeroing 2 MiB takes ~0.3 ms here, ~5 ns per event), so later recordings (and rounds
// of a benchmark) reuse pages already faulted in, and a helper thread maps spare chunks ahead of need, their
// pages faulted in at once. It is woken when a chunk is taken from the pool, once per 65,536 events of a
// thread, not by a timer: a thread starting a chunk takes no page faults, and no thread wakes periodically
// (wakeups preempt the training threads of a busy machine).
struct EventLog::Chunk {
  static constexpr size_t kBytes = 2 << 20;
  static constexpr size_t kCapacity = kBytes / sizeof(Record);
  static constexpr size_t kPoolLimit = 64;  // chunks kept for reuse: 128 MiB
  static constexpr size_t kSpares = 2;      // chunks the helper keeps ready
  Record records[kCapacity];

  static std::mutex& pool_mutex() {
    static std::mutex mutex;
    return mutex;
  }
  static std::vector<void*>& pool() {
    static auto* chunks = new std::vector<void*>();  // never destroyed: chunks may be freed at exit
    return *chunks;
  }
  // Fresh memory with every page faulted in at once (one call instead of 512 faults).
  static void* map_populated() {
    void* memory = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (memory == MAP_FAILED) throw std::bad_alloc();
    return memory;
  }
  // The helper: started on first need, then asleep until a chunk leaves the pool. Detached: it lives as long
  // as the process.
  struct SpareMaker {
    std::mutex mutex;
    std::condition_variable wanted;
    bool requested = false;
    SpareMaker() {
      std::thread([this] {
        while (true) {
          {
            std::unique_lock<std::mutex> lock(mutex);
            wanted.wait(lock, [this] { return requested; });
            requested = false;
          }
          while (true) {
            {
              std::lock_guard<std::mutex> lock(pool_mutex());
              if (pool().size() >= kSpares) break;
            }
            void* memory = map_populated();  // outside the lock: appenders may take chunks meanwhile
            std::lock_guard<std::mutex> lock(pool_mutex());
            pool().push_back(memory);
          }
        }
      }).detach();
    }
    void request() {
      {
        std::lock_guard<std::mutex> lock(mutex);
        requested = true;
      }
      wanted.notify_one();
    }
  };
  static void request_spares() {
    static auto* maker = new SpareMaker();  // never destroyed: its thread outlives static teardown
    maker->request();
  }
  static void* operator new(size_t) {
    void* memory = nullptr;
    {
      std::lock_guard<std::mutex> lock(pool_mutex());
      if (!pool().empty()) {
        memory = pool().back();
        pool().pop_back();
      }
    }
    request_spares();
    return memory != nullptr ? memory : map_populated();
  }
  static void operator delete(void* memory) {
    {
      std::lock_guard<std::mutex> lock(pool_mutex());
      if (pool().size() < kPoolLimit) {
        pool().push_back(memory);
        return;
      }
    }
    munmap(memory, kBytes);
  }
};

namespace {

std::atomic<uint64_t> g_next_log_id{1};

}  // namespace

EventLog::EventLog() : id_(g_next_log_id.fetch_add(1)), owner_thread_(std::this_thread::get_id()) {
  samples_.push_back({0, clock_ticks()});
}

EventLog::~EventLog() = default;

void EventLog::add_sample(ClockSample sample) {
  std::lock_guard<std::mutex> lock(samples_mutex_);
  samples_.push_back(sample);
  last_sample_ticks_.store(sample.ticks, std::memory_order_relaxed);
}

EventLog::ThreadBuffer& EventLog::find_local_buffer() {
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
    buffer->owner = std::this_thread::get_id() == owner_thread_;
    if (!buffer->owner) buffer->orders.reserve(4096);
    owned.emplace_back(id_, buffer);
  }
  detail::t_event_log_cache = {id_, buffer};
  return *buffer;
}

void EventLog::start_chunk(ThreadBuffer& buffer) {
  buffer.chunks.emplace_back(new Chunk);  // default-initialized: no 2 MiB memset
  buffer.cursor = buffer.chunks.back()->records;
  buffer.end = buffer.cursor + Chunk::kCapacity;
}

uint64_t EventLog::other_position(ThreadBuffer& buffer) {
  buffer.orders.push_back(other_count_.fetch_add(1, std::memory_order_acq_rel));
  return owner_count_.load(std::memory_order_acquire);
}

void EventLog::append_timed(const Event& event) {
  const uint64_t ticks = clock_ticks();
  add_sample({append(event), ticks});
}

void EventLog::mark_step(uint32_t step) {
  std::lock_guard<std::mutex> lock(samples_mutex_);
  step_marks_.push_back({position(), step});
}

Event EventLog::Record::event() const {
  const auto k = static_cast<EventKind>(head >> 48 & 15);
  const auto detail = static_cast<uint8_t>(head >> 52 & 15);
  const bool is_phase = k == EventKind::kPhase;
  return {.seq = 0, .time_ns = 0, .bytes = bytes, .address = address, .module = module, .op = op, .step = 0,
          .phase = is_phase ? static_cast<Phase>(detail) : Phase::kOther, .kind = k,
          .device = static_cast<int8_t>(head >> 56), .tag = is_phase ? Tag::kNone : static_cast<Tag>(detail)};
}

std::vector<Event> EventLog::collect() {
  const uint64_t owner_count = position();
  const uint64_t other_count = other_count_.load(std::memory_order_acquire);
  add_sample({owner_count, clock_ticks()});
  clock_.calibrate();
  std::lock_guard<std::mutex> lock(buffers_mutex_);
  // The owner's events by their count; the others' by their number, with the owner's count each read.
  std::vector<Event> owner_events(owner_count), other_events(other_count);
  std::vector<uint64_t> other_positions(other_count);
  std::vector<bool> seen(owner_count + other_count, false);
  auto fail = [] { throw std::logic_error("event log: collected while threads append"); };
  for (const auto& buffer : buffers_) {
    size_t index = 0;
    for (size_t c = 0; c < buffer->chunks.size(); ++c) {
      const size_t used = c + 1 == buffer->chunks.size()
                              ? static_cast<size_t>(buffer->cursor - buffer->chunks.back()->records)
                              : Chunk::kCapacity;
      for (size_t i = 0; i < used; ++i, ++index) {
        const Record& r = buffer->chunks[c]->records[i];
        if (buffer->owner) {
          if (r.position() >= owner_count || seen[r.position()]) fail();
          seen[r.position()] = true;
          owner_events[r.position()] = r.event();
        } else {
          const uint64_t order = index < buffer->orders.size() ? buffer->orders[index] : other_count;
          if (order >= other_count || r.position() > owner_count || seen[owner_count + order]) fail();
          seen[owner_count + order] = true;
          other_events[order] = r.event();
          other_positions[order] = r.position();
        }
      }
    }
  }
  if (std::find(seen.begin(), seen.end(), false) != seen.end()) fail();
  // Merged: another thread's event goes before the owner's event at the count it read; among themselves the
  // others go by that count, then by their number.
  std::vector<uint64_t> others(other_count);
  for (uint64_t i = 0; i < other_count; ++i) others[i] = i;
  std::stable_sort(others.begin(), others.end(),
                   [&](uint64_t a, uint64_t b) { return other_positions[a] < other_positions[b]; });
  std::vector<uint64_t> index_of_position(owner_count + 1);  // where the owner's event at each count landed
  std::vector<Event> out;
  if (other_count == 0) {  // the common case: no copy
    out = std::move(owner_events);
    for (uint64_t p = 0; p <= owner_count; ++p) index_of_position[p] = p;
  } else {
    out.reserve(owner_count + other_count);
    size_t next_other = 0;
    for (uint64_t p = 0; p <= owner_count; ++p) {
      while (next_other < others.size() && other_positions[others[next_other]] <= p) {
        out.push_back(other_events[others[next_other++]]);
      }
      index_of_position[p] = out.size();
      if (p < owner_count) out.push_back(owner_events[p]);
    }
  }
  for (size_t i = 0; i < out.size(); ++i) out[i].seq = i;
  // In sequence order: the phase of the last phase event, the step of the last step mark, and the time
  // interpolated between the clock samples around the event's sequence number.
  // Samples and marks were placed by the owner's count: at the owner's event of that count.
  std::lock_guard<std::mutex> samples_lock(samples_mutex_);
  for (ClockSample& sample : samples_) sample.position = index_of_position[sample.position];
  for (StepMark& mark : step_marks_) mark.position = index_of_position[mark.position];
  std::stable_sort(samples_.begin(), samples_.end(),
                   [](const ClockSample& a, const ClockSample& b) { return a.position < b.position; });
  std::stable_sort(step_marks_.begin(), step_marks_.end(),
                   [](const StepMark& a, const StepMark& b) { return a.position < b.position; });
  Phase phase = Phase::kOther;
  uint32_t step = 0;
  size_t mark = 0;
  size_t segment = 0;
  for (Event& e : out) {
    while (mark < step_marks_.size() && step_marks_[mark].position <= e.seq) step = step_marks_[mark++].step;
    if (e.kind == EventKind::kPhase) phase = e.phase;
    e.phase = phase;
    e.step = step;
    while (segment + 2 < samples_.size() && samples_[segment + 1].position <= e.seq) ++segment;
    const ClockSample& from = samples_[segment];
    const ClockSample& to = samples_[std::min(segment + 1, samples_.size() - 1)];
    double ticks = static_cast<double>(from.ticks);
    if (to.position > from.position) {
      ticks += static_cast<double>(e.seq - from.position) / static_cast<double>(to.position - from.position) *
               static_cast<double>(static_cast<int64_t>(to.ticks - from.ticks));
    }
    e.time_ns = clock_.to_ns(static_cast<uint64_t>(ticks));
  }
  return out;
}

}  // namespace trainmem
