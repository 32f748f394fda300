#pragma once
// A cheap timestamp for the hot path: the invariant TSC on x86-64 (a few ns), converted to nanoseconds
// only when events are collected; elsewhere the steady clock.
#include <chrono>
#include <cstdint>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace trainmem {

inline uint64_t clock_ticks() {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

inline int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Maps ticks to nanoseconds since `start`, measured over the span between start and the moment of calibration.
class TickClock {
 public:
  TickClock() : start_ticks_(clock_ticks()), start_ns_(steady_ns()) {}
  // Fixes the ticks-per-nanosecond ratio from the time elapsed since construction (at least 2 ms of it).
  void calibrate();
  // The steady clock (steady_ns) when this clock's nanosecond 0 was.
  int64_t start_steady_ns() const { return start_ns_; }
  int64_t to_ns(uint64_t ticks) const {
    return static_cast<int64_t>(static_cast<double>(static_cast<int64_t>(ticks - start_ticks_)) * ns_per_tick_);
  }

 private:
  uint64_t start_ticks_;
  int64_t start_ns_;
  double ns_per_tick_ = 1.0;
};

}  // namespace trainmem
