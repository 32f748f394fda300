#pragma once
// How reports show bytes and module names to people; shared by every command that prints memory.
// Defined out of line: translation units that see LibTorch's bundled fmt headers must not inline ours.
#include <cstdint>
#include <string>
#include <string_view>

namespace trainmem {

// Always MiB with two decimals, so that columns of sizes line up and compare at a glance.
std::string format_bytes(int64_t bytes);

// Parses a memory size: a number with an optional unit B, KiB, MiB, GiB, TiB (powers of 1024) or KB, MB,
// GB, TB (powers of 1000), e.g. "16GiB", "12000MiB", "1.5GB". Throws std::invalid_argument otherwise.
int64_t parse_bytes(std::string_view text);

// Allocations outside any module have the module name ""; reports show them under this label.
inline std::string_view module_label(std::string_view module) { return module.empty() ? "(none)" : module; }

}  // namespace trainmem
