#pragma once
// layers.csv: one row per module, joining the model's module table (RunInfo) with the activations the
// analysis attributed to each module in the last step's forward phase.
#include <string>

#include "analysis/analysis.h"
#include "analysis/run_info.h"

namespace trainmem {

inline constexpr std::string_view kLayersCsvHeader =
    "module,type,weight_bytes,input_shape,input_bytes,activation_bytes,activation_blocks";

std::string layers_csv(const RunInfo& run, const Analysis& analysis);

}  // namespace trainmem
