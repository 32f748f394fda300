#pragma once
// One line that says where and why an allocation could not be served.
#include <string>

#include "analysis/run_info.h"

namespace trainmem {

// e.g. "out of memory in forward (step 1), module layer3.0.conv1, op aten::empty: 1.50 MiB requested
// with 950.00 MiB live (limit 951.00 MiB)"
std::string describe_out_of_memory(const OutOfMemoryInfo& failure);

}  // namespace trainmem
