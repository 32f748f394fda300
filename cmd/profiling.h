#pragma once
// One traced training run, analysed: what `profile`, `compare` and later commands compose.
#include <cstdint>
#include <functional>
#include <string>

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

// Settles --device before anything trains: "auto" becomes "cuda" when a CUDA device can be used, else "cpu"
// (saying why on stderr); "cuda" or "cuda:N" without a usable device throws DeviceUnavailable with the reason.
void resolve_device(TrainingOptions& options);

// Trains under the tracer and analyses the events. An out-of-memory stops training; the run is still analysed,
// up to that moment, and info.out_of_memory says where it happened. On the CPU, memory is capped at
// `budget_bytes` when positive, else at the memory available. On a CUDA device, `budget_bytes` caps what the
// caching allocator may reserve, and info.cuda records the allocator's statistics and CUPTI's view.
ProfiledRun profile_training(const TrainingOptions& options, int64_t budget_bytes = 0);
// Runs `train` under the tracer and analyses the events, as profile_training runs the synthetic loop (the result's
// `training` stays empty). `info` is what `train` fills with the run's settings and model; it is read once `train`
// returns or runs out of memory.
ProfiledRun profile_traced(const std::string& device, int64_t budget_bytes, const RunInfo& info,
                           const std::function<void()>& train);
// Throws cli::OutOfMemory with the one-line diagnosis when `run` ran out of memory.
void throw_if_out_of_memory(const ProfiledRun& run);

}  // namespace trainmem::cli
