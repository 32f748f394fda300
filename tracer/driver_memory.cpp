#include "tracer/driver_memory.h"

#include <algorithm>
#include <iterator>

namespace trainmem {
namespace {

// The phase and step current at time `t`, from the recording's phase events (stamped exactly).
class PhaseTimeline {
 public:
  explicit PhaseTimeline(const std::vector<Event>& events) {
    for (const Event& e : events) {
      if (e.kind == EventKind::kPhase) changes_.push_back(e);
    }
  }
  void stamp(Event& e) const {
    auto after = std::upper_bound(changes_.begin(), changes_.end(), e.time_ns,
                                  [](int64_t t, const Event& change) { return t < change.time_ns; });
    if (after == changes_.begin()) return;
    e.phase = std::prev(after)->phase;
    e.step = std::prev(after)->step;
  }

 private:
  std::vector<Event> changes_;
};

}  // namespace

void merge_driver_records(Recording& recording, const std::vector<DriverMemoryRecord>& records,
                          int64_t cupti_ns_at_steady_zero) {
  const PhaseTimeline timeline(recording.events);
  std::vector<Event> driver;
  for (const DriverMemoryRecord& r : records) {
    if (!r.device_memory) continue;
    Event e{};
    e.time_ns = r.timestamp_ns - cupti_ns_at_steady_zero - recording.start_steady_ns;
    e.kind = r.allocation ? EventKind::kDriverAlloc : EventKind::kDriverFree;
    e.bytes = r.allocation ? static_cast<int64_t>(r.bytes) : -static_cast<int64_t>(r.bytes);
    e.address = r.address;
    e.device = r.device;
    timeline.stamp(e);
    driver.push_back(e);
  }
  std::stable_sort(driver.begin(), driver.end(), [](const Event& a, const Event& b) { return a.time_ns < b.time_ns; });
  std::vector<Event> merged;
  merged.reserve(recording.events.size() + driver.size());
  std::merge(recording.events.begin(), recording.events.end(), driver.begin(), driver.end(), std::back_inserter(merged),
             [](const Event& a, const Event& b) { return a.time_ns < b.time_ns; });
  for (size_t i = 0; i < merged.size(); ++i) merged[i].seq = i;
  recording.events = std::move(merged);
}

}  // namespace trainmem
