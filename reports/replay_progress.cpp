#include "reports/replay_progress.h"

#include <fmt/format.h>

namespace trainmem {

void ReplayProgress::replay(const std::function<void(const Event&)>& visit) {
  ++pass_;
  if (!line_.enabled()) {
    source_.replay(visit);  // nothing to show: no cost per event
    return;
  }
  constexpr uint64_t kEventsPerUpdate = uint64_t{1} << 16;
  uint64_t seen = 0;
  show(seen);
  source_.replay([&](const Event& e) {
    if (++seen % kEventsPerUpdate == 0) show(seen);
    visit(e);
  });
}

void ReplayProgress::show(uint64_t seen) {
  if (event_count_ > 0) {
    line_.show(fmt::format("{}: pass {}, {}%", label_, pass_, 100 * seen / event_count_));
  } else {
    line_.show(fmt::format("{}: pass {}, {} events", label_, pass_, seen));
  }
}

}  // namespace trainmem
