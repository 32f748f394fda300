#pragma once
// Fashion-MNIST (Xiao et al., 2017): 28x28 grey images of ten kinds of clothing, 60000 to train on and 10000
// to test on, read from the IDX files the Debian package dataset-fashion-mnist installs.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace trainmem::data {

inline constexpr std::string_view kFashionMnist = "fashion-mnist";
inline constexpr std::string_view kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Images with their class labels.
struct LabelledImages {
  at::Tensor images;  // N x H x W, uint8
  at::Tensor labels;  // N, int64
  int64_t size() const { return labels.size(0); }
};

struct ImageDataset {
  std::string name;
  int64_t num_classes = 0;
  LabelledImages train;
  LabelledImages test;
  // Of the training images' pixels scaled to [0, 1]: what normalization subtracts and divides by.
  double mean = 0;
  double std = 1;
};

// Reads the four files (`train-images-idx3-ubyte`, ... each plain or with `.gz`) from `dir`. Throws
// InputError when one is missing (naming the package that installs them), corrupt, or inconsistent.
ImageDataset load_fashion_mnist(const std::filesystem::path& dir);

}  // namespace trainmem::data
