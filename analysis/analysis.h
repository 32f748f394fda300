#pragma once
// Streaming analysis of an event stream: the five points of the last step, the category split at the
// overall peak, and activations by module. Two passes over the source; memory proportional to the
// number of blocks alive at once, not to the number of events.
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/device_memory.h"
#include "analysis/event_source.h"
#include "tracer/event.h"

namespace trainmem {

// Thrown when the stream contradicts itself (a free of a block never allocated, a sequence gap, ...).
class TraceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Category : uint8_t {
  kParameters = 0,   // blocks tagged parameter or buffer
  kGradients,        // blocks tagged gradient
  kOptimizerState,   // born in an optimizer phase and still alive when that phase ended
  kInput,            // blocks tagged input (the batch and targets)
  kActivations,      // born in a forward phase and still alive when that phase ended (input excluded)
  kTemporaries,      // born and dead within the same phase of the same step
  kOther,            // anything else (e.g. born in backward, alive after it, not a gradient)
};
inline constexpr int kCategoryCount = 7;
std::string_view to_string(Category category);

// Live bytes at the five points of the last step (bytes of the analysed device).
struct StepPoints {
  int64_t init = 0;            // when the init phase ended
  int64_t input = 0;           // when the last step's input phase ended
  int64_t forward_peak = 0;    // maximum during the last step's forward phase
  int64_t backward_end = 0;    // when the last step's backward phase ended
  int64_t optimizer_peak = 0;  // maximum during the last step's optimizer phase
  bool operator==(const StepPoints&) const = default;
};

struct ModuleBytes {
  std::string module;  // "" for allocations outside any module
  int64_t bytes = 0;
  int64_t blocks = 0;
  bool operator==(const ModuleBytes&) const = default;
};

struct ModuleOpBytes {
  std::string module;
  std::string op;
  int64_t bytes = 0;
  int64_t blocks = 0;
  bool operator==(const ModuleOpBytes&) const = default;
};

struct PeakInfo {
  int64_t bytes = 0;
  uint64_t seq = 0;  // the event that reached the peak (first one, if reached more than once)
  Phase phase = Phase::kOther;
  uint32_t step = 0;
  std::string module;
  std::string op;
  bool operator==(const PeakInfo&) const = default;
};

struct Analysis {
  uint64_t alloc_events = 0;
  uint64_t free_events = 0;
  uint64_t marker_events = 0;  // phase and tag events
  uint32_t last_step = 0;
  StepPoints points;
  PeakInfo peak;
  std::array<int64_t, kCategoryCount> categories_at_peak{};  // sums to peak.bytes
  // Bytes born in the last step's forward phase and alive when it ended (input excluded by construction).
  int64_t activation_bytes = 0;
  std::vector<ModuleBytes> activations_by_module;  // same blocks, by module, largest first
  std::vector<ModuleOpBytes> activations_by_module_op;  // same blocks, by (module, op that made them)
  // Bytes of blocks tagged parameter/buffer alive when init ended (checks parameter_count x 4).
  int64_t measured_parameter_bytes = 0;
  int64_t measured_buffer_bytes = 0;
  // Blocks still alive where the stream ends (at an out-of-memory: what filled the memory), by category and
  // by module (largest first).
  std::array<int64_t, kCategoryCount> categories_at_end{};
  std::vector<ModuleBytes> live_at_end_by_module;
  // Wall time of the last step, from its input phase start to its optimizer phase end.
  double last_step_seconds = 0;
  // CUDA devices only: the segments reserved and the driver's allocations beneath the tensors.
  DeviceMemory device_memory;
  // A saved run must analyse exactly like the live one; tests compare whole results.
  bool operator==(const Analysis&) const = default;
};

struct AnalysisOptions {
  int8_t device = kCpuDevice;  // alloc/free events of other devices are ignored
};

// Throws TraceError on an inconsistent stream.
Analysis analyze(EventSource& source, const AnalysisOptions& options = {});

}  // namespace trainmem
