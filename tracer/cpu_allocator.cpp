#include "tracer/cpu_allocator.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <c10/util/Exception.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>

#include "tracer/malloc_block.h"
#include "tracer/recorder.h"

namespace trainmem {
namespace {

// Where a block's size lives: in the last 8 usable bytes of the block, which the tensor never uses. A prefix
// (or any change to the sizes requested) moves blocks between glibc's size classes and changes how the heap
// grows and is trimmed: a 64-byte prefix made resnet18's training steps ~4% slower. Reading the size back
// from the block needs no lookup in a shared table, and the heap sees the requests an untraced run makes,
// except for sizes whose block has under 8 spare bytes (n + 8 is requested then).
// The tag also carries the recording the block was recorded in (its stamp), so that the stream stays
// balanced: a block allocated before the current recording started is freed without an event; and the
// memory account it was charged to (bits 42..47; 0: none).
struct SizeTag {
  static constexpr int kStampBits = Recorder::kStampBits;
  static constexpr int kAccountBits = 6;
  static constexpr int kBytesBits = 64 - kStampBits - kAccountBits;  // blocks up to 4 TiB
  static constexpr uint64_t kBytesMask = (uint64_t{1} << kBytesBits) - 1;
  static constexpr uint64_t kAccountMask = (uint64_t{1} << kAccountBits) - 1;
  uint64_t word;

  // `stamp`: the recording's (0 for "not recorded"; a block outliving 65535 recordings could be mistaken).
  static SizeTag of(size_t bytes, uint64_t stamp, int account) {
    return {stamp << (64 - kStampBits) | static_cast<uint64_t>(account) << kBytesBits | bytes};
  }
  size_t bytes() const { return word & kBytesMask; }
  int account() const { return static_cast<int>(word >> kBytesBits & kAccountMask); }
  bool recorded_in(uint64_t stamp) const { return stamp != 0 && word >> (64 - kStampBits) == stamp; }
};

SizeTag* tag_of(void* data, size_t usable_bytes) {
  return reinterpret_cast<SizeTag*>(static_cast<char*>(data) + usable_bytes - sizeof(SizeTag));
}

// What LibTorch's default CPU allocator does (DefaultCPUAllocator in c10/core/CPUAllocator.cpp): alloc_cpu
// (posix_memalign) and the profiler's memory reporter, on both ways. Called directly rather than through the
// wrapped allocator's virtual allocate, which builds and unpacks a DataPtr per block; install checks that the
// allocator wrapped is that default one.
void* allocate_default(size_t n) {
  void* data = nullptr;
  try {
    data = c10::alloc_cpu(n);
  } catch (const c10::Error&) {
    c10::profiledCPUMemoryReporter().OutOfMemory(n);
    throw;
  }
  c10::profiledCPUMemoryReporter().New(data, n);
  return data;
}

void free_default(void* data) {
  c10::profiledCPUMemoryReporter().Delete(data);
  c10::free_cpu(data);
}

// Set by the first install, before any block is served: the hot path skips Recorder::instance()'s guard.
Recorder* g_recorder = nullptr;

struct AccountSlot {
  std::atomic<int64_t> live{0};
  int64_t limit = 0;
  std::mutex refusal_mutex;
  std::optional<MemoryAccount::Refusal> refusal;
};
// Slot 0 is "no account"; slots are never reused, so a block freed after its account is gone finds its own.
std::array<AccountSlot, SizeTag::kAccountMask + 1> g_accounts;
std::atomic<int> g_next_account{1};
std::atomic<int> g_charged_account{0};
std::atomic<bool> g_accounts_exist{false};

// Charges `n` bytes to the account being charged, if any; false (and the refusal remembered) past its limit.
bool charge(int account, size_t n) {
  AccountSlot& slot = g_accounts[static_cast<size_t>(account)];
  const auto bytes = static_cast<int64_t>(n);
  const int64_t live = slot.live.fetch_add(bytes, std::memory_order_relaxed);
  if (live + bytes <= slot.limit) return true;
  slot.live.fetch_sub(bytes, std::memory_order_relaxed);
  const Recorder& recorder = Recorder::instance();
  std::lock_guard<std::mutex> lock(slot.refusal_mutex);
  slot.refusal = MemoryAccount::Refusal{bytes, live, recorder.phase(), recorder.step()};
  return false;
}

void uncharge(int account, size_t n) {
  if (account == 0) return;
  g_accounts[static_cast<size_t>(account)].live.fetch_sub(static_cast<int64_t>(n), std::memory_order_relaxed);
}

void delete_traced(void* data) {
  if (data == nullptr) return;
  const uint64_t stamp = g_recorder->recording_stamp();
  if (stamp != 0 || g_accounts_exist.load(std::memory_order_relaxed)) {
    const SizeTag tag = *tag_of(data, usable_size(data));
    // Recorded before the memory is released, so the free precedes any reuse of the address.
    if (tag.recorded_in(stamp)) g_recorder->on_free(data, static_cast<int64_t>(tag.bytes()), kCpuDevice);
    uncharge(tag.account(), tag.bytes());
  }
  free_default(data);
}

class TracingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) override {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (n == 0) return {nullptr, nullptr, &delete_traced, cpu};
    Recorder& recorder = *g_recorder;
    const uint64_t stamp = recorder.recording_stamp();
    if (stamp != 0 && !recorder.admit(static_cast<int64_t>(n), kCpuDevice)) {
      throw_out_of_memory(n, "the memory limit");
    }
    const int account = g_charged_account.load(std::memory_order_relaxed);
    if (account != 0 && !charge(account, n)) throw_out_of_memory(n, "the memory budget");
    // Sizes recur: one that lacked room for the tag is asked with room from then on, not allocated twice.
    thread_local std::array<size_t, 256> lacked_room{};
    size_t& remembered = lacked_room[(n >> 2) % lacked_room.size()];
    void* data = allocate_inner(remembered == n ? n + sizeof(SizeTag) : n, n, stamp, account);
    size_t usable = usable_size(data);
    if (usable < n + sizeof(SizeTag)) {
      free_default(data);
      data = allocate_inner(n + sizeof(SizeTag), n, stamp, account);
      usable = usable_size(data);
      remembered = n;
    }
    *tag_of(data, usable) = SizeTag::of(n, stamp, account);
    if (stamp != 0) recorder.on_alloc(data, static_cast<int64_t>(n), kCpuDevice);
    return {data, data, &delete_traced, cpu};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &delete_traced; }
  void copy_data(void* dest, const void* src, size_t count) const override { default_copy_data(dest, src, count); }

 private:
  // `request`: what the inner allocator is asked for; `n`: the tensor's bytes, as charged and recorded.
  static void* allocate_inner(size_t request, size_t n, uint64_t stamp, int account) {
    try {
      return allocate_default(request);
    } catch (const c10::Error&) {
      uncharge(account, n);
      if (stamp != 0) g_recorder->on_allocator_failure(static_cast<int64_t>(n), kCpuDevice);
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

std::mutex g_install_mutex;
int g_installs = 0;

}  // namespace

void install_cpu_allocator_tracing() {
  std::lock_guard<std::mutex> lock(g_install_mutex);
  if (g_installs++ > 0) return;
  if (g_recorder == nullptr) {
    TORCH_CHECK(c10::GetCPUAllocator() == c10::GetDefaultCPUAllocator(),
                "trainmem: another CPU allocator is installed; the tracer wraps only LibTorch's default one");
    detect_glibc_chunk_headers();
    g_recorder = &Recorder::instance();
  }
  c10::SetCPUAllocator(&g_tracing_allocator, ++g_priority);
}

void uninstall_cpu_allocator_tracing() {
  std::lock_guard<std::mutex> lock(g_install_mutex);
  if (g_installs == 0 || --g_installs > 0) return;
  c10::SetCPUAllocator(c10::GetDefaultCPUAllocator(), ++g_priority);
}

MemoryAccount::MemoryAccount(int64_t limit_bytes) : slot_(g_next_account.fetch_add(1)) {
  TORCH_CHECK(slot_ <= static_cast<int>(SizeTag::kAccountMask), "trainmem: more than ", SizeTag::kAccountMask,
              " memory accounts in one process");
  g_accounts[static_cast<size_t>(slot_)].limit = limit_bytes;
  g_accounts_exist.store(true);
}

int64_t MemoryAccount::limit_bytes() const { return g_accounts[static_cast<size_t>(slot_)].limit; }

int64_t MemoryAccount::live_bytes() const {
  return g_accounts[static_cast<size_t>(slot_)].live.load(std::memory_order_relaxed);
}

bool MemoryAccount::refused() const {
  AccountSlot& slot = g_accounts[static_cast<size_t>(slot_)];
  std::lock_guard<std::mutex> lock(slot.refusal_mutex);
  return slot.refusal.has_value();
}

MemoryAccount::Refusal MemoryAccount::refusal() const {
  AccountSlot& slot = g_accounts[static_cast<size_t>(slot_)];
  std::lock_guard<std::mutex> lock(slot.refusal_mutex);
  return slot.refusal.value_or(Refusal{});
}

ChargeScope::ChargeScope(MemoryAccount* account) : charging_(account != nullptr) {
  if (!charging_) return;
  install_cpu_allocator_tracing();
  g_charged_account.store(account->slot_);
}

ChargeScope::~ChargeScope() {
  if (!charging_) return;
  g_charged_account.store(0);
  uninstall_cpu_allocator_tracing();
}

}  // namespace trainmem
