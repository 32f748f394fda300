#pragma once
// timeline.csv: live bytes by category over the run, one row per timeline sample, for pandas or gnuplot.
#include <string>

#include "analysis/timeline.h"

namespace trainmem {

// time_s, step, phase, one column per category (in Category order), total.
std::string timeline_csv(const Timeline& timeline);

}  // namespace trainmem
