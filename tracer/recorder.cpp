#include "tracer/recorder.h"

namespace trainmem {

Recorder& Recorder::instance() {
  static Recorder* recorder = new Recorder();  // never destroyed: deleters may run during static teardown
  return *recorder;
}

Recorder::Recorder() : log_(std::make_unique<EventLog>()), strings_(std::make_unique<StringTable>()) {}

ThreadContext& Recorder::thread_context() {
  thread_local ThreadContext context;
  return context;
}

void Recorder::start(int64_t cpu_limit_bytes) {
  log_ = std::make_unique<EventLog>();
  strings_ = std::make_unique<StringTable>();
  {
    std::lock_guard<std::mutex> lock(side_mutex_);
    module_inputs_.clear();
    failure_.reset();
  }
  for (auto& live : live_bytes_) live.store(0);
  cpu_limit_bytes_ = cpu_limit_bytes;
  phase_.store(static_cast<uint8_t>(Phase::kOther));
  step_.store(0);
  published_context_.store(0);
  thread_context() = {};
  generation_.fetch_add(1);
  recording_.store(true, std::memory_order_release);
}

Recording Recorder::stop() {
  recording_.store(false, std::memory_order_release);
  Recording out;
  out.events = log_->collect();
  out.names = strings_->names();
  std::lock_guard<std::mutex> lock(side_mutex_);
  for (auto& [module, shape] : module_inputs_) out.module_input_shapes[out.names.at(module)] = shape;
  return out;
}

Event Recorder::make_event(EventKind kind, int64_t bytes, const void* address, int8_t device) const {
  ThreadContext context = thread_context();
  if (context.module == 0 && context.op == 0) {
    uint64_t published = published_context_.load(std::memory_order_relaxed);
    context = {static_cast<uint32_t>(published >> 32), static_cast<uint32_t>(published)};
  }
  Event e{};
  e.bytes = bytes;
  e.address = reinterpret_cast<uint64_t>(address);
  e.module = context.module;
  e.op = context.op;
  e.step = step_.load(std::memory_order_relaxed);
  e.phase = phase();
  e.kind = kind;
  e.device = device;
  return e;
}

bool Recorder::admit(int64_t bytes, int8_t device) {
  if (device != kCpuDevice || cpu_limit_bytes_ <= 0) return true;
  if (live_bytes(device) + bytes <= cpu_limit_bytes_) return true;
  remember_failure(bytes, cpu_limit_bytes_, device);
  return false;
}

void Recorder::on_alloc(const void* address, int64_t bytes, int8_t device) {
  live_bytes_[device_slot(device)].fetch_add(bytes, std::memory_order_relaxed);
  log_->append(make_event(EventKind::kAlloc, bytes, address, device));
}

void Recorder::on_free(const void* address, int64_t bytes, int8_t device) {
  live_bytes_[device_slot(device)].fetch_sub(bytes, std::memory_order_relaxed);
  log_->append(make_event(EventKind::kFree, -bytes, address, device));
}

void Recorder::on_allocator_failure(int64_t bytes, int8_t device) { remember_failure(bytes, 0, device); }

void Recorder::remember_failure(int64_t bytes, int64_t limit, int8_t device) {
  Event context = make_event(EventKind::kAlloc, bytes, nullptr, device);
  std::vector<std::string> names = strings_->names();
  AllocationFailure failure{bytes, live_bytes(device), limit, device, context.phase, context.step,
                            names.at(context.module), names.at(context.op)};
  std::lock_guard<std::mutex> lock(side_mutex_);
  failure_ = std::move(failure);
}

void Recorder::set_phase(Phase phase) {
  // The loop changes phases outside any module: nothing of the last phase's context carries over.
  thread_context() = {};
  publish_context(thread_context());
  phase_.store(static_cast<uint8_t>(phase), std::memory_order_relaxed);
  if (recording()) log_->append(make_event(EventKind::kPhase, 0, nullptr, kCpuDevice));
}

void Recorder::tag(const void* address, Tag tag, int8_t device) {
  if (!recording() || address == nullptr) return;
  Event e = make_event(EventKind::kTag, 0, address, device);
  e.tag = tag;
  log_->append(e);
}

std::optional<AllocationFailure> Recorder::last_failure() const {
  std::lock_guard<std::mutex> lock(side_mutex_);
  return failure_;
}

int64_t Recorder::live_bytes(int8_t device) const {
  return live_bytes_[device_slot(device)].load(std::memory_order_relaxed);
}

void Recorder::publish_context(const ThreadContext& context) {
  published_context_.store(static_cast<uint64_t>(context.module) << 32 | context.op, std::memory_order_relaxed);
}

void Recorder::note_module_input(uint32_t module, std::vector<int64_t> shape) {
  std::lock_guard<std::mutex> lock(side_mutex_);
  module_inputs_[module] = std::move(shape);
}

}  // namespace trainmem
