#include "reports/units.h"

#include <fmt/format.h>

namespace trainmem {

std::string format_bytes(int64_t bytes) {
  return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

}  // namespace trainmem
