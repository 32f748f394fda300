#pragma once
// The paper's compressed convolution (section 4): the forward pass is exact, but what is kept for the backward
// pass is the input average-pooled by k×k. The backward pass inflates that copy back to the input's size: the
// input and bias gradients stay exact (they never read the input's values), only the weight gradient is
// approximate.
#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <cstdint>

namespace trainmem::compression {

// What happens to rows and columns left over when k does not divide the map's height or width.
enum class PoolMode {
  kFloor,  // dropped when pooling; zero when inflated (the paper's Table 1 counts this way)
  kCeil,   // pooled as a partial window that averages only its valid pixels
};

// Rows (or columns) of the pooled copy of a map of `extent` rows. Throws when floor mode would keep none.
int64_t pooled_extent(int64_t extent, int64_t k, PoolMode mode);

// Average-pools an N×C×H×W map by k×k (stride k); k == 1 returns `input` itself.
at::Tensor pool(const at::Tensor& input, int64_t k, PoolMode mode);

// The inverse used by the backward pass: repeats every pooled pixel over its k×k block, aligned with the pixels
// it was pooled from, to an N×C×height×width map. Floor mode leaves the dropped bottom rows and right columns
// zero; ceil mode crops the partial blocks. k == 1 returns `pooled` itself.
at::Tensor inflate(const at::Tensor& pooled, int64_t k, int64_t height, int64_t width, PoolMode mode);

// Same result as at::conv2d (bias may be undefined), but saves only pool(input, k, mode) and the weight for the
// backward pass: the full-size input is not kept alive by the autograd graph (unless k == 1).
at::Tensor pooled_conv2d(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias,
                         at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                         int64_t k, PoolMode mode = PoolMode::kFloor);

}  // namespace trainmem::compression
