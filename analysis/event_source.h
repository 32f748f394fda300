#pragma once
// The analysis's only input: a replayable stream of events plus the names their ids stand for.
// A live recording and a saved run (events.csv) both provide one, so the same passes serve both.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tracer/event.h"

namespace trainmem {

class EventSource {
 public:
  virtual ~EventSource() = default;
  // Calls `visit` for every event in sequence order. Each call is a fresh pass over the same events.
  virtual void replay(const std::function<void(const Event&)>& visit) = 0;
  // The name behind a module/op id of an event already replayed (id 0: empty).
  virtual const std::string& name(uint32_t id) const = 0;
};

// Events held in memory, as a live recording returns them.
class MemoryEventSource final : public EventSource {
 public:
  MemoryEventSource(const std::vector<Event>& events, const std::vector<std::string>& names)
      : events_(events), names_(names) {}
  void replay(const std::function<void(const Event&)>& visit) override {
    for (const Event& e : events_) visit(e);
  }
  const std::string& name(uint32_t id) const override { return names_.at(id); }

 private:
  const std::vector<Event>& events_;
  const std::vector<std::string>& names_;
};

}  // namespace trainmem
