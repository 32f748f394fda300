#include "compression/mask_relu.h"

#include <ATen/Parallel.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/bitwise_left_shift.h>
#include <ATen/ops/constant_pad_nd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>

#include "compression/forward_record.h"

namespace trainmem::compression {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int64_t kBitsPerByte = 8;

// 1, 2, 4, ..., 128: the value of each bit position in a byte.
// Contiguous float32 CPU tensors, the common case, take one fused pass instead of several tensor ops: packing
// through a bool tensor and a reduction cost as much as the ReLU itself.
bool has_fast_path(const at::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous();
}

constexpr int64_t kBytesPerTask = 1 << 14;

// Bit j of byte b is set where element 8b + j is <= 0 (a NaN is not): the same bits as pack_bits(x.le(0)).
at::Tensor pack_nonpositive_bits(const at::Tensor& x) {
  const int64_t n = x.numel();
  at::Tensor packed = at::empty({(n + kBitsPerByte - 1) / kBitsPerByte}, x.options().dtype(at::kByte));
  const float* values = x.const_data_ptr<float>();
  uint8_t* bytes = packed.mutable_data_ptr<uint8_t>();
  at::parallel_for(0, packed.numel(), kBytesPerTask, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t first = b * kBitsPerByte;
      const int64_t count = std::min<int64_t>(kBitsPerByte, n - first);
      uint8_t byte = 0;
      for (int64_t j = 0; j < count; ++j) byte |= static_cast<uint8_t>(values[first + j] <= 0.0f) << j;
      bytes[b] = byte;
    }
  });
  return packed;
}

// grad where the bit is clear, 0 where it is set: masked_fill(grad, unpack_bits(packed), 0) in one pass.
at::Tensor zero_where_set(const at::Tensor& grad, const at::Tensor& packed) {
  at::Tensor out = at::empty_like(grad);
  const int64_t n = grad.numel();
  const float* in = grad.const_data_ptr<float>();
  const uint8_t* bytes = packed.const_data_ptr<uint8_t>();
  float* result = out.mutable_data_ptr<float>();
  at::parallel_for(0, packed.numel(), kBytesPerTask, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t first = b * kBitsPerByte;
      const int64_t count = std::min<int64_t>(kBitsPerByte, n - first);
      for (int64_t j = 0; j < count; ++j) result[first + j] = (bytes[b] >> j & 1) ? 0.0f : in[first + j];
    }
  });
  return out;
}

at::Tensor bit_values(const at::Device& device) {
  return at::bitwise_left_shift(1, at::arange(kBitsPerByte, at::TensorOptions().dtype(at::kByte).device(device)));
}

class MaskReluFunction : public torch::autograd::Function<MaskReluFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, at::Tensor x) {
    // Stock relu's gradient is threshold_backward(grad, result, 0): zero where result <= 0. The bits mark exactly
    // those elements; x <= 0 is the same test on the input (a NaN passes its gradient through in both).
    ctx->save_for_backward({has_fast_path(x) ? pack_nonpositive_bits(x) : pack_bits(x.le(0))});
    x.relu_();
    ctx->mark_dirty({x});
    return x;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const at::Tensor& grad = grad_outputs[0];
    if (has_fast_path(grad)) return {zero_where_set(grad, ctx->get_saved_variables()[0])};
    const at::Tensor blocked = unpack_bits(ctx->get_saved_variables()[0], grad.numel()).view(grad.sizes());
    return {grad.masked_fill(blocked, 0)};
  }
};

}  // namespace

at::Tensor mask_relu_(at::Tensor& x) {
  return with_forward_record("trainmem::mask_relu_", [&] { return MaskReluFunction::apply(x); });
}

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
