#include "tracer/clock.h"

namespace trainmem {

void TickClock::calibrate() {
  constexpr int64_t kMinSpanNs = 2'000'000;
  int64_t now = steady_ns();
  while (now - start_ns_ < kMinSpanNs) now = steady_ns();  // only very short sessions wait here
  uint64_t ticks = clock_ticks();
  ns_per_tick_ = static_cast<double>(now - start_ns_) / static_cast<double>(ticks - start_ticks_);
}

}  // namespace trainmem
