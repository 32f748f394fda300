// Training on Fashion-MNIST as the library does it: the IDX reader on good and corrupt files, the dataset and
// its batches, the loss falling on real batches, and lockstep configurations seeing identical batches.
#include <gtest/gtest.h>
#include <zlib.h>

#include <ATen/ops/allclose.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "data/batches.h"
#include "data/fashion_mnist.h"
#include "data/idx_file.h"
#include "reports/errors.h"
#include "reports/output_dir.h"
#include "training/epoch_training.h"

namespace trainmem {
namespace {

namespace fs = std::filesystem;

// A rank-2 unsigned-byte IDX file: 2 x 3 elements 0..5.
std::string idx_bytes() {
  std::string bytes{'\0', '\0', '\x08', '\x02', '\0', '\0', '\0', '\x02', '\0', '\0', '\0', '\x03'};
  for (char value = 0; value < 6; ++value) bytes += value;
  return bytes;
}

class IdxFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("trainmem-idx-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    remove_tree(dir_, ignored);
  }

  fs::path write_plain(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
    return dir_ / name;
  }
  fs::path write_gzip(const std::string& name, const std::string& bytes) {
    gzFile file = gzopen((dir_ / name).c_str(), "wb");
    gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(file);
    return dir_ / name;
  }
  void expect_corrupt(const std::string& bytes, const std::string& mentions) {
    const fs::path path = write_plain("bad", bytes);
    try {
      data::read_idx_ubytes(path, 2);
      ADD_FAILURE() << "read a corrupt file; expected: " << mentions;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(mentions), std::string::npos) << e.what();
    }
  }

  fs::path dir_;
};

TEST_F(IdxFile, ReadsPlainAndGzipAlike) {
  for (const fs::path& path : {write_plain("plain", idx_bytes()), write_gzip("packed.gz", idx_bytes())}) {
    const data::IdxArray array = data::read_idx_ubytes(path, 2);
    EXPECT_EQ(array.dims, (std::vector<int64_t>{2, 3})) << path;
    EXPECT_EQ(array.elements, (std::vector<uint8_t>{0, 1, 2, 3, 4, 5})) << path;
  }
}

TEST_F(IdxFile, RejectsCorruptFilesNamingThem) {
  std::string wrong_type = idx_bytes();
  wrong_type[2] = '\x0d';  // float elements
  expect_corrupt(wrong_type, "magic number");
  expect_corrupt(idx_bytes().substr(0, 7), "shorter than its header");
  expect_corrupt(idx_bytes().substr(0, 15), "truncated");
  expect_corrupt(idx_bytes() + "x", "bytes after the last element");
  std::string zero_dim = idx_bytes();
  zero_dim[7] = '\0';
  expect_corrupt(zero_dim, "implausible dimension 0");
}

TEST_F(IdxFile, ReportsADamagedGzipStream) {
  std::string packed;
  {
    const fs::path path = write_gzip("whole.gz", idx_bytes() + std::string(4096, '\x07'));
    std::ifstream file(path, std::ios::binary);
    packed.assign(std::istreambuf_iterator<char>(file), {});
  }
  const fs::path cut = write_plain("cut.gz", packed.substr(0, packed.size() / 2));
  EXPECT_THROW(data::read_idx_ubytes(cut, 2), InputError);
}

TEST(FashionMnist, MissingFilesNameThePackage) {
  try {
    data::load_fashion_mnist("/nonexistent/fashion");
    ADD_FAILURE() << "loaded from a missing directory";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("dataset-fashion-mnist"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/nonexistent/fashion/train-images-idx3-ubyte"), std::string::npos) << e.what();
  }
}

// The real dataset, loaded once for every test below.
class RealData : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dataset_ = new data::ImageDataset(data::load_fashion_mnist(data::kFashionMnistDir)); }
  static void TearDownTestSuite() { delete dataset_; }

  // resnet18 at 32 px, batch 8, a few batches: a second or two.
  static EpochTrainingOptions tiny_options() {
    EpochTrainingOptions options;
    options.training.model = "resnet18";
    options.training.batch = 8;
    options.training.resolution = 32;
    options.training.threads = 1;  // on a busy machine, more threads than free cores slow LibTorch down many times
    options.limit_batches = 4;
    return options;
  }

  static data::ImageDataset* dataset_;
};
data::ImageDataset* RealData::dataset_ = nullptr;

TEST_F(RealData, HasTheSplitsAndStatisticsOfFashionMnist) {
  EXPECT_EQ(dataset_->train.images.sizes(), (std::vector<int64_t>{60000, 28, 28}));
  EXPECT_EQ(dataset_->test.images.sizes(), (std::vector<int64_t>{10000, 28, 28}));
  EXPECT_EQ(dataset_->num_classes, 10);
  EXPECT_EQ(dataset_->train.labels.min().item<int64_t>(), 0);
  EXPECT_EQ(dataset_->train.labels.max().item<int64_t>(), 9);
  // Fashion-MNIST's published pixel statistics: mean 0.2860, deviation 0.3530.
  EXPECT_NEAR(dataset_->mean, 0.2860, 5e-4);
  EXPECT_NEAR(dataset_->std, 0.3530, 5e-4);
}

TEST_F(RealData, EpochOrderIsASeededPermutation) {
  const auto order = data::epoch_order(1000, 7, 1);
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(1000);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(sorted, identity);
  EXPECT_EQ(order, data::epoch_order(1000, 7, 1));
  EXPECT_NE(order, data::epoch_order(1000, 7, 2));
  EXPECT_NE(order, data::epoch_order(1000, 8, 1));
}

TEST_F(RealData, ModelInputIsNormalizedResizedAndRgb) {
  const data::LabelledImages batch = data::slice(dataset_->train, 0, 4);
  const at::Tensor same_size = data::model_input(batch.images, *dataset_, 28);
  ASSERT_EQ(same_size.sizes(), (std::vector<int64_t>{4, 3, 28, 28}));
  const double pixel = batch.images[1][14][14].item<uint8_t>() / 255.0;
  EXPECT_NEAR(same_size[1][0][14][14].item<float>(), (pixel - dataset_->mean) / dataset_->std, 1e-5);
  EXPECT_TRUE(at::allclose(same_size.select(1, 0), same_size.select(1, 2)));

  const at::Tensor resized = data::model_input(batch.images, *dataset_, 32);
  EXPECT_EQ(resized.sizes(), (std::vector<int64_t>{4, 3, 32, 32}));
  EXPECT_NEAR(resized.mean().item<double>(), same_size.mean().item<double>(), 0.05);
}

TEST_F(RealData, LossFallsOnRealBatches) {
  EpochTrainingOptions options = tiny_options();
  options.epochs = 3;
  options.limit_batches = 8;
  // Adam: SGD with momentum needs more than 24 steps of batch 8 before batch norm's running statistics settle.
  options.training.optimizer = "adam";
  LockstepTraining training(options, *dataset_);
  ASSERT_TRUE(training.train({}));
  const auto& curve = training.configurations().front().curve;
  ASSERT_EQ(curve.size(), 3u);
  EXPECT_LT(curve[2].train_loss, curve[0].train_loss);
  EXPECT_LT(curve[2].train_loss, 2.0);  // ln 10 = 2.30: chance for ten classes
  EXPECT_GT(curve[2].test_top1, 0.2);
  EXPECT_GE(curve[2].test_top5, curve[2].test_top1);
}

TEST_F(RealData, LockstepConfigurationsStartFromTheSameWeights) {
  EpochTrainingOptions options = tiny_options();
  options.configurations = {compression::parse_compression("none"), compression::parse_compression("4")};
  LockstepTraining training(options, *dataset_);
  training.build_all();
  const auto first = training.configurations()[0].trainable.model->named_parameters();
  const auto second = training.configurations()[1].trainable.model->named_parameters();
  ASSERT_EQ(first.size(), second.size());
  for (const auto& item : first) EXPECT_TRUE(item.value().equal(second[item.key()])) << item.key();
}

TEST_F(RealData, LockstepConfigurationsSeeIdenticalBatches) {
  EpochTrainingOptions options = tiny_options();
  options.epochs = 2;
  options.limit_batches = 2;
  options.configurations = {compression::parse_compression("none"), compression::parse_compression("4")};
  LockstepTraining training(options, *dataset_);
  ASSERT_TRUE(training.train({}));
  const auto& configurations = training.configurations();
  for (size_t epoch = 0; epoch < 2; ++epoch) {
    for (size_t c = 1; c < configurations.size(); ++c) {
      EXPECT_EQ(configurations[c].curve[epoch].data_checksum, configurations[0].curve[epoch].data_checksum)
          << "configuration " << configurations[c].policy.spec << ", epoch " << epoch + 1;
    }
  }
  // The checksum does see the batches: another epoch, or another seed, draws others.
  EXPECT_NE(configurations[0].curve[0].data_checksum, configurations[0].curve[1].data_checksum);
  options.training.seed = 1;
  options.configurations.resize(1);
  options.epochs = 1;
  LockstepTraining other_seed(options, *dataset_);
  ASSERT_TRUE(other_seed.train({}));
  EXPECT_NE(other_seed.configurations()[0].curve[0].data_checksum, configurations[0].curve[0].data_checksum);
}

TEST_F(RealData, StopsAfterTheCurrentBatchDroppingTheUnfinishedEpoch) {
  EpochTrainingOptions options = tiny_options();
  options.epochs = 3;
  LockstepTraining training(options, *dataset_);
  std::atomic<bool> stop{false};
  int64_t batches_seen = 0;
  EpochHooks hooks;
  hooks.stop = &stop;
  hooks.on_batch = [&](const EpochProgress& progress) {
    if (progress.testing) return;
    ++batches_seen;
    if (progress.epoch == 2 && progress.batch == 2) stop = true;
  };
  EXPECT_FALSE(training.train(hooks));
  EXPECT_EQ(batches_seen, 4 + 2);
  EXPECT_EQ(training.completed_epochs(), 1);
}

}  // namespace
}  // namespace trainmem
