#include "reports/units.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace trainmem {

std::string format_bytes(int64_t bytes) {
  static constexpr std::array<std::string_view, 4> kUnits{"KiB", "MiB", "GiB", "TiB"};
  const uint64_t magnitude = bytes < 0 ? 0 - static_cast<uint64_t>(bytes) : static_cast<uint64_t>(bytes);
  if (magnitude < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(magnitude) / 1024.0;
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{}{:.2f} {}", bytes < 0 ? "-" : "", value, kUnits[unit]);
}

int64_t parse_bytes(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, double>, 9> kUnits{{{"KiB", 1024.0},
                                                                              {"MiB", 1024.0 * 1024},
                                                                              {"GiB", 1024.0 * 1024 * 1024},
                                                                              {"TiB", 1024.0 * 1024 * 1024 * 1024},
                                                                              {"KB", 1e3},
                                                                              {"MB", 1e6},
                                                                              {"GB", 1e9},
                                                                              {"TB", 1e12},
                                                                              {"B", 1.0}}};
  std::string_view number = text;
  double scale = 1.0;
  for (const auto& [unit, factor] : kUnits) {
    if (number.ends_with(unit)) {
      number.remove_suffix(unit.size());
      scale = factor;
      break;
    }
  }
  size_t used = 0;
  double value = -1;
  try {
    value = std::stod(std::string(number), &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (number.empty() || used != number.size() || !std::isfinite(value) || value <= 0) {
    throw std::invalid_argument("bad memory size '" + std::string(text) + "' (e.g. 16GiB, 12000MiB, 1.5GB)");
  }
  return static_cast<int64_t>(value * scale);
}

}  // namespace trainmem
