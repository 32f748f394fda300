#include "reports/cuda_report.h"

#include <fmt/format.h>

#include "reports/units.h"

namespace trainmem {
namespace {

Table::Cell check(bool equal) { return equal ? Table::Cell{"equal", Tone::kGood} : Table::Cell{"DIFFERS", Tone::kBad}; }

}  // namespace

void print_cuda_report(std::ostream& out, const RunInfo& run, const Analysis& analysis, const TerminalStyle& style) {
  if (!run.cuda) return;
  const CudaRunInfo& cuda = *run.cuda;
  const DeviceMemory& device = analysis.device_memory;
  out << style.paint(fmt::format("CUDA device {} ({}, {})", cuda.device, cuda.device_name,
                                 format_bytes(cuda.device_total_bytes)),
                     Tone::kHeading)
      << "\n";
  Table table(4);
  table.add_row({{"", Tone::kDim}, {"trace", Tone::kDim}, {"allocator", Tone::kDim}, {"", Tone::kDim}});
  table.add_row({{"tensor peak (bytes requested)"},
                 {format_bytes(analysis.peak.bytes)},
                 {format_bytes(cuda.allocator_requested_peak)},
                 check(analysis.peak.bytes == cuda.allocator_requested_peak)});
  table.add_row({{"peak allocated (allocator's block sizes)"}, {""}, {format_bytes(cuda.allocator_allocated_peak)}, {""}});
  table.add_row({{"peak reserved (segments)"},
                 {format_bytes(device.reserved.peak_bytes)},
                 {format_bytes(cuda.allocator_reserved_peak)},
                 check(device.reserved.peak_bytes == cuda.allocator_reserved_peak)});
  table.add_row({{"reserved at the tensor peak"}, {format_bytes(device.reserved.at_tensor_peak)}, {""}, {""}});
  out << table.render(style);
  if (cuda.cupti_traced) {
    out << fmt::format("  CUPTI: driver allocations peaked at {} ({} at the tensor peak; {} records", 
                       format_bytes(device.driver.peak_bytes), format_bytes(device.driver.at_tensor_peak),
                       cuda.cupti_memory_records);
    if (cuda.cupti_dropped_records > 0) out << fmt::format(", {} dropped", cuda.cupti_dropped_records);
    if (device.driver.untraced_frees > 0) {
      out << fmt::format(", {} releases of memory allocated before tracing", device.driver.untraced_frees);
    }
    out << ")\n";
  } else {
    out << "  CUPTI: not traced: " << cuda.cupti_error << "\n";
  }
  out << fmt::format("  device memory in use at the end (all processes, CUDA context included): {}\n",
                     format_bytes(cuda.device_used_bytes));
}

}  // namespace trainmem
