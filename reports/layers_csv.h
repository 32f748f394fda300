#pragma once
// layers.csv: one row per module, joining the model's module table (RunInfo) with the activations the
// analysis attributed to each module in the last step's forward phase.
#include <string>

#include "analysis/analysis.h"
#include "analysis/run_info.h"

namespace trainmem {

// For Conv2d rows also: k2_bytes and k4_bytes, the analytic size of the input pooled at k=2 and k=4
// (floor mode, as in the paper's Table 1); compress_k, the kernel applied; pooled_bytes, the measured bytes
// of the pooled copy the conv made and kept at the end of forward. Empty for other modules.
inline constexpr std::string_view kLayersCsvHeader =
    "module,type,weight_bytes,input_shape,input_bytes,activation_bytes,activation_blocks,"
    "k2_bytes,k4_bytes,compress_k,pooled_bytes";

std::string layers_csv(const RunInfo& run, const Analysis& analysis);

}  // namespace trainmem
