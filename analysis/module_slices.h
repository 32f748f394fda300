#pragma once
// Where the modules were busy, as properly nested slices for a trace viewer. A slice of module M is a maximal
// run of consecutive alloc/free events whose module is M or lies inside M by its dotted path ("layer1" holds
// "layer1.0" holds "layer1.0.conv1"), within one phase instance. It begins at the run's first event and
// ends at the first event after the run (the next module's, one outside any module, or the next phase
// event), or at the last event of the stream. Streaming: state is one open slice per path level.
#include <cstdint>
#include <functional>
#include <string_view>

#include "analysis/event_source.h"
#include "tracer/event.h"

namespace trainmem {

struct ModuleSliceEdge {
  bool begin = true;        // false: the end of the innermost open slice
  std::string_view module;  // the full dotted path of the slice's module; valid during the call only
  int64_t time_ns = 0;      // non-decreasing in event order, as in the timeline
  Phase phase = Phase::kOther;
  uint32_t step = 0;
};

// Calls `visit` with every begin and end in time order; ends come innermost first, and every slice ends.
void replay_module_slices(EventSource& source, int8_t device, const std::function<void(const ModuleSliceEdge&)>& visit);

}  // namespace trainmem
