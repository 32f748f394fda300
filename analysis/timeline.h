#pragma once
// Live bytes by category over a whole run, downsampled for plotting without losing a peak, with the phase
// instances and the moments of the five points: what the run's charts (report.html, trace.json,
// timeline.csv) draw. One streaming pass; memory bounded by the output points plus the blocks alive at once.
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "analysis/analysis.h"
#include "analysis/event_source.h"
#include "tracer/event.h"

namespace trainmem {

inline constexpr int64_t kDefaultTimelinePoints = 2000;

// The state right after one event.
struct TimelineSample {
  uint64_t seq = 0;
  int64_t time_ns = 0;
  uint32_t step = 0;
  Phase phase = Phase::kOther;
  // Bytes alive, by the category each block ends up in (docs/categories.md): the split at the peak sample
  // is the analysis's categories_at_peak.
  std::array<int64_t, kCategoryCount> categories{};
  int64_t total = 0;
  bool operator==(const TimelineSample&) const = default;
};

// One phase instance: from its phase event to the next one (or the end of the stream).
struct PhaseSpan {
  Phase phase = Phase::kOther;
  uint32_t step = 0;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  bool operator==(const PhaseSpan&) const = default;
};

// Where one of the five points was measured; its bytes are the analysis's StepPoints value.
struct PointMoment {
  uint64_t seq = 0;
  int64_t time_ns = 0;
  int64_t bytes = 0;
  bool operator==(const PointMoment&) const = default;
};

enum class StepPoint : uint8_t { kInit = 0, kInput, kForwardPeak, kBackwardEnd, kOptimizerPeak };
inline constexpr int kStepPointCount = 5;
std::string_view to_string(StepPoint point);  // "init", "input", "forward_peak", ...

struct Timeline {
  // In event order, at most max_points. The time axis is cut into max_points equal buckets and each bucket
  // keeps the sample with the most bytes alive (the first, on a tie), so every local peak survives and the
  // run's peak sample is present exactly.
  std::vector<TimelineSample> samples;
  std::vector<PhaseSpan> phases;  // every phase instance, in order
  // Empty where the stream has no such moment (e.g. a run that ran out of memory before backward ended).
  std::array<std::optional<PointMoment>, kStepPointCount> points;
  int64_t end_ns = 0;  // time of the last event
};

struct TimelineOptions {
  int64_t max_points = kDefaultTimelinePoints;  // at least 1
  int8_t device = kCpuDevice;                   // as AnalysisOptions::device
  uint32_t last_step = 0;                       // Analysis::last_step: where the five points are
};

// Times are made non-decreasing in event order. Throws TraceError on a free it cannot match; analyze()
// validates the stream fully and is meant to run first.
Timeline build_timeline(EventSource& source, const TimelineOptions& options);

}  // namespace trainmem
