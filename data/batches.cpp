#include "data/batches.h"

#include <ATen/ops/from_blob.h>
#include <ATen/ops/index_select.h>
#include <ATen/ops/upsample_bilinear2d.h>

#include <random>

namespace trainmem::data {

std::vector<int64_t> epoch_order(int64_t size, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) order[static_cast<size_t>(i)] = i;
  std::seed_seq seeds{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(epoch)};
  std::mt19937_64 generator(seeds);
  // Fisher-Yates by hand: std::shuffle's algorithm is the library's choice, and the order must not change with it.
  for (int64_t i = size - 1; i > 0; --i) {
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(generator() % static_cast<uint64_t>(i + 1))]);
  }
  return order;
}

int64_t batch_count(int64_t size, int64_t batch, int64_t limit, bool whole_only) {
  const int64_t count = whole_only ? size / batch : (size + batch - 1) / batch;
  return limit > 0 ? std::min(count, limit) : count;
}

LabelledImages gather(const LabelledImages& split, std::span<const int64_t> indices) {
  // from_blob only views `indices`: index_select copies what it points to before returning.
  const at::Tensor index =
      at::from_blob(const_cast<int64_t*>(indices.data()), {static_cast<int64_t>(indices.size())}, at::kLong);
  return {at::index_select(split.images, 0, index), at::index_select(split.labels, 0, index)};
}

LabelledImages slice(const LabelledImages& split, int64_t start, int64_t count) {
  return {split.images.narrow(0, start, count), split.labels.narrow(0, start, count)};
}

at::Tensor model_input(const at::Tensor& images, const ImageDataset& dataset, int64_t resolution) {
  at::Tensor grey = images.to(at::kFloat).div_(255.0).sub_(dataset.mean).div_(dataset.std).unsqueeze(1);
  if (grey.size(2) != resolution || grey.size(3) != resolution) {
    grey = at::upsample_bilinear2d(grey, {resolution, resolution}, /*align_corners=*/false);
  }
  return grey.expand({grey.size(0), 3, resolution, resolution}).contiguous();
}

}  // namespace trainmem::data
