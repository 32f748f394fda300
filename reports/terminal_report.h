#pragma once
// The report a person reads after a run: the five points, what the peak is made of, the parameter check
// and the modules whose activations cost most.
#include <ostream>

#include "analysis/analysis.h"
#include "analysis/run_info.h"
#include "reports/terminal_style.h"

namespace trainmem {

// `style` colours headings and the parameter check; the default prints plain text.
void print_report(std::ostream& out, const RunInfo& run, const Analysis& analysis, const TerminalStyle& style = {});
// The diagnosis of a run that ran out of memory (run.out_of_memory is set): where, and what filled the memory.
void print_out_of_memory_report(std::ostream& out, const RunInfo& run, const Analysis& analysis,
                                const TerminalStyle& style = {});

}  // namespace trainmem
