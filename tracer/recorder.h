#pragma once
// The process-wide sink that every interceptor writes to. It knows the training context (phase, step,
// module, op) and turns allocations and frees into events; it interprets nothing.
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "tracer/event.h"
#include "tracer/event_log.h"
#include "tracer/string_table.h"

namespace trainmem {

// What was running when an allocation could not be served (a budget overrun or a real out-of-memory).
struct AllocationFailure {
  int64_t requested_bytes = 0;
  int64_t live_bytes = 0;
  int64_t limit_bytes = 0;  // 0 when the allocator itself failed
  int8_t device = kCpuDevice;
  Phase phase = Phase::kOther;
  uint32_t step = 0;
  std::string module;
  std::string op;
};

// Everything one recording produced.
struct Recording {
  std::vector<Event> events;
  std::vector<std::string> names;  // string table: module/op ids -> names
  // Input shape of each module's first tensor argument, by module name (from profiler scopes).
  std::unordered_map<std::string, std::vector<int64_t>> module_input_shapes;
  int64_t start_steady_ns = 0;  // steady_ns() at event time 0
};

// Module and op running on this thread, as string-table ids. Read on the hot path as one 8-byte word.
struct alignas(8) ThreadContext {
  uint32_t module = 0;
  uint32_t op = 0;
};

class Recorder {
 public:
  static Recorder& instance() {
    static Recorder* recorder = new Recorder();  // never destroyed: deleters may run during static teardown
    return *recorder;
  }

  // Begins a fresh recording. `cpu_limit_bytes` > 0 makes CPU allocations beyond that many live bytes fail.
  void start(int64_t cpu_limit_bytes = 0);
  Recording stop();
  bool recording() const { return stamp_.load(std::memory_order_relaxed) != 0; }
  // Changes at every start(); 0 while not recording. Lets observers tell recordings apart.
  uint64_t active_generation() const { return recording() ? generation_.load(std::memory_order_relaxed) : 0; }
  // The active generation folded into 16 bits (1..65535, cycling); 0 while not recording. What interceptors
  // store with a block to tell this recording's blocks apart, read with a single load.
  static constexpr int kStampBits = 16;
  uint64_t recording_stamp() const { return stamp_.load(std::memory_order_relaxed); }

  // --- hot path, called by the allocator interceptors ---
  // False when the allocation would exceed the limit: the failure is remembered and recording stops.
  bool admit(int64_t bytes, int8_t device) {
    if (device != kCpuDevice || cpu_limit_bytes_ <= 0 || live_bytes(device) + bytes <= cpu_limit_bytes_) return true;
    remember_failure(bytes, cpu_limit_bytes_, device);
    return false;
  }
  void on_alloc(const void* address, int64_t bytes, int8_t device) {
    log_->append(make_event(EventKind::kAlloc, bytes, address, device));
  }
  void on_free(const void* address, int64_t bytes, int8_t device) {
    log_->append(make_event(EventKind::kFree, -bytes, address, device));
  }
  // Device-level memory (segments, driver allocations): `signed_bytes` < 0 for the kinds that free.
  void on_device_level(EventKind kind, uint64_t address, int64_t signed_bytes, int8_t device) {
    Event e = make_event(kind, signed_bytes, nullptr, device);
    e.address = address;
    log_->append(e);
  }
  // The interceptor's underlying allocator failed: remembered, and recording stops.
  void on_allocator_failure(int64_t bytes, int8_t device);

  // --- training loop ---
  void set_phase(Phase phase);
  // Listeners are called (on the loop's thread) after every phase change while recording, with the new phase:
  // device tracers flush there, the op observer stops observing operators for backward. Up to kMaxPhaseListeners.
  using PhaseListener = void (*)(Phase);
  void add_phase_listener(PhaseListener listener);
  void remove_phase_listener(PhaseListener listener);
  Phase phase() const { return static_cast<Phase>(phase_.load(std::memory_order_relaxed)); }
  void set_step(uint32_t step);
  uint32_t step() const { return step_.load(std::memory_order_relaxed); }
  void tag(const void* address, Tag tag, int8_t device = kCpuDevice);
  std::optional<AllocationFailure> last_failure() const;
  int64_t live_bytes(int8_t device) const { return log_ ? log_->bytes_sum(device) : 0; }

  // --- op and module observers ---
  uint32_t intern(std::string_view name) { return strings_->intern(name); }
  static ThreadContext& thread_context() { return t_context; }
  // Ops on threads with no context of their own (intra-op workers) inherit the driving thread's.
  void publish_context(const ThreadContext& context);
  void note_module_input(uint32_t module, std::span<const int64_t> shape);
  // A clock sample for event times (see EventLog): operators start often enough to keep times precise.
  void sample_clock() {
    if (recording()) log_->sample_clock();
  }

 private:
  Recorder();
  Event make_event(EventKind kind, int64_t bytes, const void* address, int8_t device) const {
    uint64_t word = std::bit_cast<uint64_t>(t_context);
    if (word == 0) word = published_context_.load(std::memory_order_relaxed);
    const auto context = std::bit_cast<ThreadContext>(word);
    Event e{};  // seq, time, phase and step: the log fills them in (see EventLog)
    e.bytes = bytes;
    e.address = reinterpret_cast<uint64_t>(address);
    e.module = context.module;
    e.op = context.op;
    e.kind = kind;
    e.device = device;
    return e;
  }
  void remember_failure(int64_t bytes, int64_t limit, int8_t device);

  static inline thread_local ThreadContext t_context __attribute__((tls_model("initial-exec")));
  std::atomic<uint64_t> stamp_{0};  // recording_stamp(): nonzero while recording
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint8_t> phase_{0};
  std::atomic<uint32_t> step_{0};
  std::atomic<uint64_t> published_context_{0};  // a ThreadContext's bits
  int64_t cpu_limit_bytes_ = 0;
  static constexpr size_t kMaxPhaseListeners = 4;
  std::array<PhaseListener, kMaxPhaseListeners> phase_listeners_{};  // set and read on the loop's thread
  std::unique_ptr<EventLog> log_;  // made by start()
  std::unique_ptr<StringTable> strings_;
  mutable std::mutex side_mutex_;  // guards what follows: touched off the hot path only
  std::unordered_map<uint32_t, std::vector<int64_t>> module_inputs_;
  std::optional<AllocationFailure> failure_;
};

// Sets the training phase for a scope, restoring the previous one on exit.
class PhaseScope {
 public:
  explicit PhaseScope(Phase phase) : previous_(Recorder::instance().phase()) { Recorder::instance().set_phase(phase); }
  ~PhaseScope() { Recorder::instance().set_phase(previous_); }
  PhaseScope(const PhaseScope&) = delete;
  PhaseScope& operator=(const PhaseScope&) = delete;

 private:
  Phase previous_;
};

}  // namespace trainmem
