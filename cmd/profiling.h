#pragma once
// One traced training run, analysed: what `profile`, `compare` and later commands compose.
#include "analysis/analysis.h"
#include "analysis/run_info.h"
#include "tracer/recorder.h"
#include "training/synthetic_training.h"

namespace trainmem::cli {

struct ProfiledRun {
  RunInfo info;           // with module input shapes from the trace
  Recording recording;
  Analysis analysis;
  TrainingResult training;
};

// Trains under the tracer (capped at the memory available) and analyses the events. An out-of-memory
// becomes cli::OutOfMemory carrying the diagnosis.
ProfiledRun profile_training(const TrainingOptions& options);

}  // namespace trainmem::cli
