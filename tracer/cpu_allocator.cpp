#include "tracer/cpu_allocator.h"

#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <malloc.h>

#include <array>
#include <cstdint>

#include "tracer/recorder.h"

namespace trainmem {
namespace {

// Where a block's size lives: in the last 8 usable bytes of the block, which the tensor never uses. A prefix
// (or any change to the sizes requested) moves blocks between glibc's size classes and changes how the heap
// grows and is trimmed: a 64-byte prefix made resnet18's training steps ~4% slower. Reading the size back
// from the block needs no lookup in a shared table, and the heap sees the requests an untraced run makes,
// except for sizes whose block has under 8 spare bytes (n + 8 is requested then).
// The tag also carries the recording the block was recorded in, so that the stream stays balanced: a block
// allocated before the current recording started is freed without an event.
struct Tag {
  static constexpr int kGenerationBits = 16;
  static constexpr uint64_t kBytesMask = (uint64_t{1} << (64 - kGenerationBits)) - 1;
  uint64_t word;

  // 0 for "not recorded"; recordings map to 1..65535 (a block outliving 65535 recordings could be mistaken).
  static uint64_t generation_field(uint64_t generation) {
    return generation == 0 ? 0 : generation % ((uint64_t{1} << kGenerationBits) - 1) + 1;
  }
  static Tag of(size_t bytes, uint64_t generation) {
    return {generation_field(generation) << (64 - kGenerationBits) | bytes};
  }
  size_t bytes() const { return word & kBytesMask; }
  bool recorded_in(uint64_t generation) const {
    return generation != 0 && word >> (64 - kGenerationBits) == generation_field(generation);
  }
};

// The inner allocator is LibTorch's default, which serves blocks from malloc (posix_memalign), so
// malloc_usable_size tells how far a block extends.
Tag* tag_of(void* data, size_t usable_bytes) {
  return reinterpret_cast<Tag*>(static_cast<char*>(data) + usable_bytes - sizeof(Tag));
}

c10::Allocator* g_inner = nullptr;
c10::DeleterFnPtr g_inner_deleter = nullptr;

uint64_t current_generation() { return Recorder::instance().active_generation(); }

void delete_traced(void* data) {
  if (data == nullptr) return;
  const uint64_t generation = current_generation();
  if (generation != 0) {
    const Tag tag = *tag_of(data, malloc_usable_size(data));
    // Recorded before the memory is released, so the free precedes any reuse of the address.
    if (tag.recorded_in(generation)) Recorder::instance().on_free(data, static_cast<int64_t>(tag.bytes()), kCpuDevice);
  }
  g_inner_deleter(data);
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
    // Sizes recur: one that lacked room for the tag is asked with room from then on, not allocated twice.
    thread_local std::array<size_t, 256> lacked_room{};
    size_t& remembered = lacked_room[(n >> 2) % lacked_room.size()];
    void* data = allocate_inner(remembered == n ? n + sizeof(Tag) : n, generation);
    size_t usable = malloc_usable_size(data);
    if (usable < n + sizeof(Tag)) {
      g_inner_deleter(data);
      data = allocate_inner(n + sizeof(Tag), generation);
      usable = malloc_usable_size(data);
      remembered = n;
    }
    *tag_of(data, usable) = Tag::of(n, generation);
    if (generation != 0) recorder.on_alloc(data, static_cast<int64_t>(n), kCpuDevice);
    return {data, data, &delete_traced, cpu};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &delete_traced; }
  void copy_data(void* dest, const void* src, size_t count) const override { default_copy_data(dest, src, count); }

 private:
  static void* allocate_inner(size_t n, uint64_t generation) {
    try {
      return g_inner->raw_allocate(n);
    } catch (const c10::Error&) {
      if (generation != 0) Recorder::instance().on_allocator_failure(static_cast<int64_t>(n), kCpuDevice);
      throw_out_of_memory(n, "the system allocator");
    }
  }
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
    TORCH_CHECK(g_inner == c10::GetDefaultCPUAllocator(),
                "trainmem: another CPU allocator is installed; the tracer wraps only LibTorch's default one");
    g_inner_deleter = g_inner->raw_deleter();
    TORCH_CHECK(g_inner_deleter != nullptr, "trainmem: LibTorch's CPU allocator has no raw deleter");
  }
  c10::SetCPUAllocator(&g_tracing_allocator, ++g_priority);
}

void uninstall_cpu_allocator_tracing() {
  if (g_inner != nullptr && c10::GetCPUAllocator() == &g_tracing_allocator) c10::SetCPUAllocator(g_inner, ++g_priority);
}

}  // namespace trainmem
