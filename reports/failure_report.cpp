#include "reports/failure_report.h"

#include <fmt/format.h>

#include "reports/units.h"

namespace trainmem {

std::string describe_out_of_memory(const OutOfMemoryInfo& failure) {
  std::string where = fmt::format("in {} (step {})", failure.phase, failure.step);
  if (!failure.module.empty()) where += ", module " + failure.module;
  if (!failure.op.empty()) where += ", op " + failure.op;
  const std::string refused_by = failure.limit_bytes > 0 ? fmt::format("limit {}", format_bytes(failure.limit_bytes))
                                                         : std::string("the system allocator refused");
  return fmt::format("out of memory {}: {} requested with {} live ({})", where, format_bytes(failure.requested_bytes),
                     format_bytes(failure.live_bytes), refused_by);
}

}  // namespace trainmem
