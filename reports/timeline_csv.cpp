#include "reports/timeline_csv.h"

#include <iterator>

#include <fmt/format.h>

namespace trainmem {

std::string timeline_csv(const Timeline& timeline) {
  std::string out = "time_s,step,phase";
  for (int i = 0; i < kCategoryCount; ++i) fmt::format_to(std::back_inserter(out), ",{}", to_string(static_cast<Category>(i)));
  out += ",total\n";
  for (const TimelineSample& sample : timeline.samples) {
    // Seconds with all nine digits: a row's time is exact, like events.csv's.
    fmt::format_to(std::back_inserter(out), "{}.{:09},{},{}", sample.time_ns / 1'000'000'000,
                   sample.time_ns % 1'000'000'000, sample.step, to_string(sample.phase));
    for (int64_t bytes : sample.categories) fmt::format_to(std::back_inserter(out), ",{}", bytes);
    fmt::format_to(std::back_inserter(out), ",{}\n", sample.total);
  }
  return out;
}

}  // namespace trainmem
