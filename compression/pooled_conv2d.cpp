#include "compression/pooled_conv2d.h"

#include <ATen/ops/avg_pool2d.h>
#include <ATen/ops/constant_pad_nd.h>
#include <ATen/ops/convolution.h>
#include <ATen/ops/convolution_backward.h>
#include <torch/csrc/autograd/custom_function.h>

#include <array>
#include <optional>

#include "compression/forward_record.h"

namespace trainmem::compression {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class PooledConv2dFunction : public torch::autograd::Function<PooledConv2dFunction> {
 public:
  // The bias travels as an optional so that an absent bias is no autograd input at all (an undefined tensor
  // input would be); its gradient, when present, is the third edge.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight,
                            const std::optional<at::Tensor>& bias, at::IntArrayRef stride, at::IntArrayRef padding,
                            at::IntArrayRef dilation, int64_t groups, int64_t k, PoolMode mode) {
    ctx->save_for_backward({pool(input, k, mode), weight});
    // Plain integers: saving `input` itself, even only for its sizes, would keep it alive.
    ctx->saved_data["input_sizes"] = input.sizes().vec();
    ctx->saved_data["has_bias"] = bias.has_value();
    ctx->saved_data["stride"] = stride.vec();
    ctx->saved_data["padding"] = padding.vec();
    ctx->saved_data["dilation"] = dilation.vec();
    ctx->saved_data["groups"] = groups;
    ctx->saved_data["k"] = k;
    ctx->saved_data["ceil_mode"] = mode == PoolMode::kCeil;
    return at::convolution(input, weight, bias, stride, padding, dilation, /*transposed=*/false,
                           /*output_padding=*/{0, 0}, groups);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& pooled = saved[0];
    const at::Tensor& weight = saved[1];
    const std::vector<int64_t> input_sizes = ctx->saved_data["input_sizes"].toIntVector();
    const PoolMode mode = ctx->saved_data["ceil_mode"].toBool() ? PoolMode::kCeil : PoolMode::kFloor;
    const at::Tensor inflated =
        inflate(pooled, ctx->saved_data["k"].toInt(), input_sizes[2], input_sizes[3], mode);

    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    const std::array<int64_t, 1> bias_sizes{weight.size(0)};
    const std::array<bool, 3> output_mask{ctx->needs_input_grad(0), ctx->needs_input_grad(1),
                                          has_bias && ctx->needs_input_grad(2)};
    auto [grad_input, grad_weight, grad_bias] = at::convolution_backward(
        grad_outputs[0], inflated, weight, has_bias ? at::OptionalIntArrayRef(bias_sizes) : std::nullopt,
        ctx->saved_data["stride"].toIntVector(), ctx->saved_data["padding"].toIntVector(),
        ctx->saved_data["dilation"].toIntVector(), /*transposed=*/false, /*output_padding=*/{0, 0},
        ctx->saved_data["groups"].toInt(), output_mask);
    // One gradient per forward argument; the non-tensor ones get none.
    return {grad_input, grad_weight, grad_bias, {}, {}, {}, {}, {}, {}};
  }
};

}  // namespace

int64_t pooled_extent(int64_t extent, int64_t k, PoolMode mode) {
  TORCH_CHECK(k >= 1, "pooling factor k must be at least 1, got ", k);
  const int64_t pooled = mode == PoolMode::kCeil ? (extent + k - 1) / k : extent / k;
  TORCH_CHECK(pooled > 0, "pooling by k=", k, " keeps nothing of a map of extent ", extent,
              "; use a smaller k or ceil mode");
  return pooled;
}

at::Tensor pool(const at::Tensor& input, int64_t k, PoolMode mode) {
  TORCH_CHECK(input.dim() == 4, "expected an N x C x H x W input, got sizes ", input.sizes());
  pooled_extent(input.size(2), k, mode);  // for its checks: avg_pool2d's own messages are obscure
  pooled_extent(input.size(3), k, mode);
  if (k == 1) return input;
  // Without padding, count_include_pad only matters for ceil mode's partial windows: average valid pixels only.
  return at::avg_pool2d(input, {k, k}, {k, k}, /*padding=*/{0, 0}, /*ceil_mode=*/mode == PoolMode::kCeil,
                        /*count_include_pad=*/false);
}

at::Tensor inflate(const at::Tensor& pooled, int64_t k, int64_t height, int64_t width, PoolMode mode) {
  TORCH_CHECK(pooled.dim() == 4 && pooled.size(2) == pooled_extent(height, k, mode) &&
                  pooled.size(3) == pooled_extent(width, k, mode),
              "pooled map of sizes ", pooled.sizes(), " does not come from a ", height, "x", width,
              " map pooled by k=", k);
  if (k == 1) return pooled;
  const int64_t n = pooled.size(0), c = pooled.size(1), rows = pooled.size(2), cols = pooled.size(3);
  // Exact nearest-neighbour upsampling in one copy (upsample_nearest2d computes source indices in floating point).
  const at::Tensor blocks = pooled.reshape({n, c, rows, 1, cols, 1}).expand({n, c, rows, k, cols, k}).reshape(
      {n, c, rows * k, cols * k});
  if (rows * k == height && cols * k == width) return blocks;  // padding would only copy
  // Padding at the bottom and right keeps every pixel over its source. A negative pad crops (ceil mode).
  return at::constant_pad_nd(blocks, {0, width - cols * k, 0, height - rows * k});
}

at::Tensor pooled_conv2d(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias,
                         at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                         int64_t k, PoolMode mode) {
  return with_forward_record("trainmem::pooled_conv2d", [&] {
    return PooledConv2dFunction::apply(input, weight, bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt,
                                       stride, padding, dilation, groups, k, mode);
  });
}

}  // namespace trainmem::compression
