#include "analysis/compression_estimate.h"

namespace trainmem {

int64_t pooled_input_bytes(const std::vector<int64_t>& input_shape, int64_t input_bytes, int64_t k) {
  if (k <= 1 || input_shape.size() != 4) return input_bytes;
  int64_t elements = 1;
  for (int64_t d : input_shape) elements *= d;
  if (elements == 0) return 0;
  const int64_t element_size = input_bytes / elements;
  return input_shape[0] * input_shape[1] * (input_shape[2] / k) * (input_shape[3] / k) * element_size;
}

std::optional<double> analytic_reduction(const RunInfo& run) {
  if (run.baseline_activation_bytes <= 0) return std::nullopt;
  int64_t saved = 0;
  for (const ModuleInfo& module : run.modules) {
    if (module.compress_k > 1) {
      saved += module.input_bytes - pooled_input_bytes(module.input_shape, module.input_bytes, module.compress_k);
    }
  }
  return static_cast<double>(saved) / static_cast<double>(run.baseline_activation_bytes);
}

}  // namespace trainmem
