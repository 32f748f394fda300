#pragma once
// trace.json: a run in the Chrome Trace Event Format, to open in Perfetto (ui.perfetto.dev) or
// chrome://tracing. Tracks: live bytes by category (counters), phase instances, module slices (see
// analysis/module_slices.h) and the five points (instants). Layout in docs/formats.md.
#include <cstdint>
#include <string>

#include "analysis/event_source.h"
#include "analysis/run_info.h"
#include "analysis/timeline.h"

namespace trainmem {

// Thread ids of the tracks inside the trace's one process (pid 1); counters belong to the process.
inline constexpr int kTracePhasesTid = 1;
inline constexpr int kTraceModulesTid = 2;
inline constexpr int kTracePointsTid = 3;

// `events` is replayed once for the module slices, of `device` (as the timeline's).
std::string chrome_trace_json(const RunInfo& run, const Timeline& timeline, EventSource& events, int8_t device);

}  // namespace trainmem
