#pragma once
// The files of a run directory, shared by `profile` (live) and `analyze` (saved run).
#include <cstdint>
#include <filesystem>

#include <CLI/CLI.hpp>

#include "analysis/analysis.h"
#include "analysis/event_source.h"
#include "analysis/run_info.h"
#include "analysis/timeline.h"
#include "tracer/recorder.h"

namespace trainmem::cli {

// How the visual views (timeline.csv, trace.json, report.html) are drawn.
struct ViewOptions {
  int64_t timeline_points = kDefaultTimelinePoints;
};
// --timeline-points N.
void add_view_options(CLI::App& command, ViewOptions& options);

// summary.json, layers.csv and the views, each written atomically. `events` is the stream `analysis` came from:
// the views replay it (twice).
void write_analysis_files(const std::filesystem::path& dir, const RunInfo& info, const Analysis& analysis,
                          EventSource& events, const ViewOptions& views);
// run.json, events.bin (events.csv is an export: `trainmem export`), then the analysis files.
void write_run_directory(const std::filesystem::path& dir, const RunInfo& info, const Recording& recording,
                         const Analysis& analysis, const ViewOptions& views);

}  // namespace trainmem::cli
