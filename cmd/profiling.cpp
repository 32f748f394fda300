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

[[noreturn]] void report_out_of_memory() {
  auto failure = Recorder::instance().last_failure();
  if (!failure) throw OutOfMemory("out of memory (no allocation context recorded)");
  throw OutOfMemory(describe_allocation_failure(*failure));
}

}  // namespace

ProfiledRun profile_training(const TrainingOptions& options) {
  ProfiledRun run;
  {
    TraceSession session(available_host_memory_bytes());
    try {
      run.training = train_synthetic(options);
    } catch (const c10::OutOfMemoryError&) {
      report_out_of_memory();
    }
    run.recording = session.finish();
  }
  run.info = run.training.info;
  fill_input_shapes(run.info, run.recording);
  MemoryEventSource source(run.recording.events, run.recording.names);
  run.analysis = analyze(source);
  return run;
}

}  // namespace trainmem::cli
