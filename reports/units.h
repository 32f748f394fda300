#pragma once
// How reports show bytes and module names to people; shared by every command that prints memory.
// Defined out of line: translation units that see LibTorch's bundled fmt headers must not inline ours.
#include <cstdint>
#include <string>
#include <string_view>

namespace trainmem {

// Human units: "512 B" below 1 KiB, else two decimals in the largest binary unit that keeps the number at or
// above 1 ("1.50 KiB", "796.96 MiB", "1.25 GiB"). Negative sizes keep their sign.
std::string format_bytes(int64_t bytes);

// Parses a memory size: a number with an optional unit B, KiB, MiB, GiB, TiB (powers of 1024) or KB, MB,
// GB, TB (powers of 1000), e.g. "16GiB", "12000MiB", "1.5GB". Throws std::invalid_argument otherwise.
int64_t parse_bytes(std::string_view text);

// Allocations outside any module have the module name ""; reports show them under this label.
inline std::string_view module_label(std::string_view module) { return module.empty() ? "(none)" : module; }

}  // namespace trainmem
