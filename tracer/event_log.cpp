#include "tracer/event_log.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>
#include <stdexcept>

namespace trainmem {
namespace {

constexpr auto kSamplePeriod = std::chrono::milliseconds(10);

}  // namespace

// Chunks are large and recycled through a process-wide pool: first touches of fresh pages cost more
// than recording itself, so later recordings (and rounds of a benchmark) reuse pages already faulted in.
// The sampler thread keeps a few spare chunks faulted in ahead of need, so that a thread starting a chunk
// takes no page faults on the hot path.
struct EventLog::Chunk {
  static constexpr size_t kBytes = 2 << 20;
  static constexpr size_t kCapacity = kBytes / sizeof(Record);
  static constexpr size_t kPoolLimit = 64;  // chunks kept for reuse: 128 MiB
  static constexpr size_t kSpares = 2;      // chunks the sampler keeps ready
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
  // Called by the sampler thread, off the hot path.
  static void keep_spares() {
    while (true) {
      {
        std::lock_guard<std::mutex> lock(pool_mutex());
        if (pool().size() >= kSpares) return;
      }
      void* memory = map_populated();  // outside the lock: appenders may take chunks meanwhile
      std::lock_guard<std::mutex> lock(pool_mutex());
      pool().push_back(memory);
    }
  }
  static void* operator new(size_t) {
    {
      std::lock_guard<std::mutex> lock(pool_mutex());
      if (!pool().empty()) {
        void* memory = pool().back();
        pool().pop_back();
        return memory;
      }
    }
    return map_populated();
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

EventLog::EventLog() : id_(g_next_log_id.fetch_add(1)) {
  samples_.push_back({0, clock_ticks()});
  sampler_ = std::thread([this] { sample_clock_until_stopped(); });
}

EventLog::~EventLog() { stop_sampler(); }

void EventLog::sample_clock_until_stopped() {
  std::unique_lock<std::mutex> lock(samples_mutex_);
  while (!stop_requested_.wait_for(lock, kSamplePeriod, [this] { return stopping_; })) {
    const uint64_t ticks = clock_ticks();
    samples_.push_back({size(), ticks});
    last_sample_ticks_.store(ticks, std::memory_order_relaxed);
    lock.unlock();
    Chunk::keep_spares();
    lock.lock();
  }
}

void EventLog::stop_sampler() {
  {
    std::lock_guard<std::mutex> lock(samples_mutex_);
    stopping_ = true;
  }
  stop_requested_.notify_all();
  if (sampler_.joinable()) sampler_.join();
}

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
    if (buffers_.size() == kMaxThreads) throw std::runtime_error("event log: more than 1024 threads allocate");
    buffers_.push_back(std::make_unique<ThreadBuffer>());
    buffer = buffers_.back().get();
    buffer_list_[buffers_.size() - 1].store(buffer, std::memory_order_release);
    buffer_count_.store(buffers_.size(), std::memory_order_release);
    owned.emplace_back(id_, buffer);
  }
  detail::t_event_log_cache = {id_, buffer};
  return *buffer;
}

int64_t EventLog::bytes_sum(int8_t device) const {
  int64_t sum = 0;
  const size_t count = buffer_count_.load(std::memory_order_acquire);
  for (size_t i = 0; i < count; ++i) {
    sum += buffer_list_[i].load(std::memory_order_acquire)->bytes_by_device[device_slot(device)].load(
        std::memory_order_relaxed);
  }
  return sum;
}

void EventLog::start_chunk(ThreadBuffer& buffer) {
  buffer.chunks.emplace_back(new Chunk);  // default-initialized: no 2 MiB memset
  buffer.cursor = buffer.chunks.back()->records;
  buffer.end = buffer.cursor + Chunk::kCapacity;
}

void EventLog::append_timed(const Event& event) {
  const uint64_t ticks = clock_ticks();
  add_sample({append(event), ticks});
}

void EventLog::mark_step(uint32_t step) {
  std::lock_guard<std::mutex> lock(samples_mutex_);
  step_marks_.push_back({size(), step});
}

Event EventLog::Record::event() const {
  const auto k = static_cast<EventKind>(kind);
  const bool is_phase = k == EventKind::kPhase;
  return {.seq = seq, .time_ns = 0, .bytes = bytes, .address = address, .module = module, .op = op, .step = 0,
          .phase = is_phase ? static_cast<Phase>(detail) : Phase::kOther, .kind = k,
          .device = static_cast<int8_t>(device), .tag = is_phase ? Tag::kNone : static_cast<Tag>(detail)};
}

std::vector<Event> EventLog::collect() {
  stop_sampler();
  const uint64_t count = size();
  add_sample({count, clock_ticks()});
  clock_.calibrate();
  std::lock_guard<std::mutex> lock(buffers_mutex_);
  std::vector<Event> out(count);
  std::vector<bool> seen(count, false);
  for (const auto& buffer : buffers_) {
    for (size_t c = 0; c < buffer->chunks.size(); ++c) {
      const size_t used = c + 1 == buffer->chunks.size()
                              ? static_cast<size_t>(buffer->cursor - buffer->chunks.back()->records)
                              : Chunk::kCapacity;
      for (size_t i = 0; i < used; ++i) {
        const Record& r = buffer->chunks[c]->records[i];
        if (r.seq >= count || seen[r.seq]) throw std::logic_error("event log: collected while threads append");
        seen[r.seq] = true;
        out[r.seq] = r.event();
      }
    }
  }
  if (std::find(seen.begin(), seen.end(), false) != seen.end()) {
    throw std::logic_error("event log: collected while threads append");
  }
  // In sequence order: the phase of the last phase event, the step of the last step mark, and the time
  // interpolated between the clock samples around the event's sequence number.
  std::lock_guard<std::mutex> samples_lock(samples_mutex_);
  std::stable_sort(samples_.begin(), samples_.end(),
                   [](const ClockSample& a, const ClockSample& b) { return a.seq < b.seq; });
  std::stable_sort(step_marks_.begin(), step_marks_.end(),
                   [](const StepMark& a, const StepMark& b) { return a.seq < b.seq; });
  Phase phase = Phase::kOther;
  uint32_t step = 0;
  size_t mark = 0;
  size_t segment = 0;
  for (Event& e : out) {
    while (mark < step_marks_.size() && step_marks_[mark].seq <= e.seq) step = step_marks_[mark++].step;
    if (e.kind == EventKind::kPhase) phase = e.phase;
    e.phase = phase;
    e.step = step;
    while (segment + 2 < samples_.size() && samples_[segment + 1].seq <= e.seq) ++segment;
    const ClockSample& from = samples_[segment];
    const ClockSample& to = samples_[std::min(segment + 1, samples_.size() - 1)];
    double ticks = static_cast<double>(from.ticks);
    if (to.seq > from.seq) {
      ticks += static_cast<double>(e.seq - from.seq) / static_cast<double>(to.seq - from.seq) *
               static_cast<double>(static_cast<int64_t>(to.ticks - from.ticks));
    }
    e.time_ns = clock_.to_ns(static_cast<uint64_t>(ticks));
  }
  return out;
}

}  // namespace trainmem
