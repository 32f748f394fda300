#include "tracer/cpu_allocator.h"

#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <cstring>
#include <new>

#include "tracer/recorder.h"

namespace trainmem {
namespace {

// Prefix in front of each block: keeps the 64-byte alignment of LibTorch's allocator.
constexpr size_t kPrefixBytes = 64;

struct Prefix {
  size_t bytes;
  uint64_t recording;  // recording generation the block was recorded in (0: not recorded)
};
static_assert(sizeof(Prefix) <= kPrefixBytes);

c10::Allocator* g_inner = nullptr;
c10::DeleterFnPtr g_inner_deleter = nullptr;

// A block carries the generation of the recording it was recorded in, so that the stream stays balanced:
// a block allocated before the current recording started is freed without an event.
uint64_t current_generation() { return Recorder::instance().active_generation(); }

void delete_traced(void* data) {
  if (data == nullptr) return;
  auto* base = static_cast<char*>(data) - kPrefixBytes;
  const Prefix prefix = *reinterpret_cast<Prefix*>(base);
  if (prefix.recording != 0 && prefix.recording == current_generation()) {
    // Recorded before the memory is released, so the free precedes any reuse of the address.
    Recorder::instance().on_free(data, static_cast<int64_t>(prefix.bytes), kCpuDevice);
  }
  g_inner_deleter(base);
}

class TracingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) override {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (n == 0) return {nullptr, nullptr, &delete_traced, cpu};
    Recorder& recorder = Recorder::instance();
    const uint64_t generation = current_generation();
    if (generation != 0 && !recorder.admit(static_cast<int64_t>(n), kCpuDevice)) {
      throw_out_of_memory(n, "the memory limit");
    }
    void* base;
    try {
      base = g_inner->raw_allocate(n + kPrefixBytes);
    } catch (const c10::Error&) {
      if (generation != 0) recorder.on_allocator_failure(static_cast<int64_t>(n), kCpuDevice);
      throw_out_of_memory(n, "the system allocator");
    }
    *static_cast<Prefix*>(base) = {n, generation};
    void* data = static_cast<char*>(base) + kPrefixBytes;
    if (generation != 0) recorder.on_alloc(data, static_cast<int64_t>(n), kCpuDevice);
    return {data, data, &delete_traced, cpu};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &delete_traced; }
  void copy_data(void* dest, const void* src, size_t count) const override { default_copy_data(dest, src, count); }

 private:
  [[noreturn]] static void throw_out_of_memory(size_t n, const char* refused_by) {
    TORCH_CHECK_WITH(OutOfMemoryError, false, "CPU out of memory: ", refused_by, " refused ", n, " bytes");
    __builtin_unreachable();
  }
};

TracingCpuAllocator g_tracing_allocator;
uint8_t g_priority = 0;

}  // namespace

void install_cpu_allocator_tracing() {
  if (c10::GetCPUAllocator() == &g_tracing_allocator) return;
  if (g_inner == nullptr) {
    g_inner = c10::GetCPUAllocator();
    g_inner_deleter = g_inner->raw_deleter();
    TORCH_CHECK(g_inner_deleter != nullptr, "trainmem: LibTorch's CPU allocator has no raw deleter");
  }
  c10::SetCPUAllocator(&g_tracing_allocator, ++g_priority);
}

void uninstall_cpu_allocator_tracing() {
  if (g_inner != nullptr && c10::GetCPUAllocator() == &g_tracing_allocator) c10::SetCPUAllocator(g_inner, ++g_priority);
}

}  // namespace trainmem
