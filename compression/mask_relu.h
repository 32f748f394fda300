#pragma once
// An in-place ReLU whose backward pass needs one bit per element instead of the full-size result that stock
// relu_ saves. In torchvision's ResNet a ReLU's result is also the next convolution's input; once that
// convolution keeps only a pooled copy (pooled_conv2d), the full-size result can die after the forward pass.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace trainmem::compression {

// relu_(x) with stock relu_'s values and gradients; saves ceil(numel / 8) bytes for the backward pass.
at::Tensor mask_relu_(at::Tensor& x);

// Packs a bool tensor (any shape, read in row-major order) into ceil(numel / 8) uint8 bytes, element i in bit
// i % 8 (least significant first) of byte i / 8; the tail of the last byte is zero.
at::Tensor pack_bits(const at::Tensor& bool_mask);

// The inverse of pack_bits: a one-dimensional bool tensor of the first `numel` packed elements.
at::Tensor unpack_bits(const at::Tensor& packed, int64_t numel);

}  // namespace trainmem::compression
