#pragma once
// An event source that shows on a progress line how far each replay of another source has come
// ("analyzing: pass 1, 45%"), for commands that stream long traces.
#include <cstdint>
#include <string>
#include <utility>

#include "analysis/event_source.h"
#include "reports/terminal_style.h"

namespace trainmem {

class ReplayProgress final : public EventSource {
 public:
  // `event_count` is the number of events one replay visits; 0 when unknown (a count is shown instead).
  ReplayProgress(EventSource& source, uint64_t event_count, std::string label, ProgressLine& line)
      : source_(source), event_count_(event_count), label_(std::move(label)), line_(line) {}

  void replay(const std::function<void(const Event&)>& visit) override;
  const std::string& name(uint32_t id) const override { return source_.name(id); }

 private:
  void show(uint64_t seen);

  EventSource& source_;
  uint64_t event_count_;
  std::string label_;
  ProgressLine& line_;
  int pass_ = 0;
};

}  // namespace trainmem
