#include "tracer/recorder.h"

#include <stdexcept>

namespace trainmem {

Recorder::Recorder() : strings_(std::make_unique<StringTable>()) {}

void Recorder::start(int64_t cpu_limit_bytes) {
  log_.reset();  // returns its chunks to the pool before the new log takes some
  log_ = std::make_unique<EventLog>();
  strings_ = std::make_unique<StringTable>();
  {
    std::lock_guard<std::mutex> lock(side_mutex_);
    module_inputs_.clear();
    failure_.reset();
  }
  cpu_limit_bytes_ = cpu_limit_bytes;
  phase_.store(static_cast<uint8_t>(Phase::kOther));
  step_.store(0);
  published_context_.store(0);
  thread_context() = {};
  const uint64_t generation = generation_.fetch_add(1) + 1;
  stamp_.store(generation % ((uint64_t{1} << kStampBits) - 1) + 1, std::memory_order_release);
}

Recording Recorder::stop() {
  stamp_.store(0, std::memory_order_release);
  Recording out;
  out.events = log_->collect();
  out.names = strings_->names();
  out.start_steady_ns = log_->start_steady_ns();
  std::lock_guard<std::mutex> lock(side_mutex_);
  for (auto& [module, shape] : module_inputs_) out.module_input_shapes[out.names.at(module)] = shape;
  return out;
}

void Recorder::on_allocator_failure(int64_t bytes, int8_t device) { remember_failure(bytes, 0, device); }

void Recorder::remember_failure(int64_t bytes, int64_t limit, int8_t device) {
  Event context = make_event(EventKind::kAlloc, bytes, nullptr, device);
  std::vector<std::string> names = strings_->names();
  AllocationFailure failure{bytes, live_bytes(device), limit, device, phase(), step_.load(std::memory_order_relaxed),
                            names.at(context.module), names.at(context.op)};
  std::lock_guard<std::mutex> lock(side_mutex_);
  failure_ = std::move(failure);
  // The stream ends here: what unwinding frees afterwards would hide what filled the memory.
  stamp_.store(0, std::memory_order_release);
}

void Recorder::set_phase(Phase phase) {
  // The loop changes phases outside any module: nothing of the last phase's context carries over.
  thread_context() = {};
  publish_context(thread_context());
  phase_.store(static_cast<uint8_t>(phase), std::memory_order_relaxed);
  if (!recording()) return;
  Event e = make_event(EventKind::kPhase, 0, nullptr, kCpuDevice);
  e.phase = phase;
  log_->append_timed(e);
  for (PhaseListener listener : phase_listeners_) {
    if (listener != nullptr) listener(phase);
  }
}

void Recorder::add_phase_listener(PhaseListener listener) {
  for (PhaseListener& slot : phase_listeners_) {
    if (slot == listener) return;
  }
  for (PhaseListener& slot : phase_listeners_) {
    if (slot == nullptr) {
      slot = listener;
      return;
    }
  }
  throw std::logic_error("trainmem: too many phase listeners");
}

void Recorder::remove_phase_listener(PhaseListener listener) {
  for (PhaseListener& slot : phase_listeners_) {
    if (slot == listener) slot = nullptr;
  }
}

void Recorder::set_step(uint32_t step) {
  step_.store(step, std::memory_order_relaxed);
  if (recording()) log_->mark_step(step);
}

void Recorder::tag(const void* address, Tag tag, int8_t device) {
  if (!recording() || address == nullptr) return;
  Event e = make_event(EventKind::kTag, 0, address, device);
  e.tag = tag;
  log_->append_timed(e);
}

std::optional<AllocationFailure> Recorder::last_failure() const {
  std::lock_guard<std::mutex> lock(side_mutex_);
  return failure_;
}

void Recorder::publish_context(const ThreadContext& context) {
  published_context_.store(std::bit_cast<uint64_t>(context), std::memory_order_relaxed);
}

void Recorder::note_module_input(uint32_t module, std::span<const int64_t> shape) {
  std::lock_guard<std::mutex> lock(side_mutex_);
  module_inputs_[module].assign(shape.begin(), shape.end());  // reuses the vector of the module's last call
}

}  // namespace trainmem
