#pragma once
// The batches a training loop draws from an image dataset: a shuffled order that depends only on the seed and
// the epoch (so a resumed run draws the same batches), and the images made into model input.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <span>
#include <vector>

#include "data/fashion_mnist.h"

namespace trainmem::data {

// A permutation of 0..size-1, a function of (seed, epoch) alone.
std::vector<int64_t> epoch_order(int64_t size, uint64_t seed, int64_t epoch);

// Batches of `batch` examples among `size`, at most `limit` (0: no limit). `whole_only` drops a last, partial
// batch (training keeps every step's shapes, and so its memory, the same).
int64_t batch_count(int64_t size, int64_t batch, int64_t limit, bool whole_only);

// The examples at `indices`, still as stored: N x H x W uint8 and N int64.
LabelledImages gather(const LabelledImages& split, std::span<const int64_t> indices);
// Examples start..start+count-1 in stored order.
LabelledImages slice(const LabelledImages& split, int64_t start, int64_t count);

// Grey N x H x W uint8 images as N x 3 x R x R float model input: scaled to [0, 1], normalized by the
// dataset's mean and deviation, resized bilinearly to R, and the grey channel repeated for the models' RGB stems.
at::Tensor model_input(const at::Tensor& images, const ImageDataset& dataset, int64_t resolution);

}  // namespace trainmem::data
