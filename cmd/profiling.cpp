#include "cmd/profiling.h"

#include <c10/util/Exception.h>

#include <iostream>
#include <optional>

#include "cmd/cli_errors.h"
#include "reports/failure_report.h"
#include "tracer/cuda_allocator.h"
#include "tracer/cuda_devices.h"
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

// -1 for the CPU; resolve_device has already checked the name.
int cuda_index(const std::string& device) {
  if (device == "cpu") return -1;
  return device == "cuda" ? 0 : std::stoi(device.substr(5));
}

CudaRunInfo cuda_run_info(int device, const CuptiOutcome& cupti) {
  const CudaAllocatorStats stats = cuda_allocator_stats(device);
  CudaRunInfo info;
  info.device = device;
  for (const CudaDeviceInfo& found : probe_cuda().devices) {
    if (found.index == device) info.device_name = found.name;
  }
  info.device_total_bytes = stats.device_total_bytes;
  info.device_used_bytes = stats.device_total_bytes - stats.device_free_bytes;
  info.allocator_requested_peak = stats.requested_peak;
  info.allocator_allocated_peak = stats.allocated_peak;
  info.allocator_reserved_peak = stats.reserved_peak;
  info.allocator_alloc_retries = stats.alloc_retries;
  info.cupti_traced = cupti.traced;
  info.cupti_error = cupti.error;
  info.cupti_memory_records = cupti.memory_records;
  info.cupti_other_memory_records = cupti.other_memory_records;
  info.cupti_pool_records = cupti.pool_records;
  info.cupti_dropped_records = cupti.dropped_records;
  return info;
}

}  // namespace

void resolve_device(TrainingOptions& options) {
  if (options.device == "cpu") return;
  const CudaStatus cuda = probe_cuda();
  if (options.device == "auto") {
    options.device = cuda.available ? "cuda" : "cpu";
    if (!cuda.available) std::cerr << "trainmem: " << cuda.reason << "; profiling on the CPU\n";
    return;
  }
  validate(options);  // names the valid devices when this one is none
  if (!cuda.available) throw DeviceUnavailable("--device " + options.device + ": " + cuda.reason);
  const int index = cuda_index(options.device);
  if (index >= static_cast<int>(cuda.devices.size())) {
    throw DeviceUnavailable("--device " + options.device + ": only " + std::to_string(cuda.devices.size()) +
                            " CUDA device(s) here");
  }
}

ProfiledRun profile_traced(const std::string& device, int64_t budget_bytes, const RunInfo& info,
                           const std::function<void()>& train) {
  ProfiledRun run;
  const int cuda_device = cuda_index(device);
  TraceOptions trace;
  trace.cpu_limit_bytes = budget_bytes > 0 && cuda_device < 0 ? budget_bytes : available_host_memory_bytes();
  trace.cuda_device = cuda_device;
  if (cuda_device >= 0) set_cuda_memory_limit(cuda_device, budget_bytes);
  {
    TraceSession session(trace);
    std::optional<OutOfMemoryInfo> out_of_memory;
    try {
      train();
    } catch (const c10::OutOfMemoryError&) {
      const auto failure = Recorder::instance().last_failure();
      if (!failure) throw;  // not an allocation this tracer saw
      out_of_memory = out_of_memory_info(*failure);
    }
    run.recording = session.finish();
    run.info = info;
    run.info.out_of_memory = out_of_memory;
    if (cuda_device >= 0) run.info.cuda = cuda_run_info(cuda_device, session.cupti());
  }
  run.info.budget_bytes = budget_bytes;
  fill_input_shapes(run.info, run.recording);
  MemoryEventSource source(run.recording.events, run.recording.names);
  run.analysis = analyze(source, {.device = trace_device(run.info)});
  return run;
}

ProfiledRun profile_training(const TrainingOptions& options, int64_t budget_bytes) {
  TrainingResult training;
  ProfiledRun run = profile_traced(options.device, budget_bytes, training.info, [&] { train_synthetic(options, training); });
  run.training = std::move(training);
  return run;
}

void throw_if_out_of_memory(const ProfiledRun& run) {
  if (run.info.out_of_memory) throw OutOfMemory(describe_out_of_memory(*run.info.out_of_memory));
}

}  // namespace trainmem::cli
