#include "compression/mask_relu.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/bitwise_left_shift.h>
#include <ATen/ops/constant_pad_nd.h>
#include <torch/csrc/autograd/custom_function.h>

namespace trainmem::compression {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int64_t kBitsPerByte = 8;

// 1, 2, 4, ..., 128: the value of each bit position in a byte.
at::Tensor bit_values(const at::Device& device) {
  return at::bitwise_left_shift(1, at::arange(kBitsPerByte, at::TensorOptions().dtype(at::kByte).device(device)));
}

class MaskReluFunction : public torch::autograd::Function<MaskReluFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, at::Tensor x) {
    // Stock relu's gradient is threshold_backward(grad, result, 0): zero where result <= 0. The bits mark exactly
    // those elements; x <= 0 is the same test on the input (a NaN passes its gradient through in both).
    ctx->save_for_backward({pack_bits(x.le(0))});
    x.relu_();
    ctx->mark_dirty({x});
    return x;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const at::Tensor& grad = grad_outputs[0];
    const at::Tensor blocked = unpack_bits(ctx->get_saved_variables()[0], grad.numel()).view(grad.sizes());
    return {grad.masked_fill(blocked, 0)};
  }
};

}  // namespace

at::Tensor mask_relu_(at::Tensor& x) { return MaskReluFunction::apply(x); }

at::Tensor pack_bits(const at::Tensor& bool_mask) {
  TORCH_CHECK(bool_mask.scalar_type() == at::kBool, "pack_bits expects a bool tensor, got ", bool_mask.scalar_type());
  // A bool is stored as one byte holding 0 or 1, so it can be reinterpreted without a copy.
  const at::Tensor bits = bool_mask.reshape({-1}).view(at::kByte);
  const int64_t tail = (kBitsPerByte - bits.numel() % kBitsPerByte) % kBitsPerByte;
  // Padding copies, so only when there is a tail to fill.
  const at::Tensor padded_bits = tail == 0 ? bits : at::constant_pad_nd(bits, {0, tail});
  return padded_bits.view({-1, kBitsPerByte})
      .mul(bit_values(bits.device()))
      .sum(/*dim=*/1, /*keepdim=*/false, at::kByte);
}

at::Tensor unpack_bits(const at::Tensor& packed, int64_t numel) {
  TORCH_CHECK(packed.scalar_type() == at::kByte && packed.dim() == 1, "unpack_bits expects 1-D uint8, got ",
              packed.scalar_type(), " of sizes ", packed.sizes());
  TORCH_CHECK(numel >= 0 && (numel + kBitsPerByte - 1) / kBitsPerByte == packed.numel(), "cannot unpack ", numel,
              " elements from ", packed.numel(), " bytes");
  return packed.unsqueeze(1).bitwise_and(bit_values(packed.device())).ne(0).view({-1}).narrow(0, 0, numel);
}

}  // namespace trainmem::compression
