#include "data/fashion_mnist.h"

#include <ATen/ops/from_blob.h>

#include <cmath>
#include <system_error>

#include "data/idx_file.h"
#include "reports/errors.h"

namespace trainmem::data {
namespace {

constexpr int64_t kClasses = 10;

// The file's plain name or its gzip-compressed twin, whichever exists.
std::filesystem::path find_file(const std::filesystem::path& dir, const std::string& name) {
  std::error_code error;
  for (const std::string& candidate : {name + ".gz", name}) {
    if (std::filesystem::is_regular_file(dir / candidate, error)) return dir / candidate;
  }
  throw InputError("Fashion-MNIST not found: no " + (dir / name).string() +
                   "[.gz] (install the Debian package dataset-fashion-mnist, or point --data-dir at the files)");
}

at::Tensor to_tensor(std::vector<uint8_t> elements, std::vector<int64_t> dims, at::ScalarType type) {
  return at::from_blob(elements.data(), dims, at::kByte).to(type, /*non_blocking=*/false, /*copy=*/true);
}

LabelledImages load_split(const std::filesystem::path& dir, const std::string& prefix) {
  const auto images_path = find_file(dir, prefix + "-images-idx3-ubyte");
  const auto labels_path = find_file(dir, prefix + "-labels-idx1-ubyte");
  IdxArray images = read_idx_ubytes(images_path, 3);
  IdxArray labels = read_idx_ubytes(labels_path, 1);
  if (labels.dims[0] != images.dims[0]) {
    throw InputError(labels_path.string() + " holds " + std::to_string(labels.dims[0]) + " labels for " +
                     std::to_string(images.dims[0]) + " images in " + images_path.string());
  }
  for (size_t i = 0; i < labels.elements.size(); ++i) {
    if (labels.elements[i] >= kClasses) {
      throw InputError(labels_path.string() + ": label " + std::to_string(labels.elements[i]) + " of image " +
                       std::to_string(i) + " is not a class 0-9");
    }
  }
  return {to_tensor(std::move(images.elements), images.dims, at::kByte),
          to_tensor(std::move(labels.elements), labels.dims, at::kLong)};
}

}  // namespace

ImageDataset load_fashion_mnist(const std::filesystem::path& dir) {
  ImageDataset dataset;
  dataset.name = std::string(kFashionMnist);
  dataset.num_classes = kClasses;
  dataset.train = load_split(dir, "train");
  dataset.test = load_split(dir, "t10k");
  if (dataset.test.images.sizes().slice(1) != dataset.train.images.sizes().slice(1)) {
    throw InputError("Fashion-MNIST in " + dir.string() + ": test and training images differ in size");
  }
  // Exact sums over the bytes: a float reduction over 47 million pixels would depend on the thread count.
  const at::Tensor pixels = dataset.train.images.contiguous();
  const uint8_t* data = pixels.data_ptr<uint8_t>();
  uint64_t sum = 0, squares = 0;
  for (int64_t i = 0; i < pixels.numel(); ++i) {
    sum += data[i];
    squares += uint64_t{data[i]} * data[i];
  }
  const double n = static_cast<double>(pixels.numel());
  dataset.mean = static_cast<double>(sum) / n / 255.0;
  dataset.std = std::sqrt(static_cast<double>(squares) / n / (255.0 * 255.0) - dataset.mean * dataset.mean);
  return dataset;
}

}  // namespace trainmem::data
