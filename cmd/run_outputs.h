#pragma once
// The files of a run directory, shared by `profile` (live) and `analyze` (saved run).
#include <filesystem>

#include "analysis/analysis.h"
#include "analysis/run_info.h"
#include "tracer/recorder.h"

namespace trainmem::cli {

// summary.json and layers.csv, each written atomically.
void write_analysis_files(const std::filesystem::path& dir, const RunInfo& info, const Analysis& analysis);
// run.json, events.csv, then the analysis files.
void write_run_directory(const std::filesystem::path& dir, const RunInfo& info, const Recording& recording,
                         const Analysis& analysis);

}  // namespace trainmem::cli
