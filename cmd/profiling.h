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

// Trains under the tracer and analyses the events. CPU memory is capped at `budget_bytes` when positive, else
// at the memory available. An out-of-memory stops training; the run is still analysed, up to that moment,
// and info.out_of_memory says where it happened.
ProfiledRun profile_training(const TrainingOptions& options, int64_t budget_bytes = 0);
// Throws cli::OutOfMemory with the one-line diagnosis when `run` ran out of memory.
void throw_if_out_of_memory(const ProfiledRun& run);

}  // namespace trainmem::cli
