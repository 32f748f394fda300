#pragma once
// The affine memory law S(B) = a + b·B: what training keeps grows linearly with the batch B on top of a
// batch-independent part. Two measured batches determine it; `fit` and `characterize` extrapolate with it.
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace trainmem::cli {

struct AffineLaw {
  double intercept = 0;  // a: bytes independent of the batch
  double slope = 0;      // b: bytes per sample

  // The law through (batch1, bytes1) and (batch2, bytes2), batch1 != batch2.
  static AffineLaw through(int64_t batch1, int64_t bytes1, int64_t batch2, int64_t bytes2) {
    AffineLaw law;
    law.slope = static_cast<double>(bytes2 - bytes1) / static_cast<double>(batch2 - batch1);
    law.intercept = static_cast<double>(bytes1) - law.slope * static_cast<double>(batch1);
    return law;
  }
  double at(int64_t batch) const { return intercept + slope * static_cast<double>(batch); }
  // The largest batch whose bytes stay within `budget`; 0 when not even one sample fits (the batch-independent
  // part alone is over it, or nothing grows with the batch).
  int64_t largest_batch_within(int64_t budget) const {
    if (slope <= 0) return 0;
    return std::max<int64_t>(0, static_cast<int64_t>(std::floor((static_cast<double>(budget) - intercept) / slope)));
  }
};

}  // namespace trainmem::cli
