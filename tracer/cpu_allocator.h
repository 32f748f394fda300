#pragma once
// Interception of LibTorch's CPU allocator: every CPU tensor allocation and free (ops, autograd,
// optimizers, oneDNN scratch) becomes an event in the Recorder.

#include <cstdint>

#include "tracer/event.h"

namespace trainmem {

// Puts the tracing allocator in front of LibTorch's default CPU allocator (counted: each install needs its
// uninstall; throws if another allocator is installed). Blocks it serves carry their size in their last 8
// usable bytes, so a free needs no lookup; the DataPtr keeps context == data, which oneDNN's raw_allocate path
// requires.
void install_cpu_allocator_tracing();
// Gives LibTorch back its own allocator for new allocations once every install is undone; blocks already
// served stay valid.
void uninstall_cpu_allocator_tracing();

// A simulated device's memory for work that is not traced (`train --budget` beyond each configuration's
// traced first step): CPU blocks allocated while an account is charged count against its limit until they are
// freed, wherever they are freed. An allocation that would take the account past its limit fails as a
// c10::OutOfMemoryError, as a full device would. A process has at most 63 accounts.
class MemoryAccount {
 public:
  explicit MemoryAccount(int64_t limit_bytes);
  MemoryAccount(const MemoryAccount&) = delete;
  MemoryAccount& operator=(const MemoryAccount&) = delete;

  int64_t limit_bytes() const;
  int64_t live_bytes() const;
  // The allocation it refused, if any: what was asked, what was live, and where the training loop was.
  struct Refusal {
    int64_t requested_bytes = 0;
    int64_t live_bytes = 0;
    Phase phase = Phase::kOther;
    uint32_t step = 0;
  };
  bool refused() const;
  Refusal refusal() const;

 private:
  friend class ChargeScope;
  int slot_;
};

// While it lives, CPU allocations on every thread are charged to `account` (nullptr: to none), and the
// allocator interception is installed. Scopes do not nest.
class ChargeScope {
 public:
  explicit ChargeScope(MemoryAccount* account);
  ~ChargeScope();
  ChargeScope(const ChargeScope&) = delete;
  ChargeScope& operator=(const ChargeScope&) = delete;

 private:
  bool charging_;
};

}  // namespace trainmem
