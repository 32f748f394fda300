#pragma once
// The paper's analytic view of pooled-activation compression, from a run's module table alone:
// what each conv's saved input would take when pooled, and the reduction the paper computes.
#include <cstdint>
#include <optional>
#include <vector>

#include "analysis/run_info.h"

namespace trainmem {

// Bytes of avg_pool2d(input, k) in floor mode (as in the paper's Table 1: a 7x7 map keeps 3x3 at k=2);
// k <= 1 is the input itself.
int64_t pooled_input_bytes(const std::vector<int64_t>& input_shape, int64_t input_bytes, int64_t k);
// Sum over compressed convs of (input bytes - pooled bytes), over the activation bytes of the
// uncompressed baseline run; empty when no baseline was measured.
std::optional<double> analytic_reduction(const RunInfo& run);

}  // namespace trainmem
