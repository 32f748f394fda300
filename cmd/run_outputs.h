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
  bool events_csv = true;  // profile: also write events.csv beside events.bin
};
// --timeline-points N.
void add_view_options(CLI::App& command, ViewOptions& options);

// summary.json, layers.csv and the views, each written atomically. `events` is the stream `analysis` came from:
// the views replay it (twice).
void write_analysis_files(const std::filesystem::path& dir, const RunInfo& info, const Analysis& analysis,
                          EventSource& events, const ViewOptions& views);
// --no-events-csv (profile): a long run's events.csv is large, and `trainmem export` writes it later.
void add_events_csv_option(CLI::App& command, ViewOptions& options);

// run.json, events.bin, events.csv unless turned off, then the analysis files.
void write_run_directory(const std::filesystem::path& dir, const RunInfo& info, const Recording& recording,
                         const Analysis& analysis, const ViewOptions& views);
// "wrote DIR/{run.json,...}": the files write_run_directory writes, for the commands' last line.
std::string run_directory_listing(const std::string& dir, const ViewOptions& views);

}  // namespace trainmem::cli
