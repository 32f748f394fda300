#include "cmd/profiling.h"

#include <c10/util/Exception.h>

#include "cmd/cli_errors.h"
#include "reports/failure_report.h"
#include "tracer/host_memory.h"
#include "tracer/session.h"

namespace trainmem::cli {
namespace {

void fill_input_shapes(RunInfo& info, const Recording& recording) {
  for (auto& module : info.modules) {
    auto it = recording.module_input_shapes.find(module.name);
    if (it == recording.module_input_shapes.end()) continue;
    module.input_shape = it->second;
    module.input_bytes = 4;  // float32 activations
    for (int64_t d : module.input_shape) module.input_bytes *= d;
  }
}

OutOfMemoryInfo out_of_memory_info(const AllocationFailure& failure) {
  return {std::string(to_string(failure.phase)), failure.step, failure.module, failure.op, failure.requested_bytes,
          failure.live_bytes, failure.limit_bytes};
}

}  // namespace

ProfiledRun profile_training(const TrainingOptions& options, int64_t budget_bytes) {
  ProfiledRun run;
  {
    TraceSession session(budget_bytes > 0 ? budget_bytes : available_host_memory_bytes());
    try {
      train_synthetic(options, run.training);
    } catch (const c10::OutOfMemoryError&) {
      const auto failure = Recorder::instance().last_failure();
      if (!failure) throw;  // not an allocation this tracer saw
      run.training.info.out_of_memory = out_of_memory_info(*failure);
    }
    run.recording = session.finish();
  }
  run.info = run.training.info;
  run.info.budget_bytes = budget_bytes;
  fill_input_shapes(run.info, run.recording);
  MemoryEventSource source(run.recording.events, run.recording.names);
  run.analysis = analyze(source);
  return run;
}

void throw_if_out_of_memory(const ProfiledRun& run) {
  if (run.info.out_of_memory) throw OutOfMemory(describe_out_of_memory(*run.info.out_of_memory));
}

}  // namespace trainmem::cli
