#include "analysis/module_slices.h"

#include <algorithm>
#include <string>
#include <vector>

namespace trainmem {

void replay_module_slices(EventSource& source, int8_t device, const std::function<void(const ModuleSliceEdge&)>& visit) {
  std::vector<std::string> open;  // open[i]: the first i+1 components of the current module path
  Phase phase = Phase::kOther;
  uint32_t step = 0;
  int64_t time_ns = 0;
  auto close_to = [&](size_t depth) {
    for (; open.size() > depth; open.pop_back()) {
      visit(ModuleSliceEdge{.begin = false, .module = open.back(), .time_ns = time_ns, .phase = phase, .step = step});
    }
  };

  source.replay([&](const Event& e) {
    const bool memory_event = e.kind == EventKind::kAlloc || e.kind == EventKind::kFree;
    if (e.kind != EventKind::kPhase && !(memory_event && e.device == device)) return;
    time_ns = std::max(time_ns, e.time_ns);
    if (e.kind == EventKind::kPhase) {
      close_to(0);
      phase = e.phase;
      step = e.step;
      return;
    }
    const std::string_view module = source.name(e.module);
    // How many levels of the open path are prefixes of this event's module path.
    size_t depth = 0;
    while (depth < open.size() && module.starts_with(open[depth]) &&
           (module.size() == open[depth].size() || module[open[depth].size()] == '.')) {
      ++depth;
    }
    close_to(depth);
    if (module.empty()) return;
    size_t end = depth == 0 ? 0 : open.back().size() + 1;
    while (end <= module.size()) {
      end = std::min(module.find('.', end), module.size());
      open.emplace_back(module.substr(0, end));
      visit(ModuleSliceEdge{.begin = true, .module = open.back(), .time_ns = time_ns, .phase = phase, .step = step});
      ++end;
    }
  });
  close_to(0);
}

}  // namespace trainmem
