#include "reports/summary_json.h"

#include <algorithm>

#include "analysis/compression_estimate.h"
#include "reports/run_files.h"

namespace trainmem {

namespace {

nlohmann::ordered_json top_modules_json(const std::vector<ModuleBytes>& modules) {
  nlohmann::ordered_json top = nlohmann::ordered_json::array();
  for (size_t i = 0; i < std::min(modules.size(), kTopActivationModules); ++i) {
    top.push_back({{"module", modules[i].module}, {"bytes", modules[i].bytes}, {"blocks", modules[i].blocks}});
  }
  return top;
}

// CUDA runs: the trace's tensor and device-level peaks beside the caching allocator's own statistics and CUPTI's.
nlohmann::ordered_json cuda_json(const RunInfo& run, const Analysis& analysis) {
  if (!run.cuda) return nullptr;
  const CudaRunInfo& cuda = *run.cuda;
  const DeviceMemory& device = analysis.device_memory;
  return {{"device", cuda.device},
          {"device_name", cuda.device_name},
          {"device_total_bytes", cuda.device_total_bytes},
          {"device_used_bytes_at_end", cuda.device_used_bytes},
          {"trace",
           {{"peak_bytes", analysis.peak.bytes},
            {"reserved_peak_bytes", device.reserved.peak_bytes},
            {"reserved_at_peak_bytes", device.reserved.at_tensor_peak},
            {"segment_events", device.reserved.alloc_events + device.reserved.free_events},
            {"driver_peak_bytes", device.driver.peak_bytes},
            {"driver_at_peak_bytes", device.driver.at_tensor_peak},
            {"driver_events", device.driver.alloc_events + device.driver.free_events},
            {"driver_untraced_frees", device.driver.untraced_frees}}},
          {"allocator",
           {{"requested_peak_bytes", cuda.allocator_requested_peak},
            {"allocated_peak_bytes", cuda.allocator_allocated_peak},
            {"reserved_peak_bytes", cuda.allocator_reserved_peak},
            {"alloc_retries", cuda.allocator_alloc_retries}}},
          {"reconciled",
           {{"peak", analysis.peak.bytes == cuda.allocator_requested_peak},
            {"reserved_peak", device.reserved.peak_bytes == cuda.allocator_reserved_peak}}},
          {"cupti",
           {{"traced", cuda.cupti_traced},
            {"error", cuda.cupti_error},
            {"memory_records", cuda.cupti_memory_records},
            {"other_memory_records", cuda.cupti_other_memory_records},
            {"pool_records", cuda.cupti_pool_records},
            {"dropped_records", cuda.cupti_dropped_records}}}};
}

}  // namespace

nlohmann::ordered_json summary_json(const RunInfo& run, const Analysis& analysis) {
  using nlohmann::ordered_json;
  const StepPoints& points = analysis.points;
  const PeakInfo& peak = analysis.peak;

  ordered_json categories = ordered_json::object();
  for (int i = 0; i < kCategoryCount; ++i) {
    categories[std::string(to_string(static_cast<Category>(i)))] = analysis.categories_at_peak[i];
  }
  ordered_json top_modules = top_modules_json(analysis.activations_by_module);

  ordered_json compress = {{"spec", run.compress}, {"mode", run.compress_mode}};
  if (run.baseline_activation_bytes > 0) {
    compress["baseline_activation_bytes"] = run.baseline_activation_bytes;
    compress["baseline_peak_bytes"] = run.baseline_peak_bytes;
    compress["analytic_reduction"] = *analytic_reduction(run);
    compress["measured_reduction"] =
        1.0 - static_cast<double>(analysis.activation_bytes) / static_cast<double>(run.baseline_activation_bytes);
    compress["measured_peak_reduction"] =
        1.0 - static_cast<double>(analysis.peak.bytes) / static_cast<double>(run.baseline_peak_bytes);
  }

  // At an out-of-memory, what filled the memory: the blocks alive when the stream stopped.
  ordered_json out_of_memory = out_of_memory_json(run.out_of_memory);
  if (run.out_of_memory) {
    ordered_json live = ordered_json::object();
    for (int i = 0; i < kCategoryCount; ++i) {
      live[std::string(to_string(static_cast<Category>(i)))] = analysis.categories_at_end[i];
    }
    out_of_memory["live_by_category"] = std::move(live);
    out_of_memory["top_live_modules"] = top_modules_json(analysis.live_at_end_by_module);
  }

  ordered_json summary = {{"format", "trainmem-summary"}, {"version", kSummaryVersion}};
  add_run_settings(summary, run);
  summary.update(ordered_json{
      {"measured_parameter_bytes", analysis.measured_parameter_bytes},
      {"measured_buffer_bytes", analysis.measured_buffer_bytes},
      {"points",
       {{"init", points.init},
        {"input", points.input},
        {"forward_peak", points.forward_peak},
        {"backward_end", points.backward_end},
        {"optimizer_peak", points.optimizer_peak}}},
      {"peak_bytes", peak.bytes},
      {"peak",
       {{"seq", peak.seq}, {"phase", to_string(peak.phase)}, {"step", peak.step}, {"module", peak.module}, {"op", peak.op}}},
      {"categories_at_peak", std::move(categories)},
      {"activation_bytes", analysis.activation_bytes},
      {"compress", std::move(compress)},
      {"budget_bytes", run.budget_bytes},
      {"out_of_memory", std::move(out_of_memory)},
      {"cuda", cuda_json(run, analysis)},
      {"top_activation_modules", std::move(top_modules)},
      {"events", analysis.alloc_events + analysis.free_events},
      {"markers", analysis.marker_events},
      {"last_step_seconds", analysis.last_step_seconds}});
  return summary;
}

}  // namespace trainmem
