#pragma once
// How reports show bytes and module names to people; shared by every command that prints memory.
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace trainmem {

// Always MiB with two decimals, so that columns of sizes line up and compare at a glance.
inline std::string format_bytes(int64_t bytes) {
  return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

// Allocations outside any module have the module name ""; reports show them under this label.
inline std::string_view module_label(std::string_view module) { return module.empty() ? "(none)" : module; }

}  // namespace trainmem
