#pragma once
// report.html: one self-contained page (inline SVG, CSS and JavaScript; nothing fetched) with the memory
// timeline stacked by category, the phases and the five points, the split at the peak, the per-layer table
// (layers.csv, sortable), the compression savings and the run's settings.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "analysis/analysis.h"
#include "analysis/run_info.h"
#include "analysis/timeline.h"

namespace trainmem {

// Where the chart sits on the page, in CSS pixels, whatever the run: a screenshot test looks there.
struct ChartLayout {
  static constexpr int kLeft = 20;     // of the chart's <svg id="memory-chart">
  static constexpr int kTop = 96;      // below the fixed-height header
  static constexpr int kWidth = 1140;
  static constexpr int kHeight = 460;
  // The plot area inside the chart: the axes' box.
  static constexpr int kPlotLeft = 84;
  static constexpr int kPlotTop = 44;
  static constexpr int kPlotRight = kWidth - 24;
  static constexpr int kPlotBottom = kHeight - 52;
};

// Element ids a reader (or a test) can rely on.
inline constexpr std::string_view kReportElementIds[] = {"memory-chart", "points-table", "category-table", "layer-table",
                                                         "settings"};

// The fill of each category's area (0xRRGGBB), in Category order (Tableau 10).
inline constexpr std::array<uint32_t, kCategoryCount> kCategoryColours{0x4e79a7, 0xf28e2b, 0x59a14f, 0xedc948,
                                                                        0xe15759, 0xb07aa1, 0x9c755f};

std::string html_report(const RunInfo& run, const Analysis& analysis, const Timeline& timeline);

}  // namespace trainmem
