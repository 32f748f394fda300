#pragma once
// summary.json: the numbers of a run for machines. A pure function of (RunInfo, Analysis), so that
// analysing a saved run reproduces the live run's file byte for byte.
#include <nlohmann/json.hpp>

#include "analysis/analysis.h"
#include "analysis/run_info.h"

namespace trainmem {

inline constexpr int kSummaryVersion = 1;
inline constexpr size_t kTopActivationModules = 10;

nlohmann::ordered_json summary_json(const RunInfo& run, const Analysis& analysis);

}  // namespace trainmem
