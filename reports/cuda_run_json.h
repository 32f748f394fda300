#pragma once
// The "cuda" object of run.json (CudaRunInfo): null for CPU runs.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "analysis/run_info.h"

namespace trainmem {

nlohmann::ordered_json cuda_run_json(const std::optional<CudaRunInfo>& cuda);
// Throws InputError naming `file` when the object is malformed; a missing key or null gives no CUDA info.
std::optional<CudaRunInfo> read_cuda_run_json(const nlohmann::json& run, const std::string& file);

}  // namespace trainmem
