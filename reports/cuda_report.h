#pragma once
// The CUDA part of a run's report: the trace's peaks beside the caching allocator's own statistics, the memory
// reserved beneath the tensors, and what CUPTI saw the driver allocate.
#include <ostream>

#include "analysis/analysis.h"
#include "analysis/run_info.h"
#include "reports/terminal_style.h"

namespace trainmem {

// Prints nothing for CPU runs (run.cuda empty).
void print_cuda_report(std::ostream& out, const RunInfo& run, const Analysis& analysis, const TerminalStyle& style = {});

}  // namespace trainmem
