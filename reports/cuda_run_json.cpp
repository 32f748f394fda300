#include "reports/cuda_run_json.h"

#include "reports/errors.h"

namespace trainmem {

nlohmann::ordered_json cuda_run_json(const std::optional<CudaRunInfo>& cuda) {
  if (!cuda) return nullptr;
  return {{"device", cuda->device},
          {"device_name", cuda->device_name},
          {"device_total_bytes", cuda->device_total_bytes},
          {"device_used_bytes", cuda->device_used_bytes},
          {"allocator_requested_peak", cuda->allocator_requested_peak},
          {"allocator_allocated_peak", cuda->allocator_allocated_peak},
          {"allocator_reserved_peak", cuda->allocator_reserved_peak},
          {"allocator_alloc_retries", cuda->allocator_alloc_retries},
          {"cupti_traced", cuda->cupti_traced},
          {"cupti_error", cuda->cupti_error},
          {"cupti_memory_records", cuda->cupti_memory_records},
          {"cupti_other_memory_records", cuda->cupti_other_memory_records},
          {"cupti_pool_records", cuda->cupti_pool_records},
          {"cupti_dropped_records", cuda->cupti_dropped_records}};
}

std::optional<CudaRunInfo> read_cuda_run_json(const nlohmann::json& run, const std::string& file) {
  auto it = run.find("cuda");
  if (it == run.end() || it->is_null()) return std::nullopt;
  try {
    const nlohmann::json& j = *it;
    CudaRunInfo cuda;
    j.at("device").get_to(cuda.device);
    j.at("device_name").get_to(cuda.device_name);
    j.at("device_total_bytes").get_to(cuda.device_total_bytes);
    j.at("device_used_bytes").get_to(cuda.device_used_bytes);
    j.at("allocator_requested_peak").get_to(cuda.allocator_requested_peak);
    j.at("allocator_allocated_peak").get_to(cuda.allocator_allocated_peak);
    j.at("allocator_reserved_peak").get_to(cuda.allocator_reserved_peak);
    j.at("allocator_alloc_retries").get_to(cuda.allocator_alloc_retries);
    j.at("cupti_traced").get_to(cuda.cupti_traced);
    j.at("cupti_error").get_to(cuda.cupti_error);
    j.at("cupti_memory_records").get_to(cuda.cupti_memory_records);
    j.at("cupti_other_memory_records").get_to(cuda.cupti_other_memory_records);
    j.at("cupti_pool_records").get_to(cuda.cupti_pool_records);
    j.at("cupti_dropped_records").get_to(cuda.cupti_dropped_records);
    return cuda;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(file + ": \"cuda\" is malformed (" + std::string(e.what()).substr(std::string(e.what()).find(']') + 2) + ")");
  }
}

}  // namespace trainmem
