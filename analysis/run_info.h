#pragma once
// What the training loop knows about a run besides its events: settings and the model's module table.
// Saved as run.json beside events.csv.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tracer/event.h"

namespace trainmem {

struct ModuleInfo {
  std::string name;                  // torchvision path, e.g. "layer2.0.conv1"
  std::string type;                  // e.g. "Conv2d", "BasicBlock"
  int64_t weight_bytes = 0;          // bytes of the module's own parameters (not its children's)
  std::vector<int64_t> input_shape;  // first tensor argument of its forward, empty if never called
  int64_t input_bytes = 0;           // that tensor's bytes
  int64_t compress_k = 0;            // Conv2d only: pooling kernel applied to its saved input (0: exact)
  bool operator==(const ModuleInfo&) const = default;
};

// Where a run ran out of memory: a --budget overrun, or the allocator refusing.
struct OutOfMemoryInfo {
  std::string phase;
  uint32_t step = 0;
  std::string module;
  std::string op;
  int64_t requested_bytes = 0;
  int64_t live_bytes = 0;
  int64_t limit_bytes = 0;  // the budget or memory cap crossed; 0 when the allocator itself refused
  bool operator==(const OutOfMemoryInfo&) const = default;
};

// A run on a CUDA device: the caching allocator's own statistics at the end of the run (peaks since the run
// began), the device, and what CUPTI contributed. The trace is reconciled against these.
struct CudaRunInfo {
  int device = 0;
  std::string device_name;
  int64_t device_total_bytes = 0;
  int64_t device_used_bytes = 0;  // cudaMemGetInfo at the end: every process, the CUDA context included
  int64_t allocator_requested_peak = 0;
  int64_t allocator_allocated_peak = 0;
  int64_t allocator_reserved_peak = 0;
  int64_t allocator_alloc_retries = 0;
  bool cupti_traced = false;
  std::string cupti_error;  // why CUPTI did not trace, when it did not
  uint64_t cupti_memory_records = 0;
  uint64_t cupti_other_memory_records = 0;
  uint64_t cupti_pool_records = 0;
  uint64_t cupti_dropped_records = 0;
  bool operator==(const CudaRunInfo&) const = default;
};

struct RunInfo {
  std::string model;
  int64_t batch = 0;
  int64_t resolution = 0;
  int64_t steps = 0;
  std::string optimizer;
  uint64_t seed = 0;
  int threads = 0;
  std::string device = "cpu";
  int64_t parameter_count = 0;
  int64_t parameter_bytes = 0;  // parameter_count x element size, from the model itself
  std::vector<ModuleInfo> modules;  // in registration order
  // Pooled-activation compression (--compress): the spec as given, the mode, and the same settings
  // measured without compression (0 when no baseline was run).
  std::string compress = "none";
  std::string compress_mode = "full";
  int64_t baseline_activation_bytes = 0;
  int64_t baseline_peak_bytes = 0;
  int64_t budget_bytes = 0;  // --budget (0: none; CPU runs are still capped at the memory available)
  std::optional<OutOfMemoryInfo> out_of_memory;  // empty when the run finished
  std::optional<CudaRunInfo> cuda;               // empty for CPU runs
  bool operator==(const RunInfo&) const = default;
};

// The device whose events the run's analysis reads: the CUDA device it trained on, else the CPU.
inline int8_t trace_device(const RunInfo& run) { return run.cuda ? static_cast<int8_t>(run.cuda->device) : kCpuDevice; }

}  // namespace trainmem
