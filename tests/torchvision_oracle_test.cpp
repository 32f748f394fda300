// Our C++ models equal torchvision's: same parameter names, shapes and counts, and the same eval-mode
// output on the same weights and input (torchvision from the pinned wheel is the oracle). CI checks one small
// member of each family; scripts/check-all-models.sh runs the disabled suite that checks every model.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "models/registry.h"

namespace trainmem {
namespace {

namespace fs = std::filesystem;

struct OracleDump {
  int64_t parameter_count = 0;
  std::map<std::string, torch::Tensor> tensors;
};

OracleDump export_from_torchvision(const std::string& model, int resolution) {
  const fs::path dir = fs::temp_directory_path() / ("trainmem-oracle-" + model);
  fs::create_directories(dir);
  const std::string command = std::string(TRAINMEM_PYTHON) + " " + TRAINMEM_SOURCE_DIR +
                              "/tests/oracle/export_torchvision.py " + model + " " + std::to_string(resolution) +
                              " " + dir.string();
  if (std::system(command.c_str()) != 0) throw std::runtime_error("oracle export failed: " + command);
  std::ifstream index_file(dir / "index.json");
  const auto index = nlohmann::json::parse(index_file);
  std::ifstream blob(dir / "tensors.bin", std::ios::binary);
  OracleDump dump;
  dump.parameter_count = index.at("parameter_count");
  for (const auto& entry : index.at("tensors")) {
    const auto dtype = entry.at("dtype") == "torch.int64" ? torch::kLong : torch::kFloat;
    torch::Tensor t = torch::empty(entry.at("shape").get<std::vector<int64_t>>(), dtype);
    blob.seekg(entry.at("offset").get<int64_t>());
    blob.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
    dump.tensors[entry.at("name")] = t;
  }
  fs::remove_all(dir);
  return dump;
}

void expect_equal_to_torchvision(const std::string& name, int resolution = 32) {
  OracleDump oracle = export_from_torchvision(name, resolution);
  auto model = models::build_model(*models::find_model(name));
  int64_t count = 0;
  for (const auto& p : model->parameters()) count += p.numel();
  EXPECT_EQ(count, oracle.parameter_count);

  size_t state_entries = 0;
  torch::NoGradGuard no_grad;
  for (const auto& entries : {model->named_parameters(), model->named_buffers()}) {
    for (const auto& entry : entries) {
      const std::string& key = entry.key();
      ASSERT_TRUE(oracle.tensors.count(key)) << "torchvision's state_dict has no " << key;
      ASSERT_EQ(entry.value().sizes(), oracle.tensors[key].sizes()) << key;
      entry.value().copy_(oracle.tensors[key]);
      ++state_entries;
    }
  }
  EXPECT_EQ(state_entries + 2, oracle.tensors.size()) << "state_dict sizes differ (beyond input and output)";

  model->eval();
  const torch::Tensor expected = oracle.tensors["output"];
  const torch::Tensor actual = model->forward(oracle.tensors["input"]);
  const double relative_error = ((actual - expected).norm() / expected.norm()).item<double>();
  EXPECT_LE(relative_error, 1e-4) << name;
}

TEST(TorchvisionOracle, ResNet18) { expect_equal_to_torchvision("resnet18"); }
TEST(TorchvisionOracle, ResNet50) { expect_equal_to_torchvision("resnet50"); }
TEST(TorchvisionOracle, ResNeXt50) { expect_equal_to_torchvision("resnext50_32x4d"); }
TEST(TorchvisionOracle, AlexNet) { expect_equal_to_torchvision("alexnet", 63); }
TEST(TorchvisionOracle, VGG11BatchNorm) { expect_equal_to_torchvision("vgg11_bn"); }
TEST(TorchvisionOracle, SqueezeNet) {
  expect_equal_to_torchvision("squeezenet1_0");
  expect_equal_to_torchvision("squeezenet1_1");
}
TEST(TorchvisionOracle, MobileNet) {
  expect_equal_to_torchvision("mobilenet_v2");
  expect_equal_to_torchvision("mobilenet_v3_small");
}
TEST(TorchvisionOracle, MNASNet) { expect_equal_to_torchvision("mnasnet0_5"); }
TEST(TorchvisionOracle, ShuffleNetV2) { expect_equal_to_torchvision("shufflenet_v2_x0_5"); }
TEST(TorchvisionOracle, EfficientNet) {
  expect_equal_to_torchvision("efficientnet_b0");
  expect_equal_to_torchvision("efficientnet_v2_s", 33);
}
TEST(TorchvisionOracle, RegNet) {
  expect_equal_to_torchvision("regnet_x_400mf");
  expect_equal_to_torchvision("regnet_y_400mf");
}
TEST(TorchvisionOracle, DenseNet121) { expect_equal_to_torchvision("densenet121"); }
TEST(TorchvisionOracle, GoogLeNet) { expect_equal_to_torchvision("googlenet"); }
TEST(TorchvisionOracle, InceptionV3) { expect_equal_to_torchvision("inception_v3", 75); }  // eval needs no 299 px
TEST(TorchvisionOracle, ConvNeXtTiny) { expect_equal_to_torchvision("convnext_tiny"); }
TEST(TorchvisionOracle, VisionTransformerB32) { expect_equal_to_torchvision("vit_b_32", 224); }
TEST(TorchvisionOracle, SwinTransformer) {
  expect_equal_to_torchvision("swin_t");
  expect_equal_to_torchvision("swin_v2_t");
}
TEST(TorchvisionOracle, MaxViT) { expect_equal_to_torchvision("maxvit_t", 224); }

// In train mode GoogLeNet and Inception v3 also return their auxiliary heads' logits, as torchvision does.
TEST(TrainMode, AuxiliaryHeadsReturnTheirLogits) {
  for (const auto& [name, resolution, heads] : {std::tuple{"googlenet", 64, 3}, {"inception_v3", 299, 2}}) {
    auto model = models::build_model(*models::find_model(name), 10);
    model->train();
    const auto outputs = model->forward_with_auxiliary(torch::randn({2, 3, resolution, resolution}));
    ASSERT_EQ(static_cast<int>(outputs.size()), heads) << name;
    for (const auto& logits : outputs) EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 10})) << name;
    model->eval();
    torch::NoGradGuard no_grad;
    EXPECT_EQ(model->forward_with_auxiliary(torch::randn({2, 3, resolution, resolution})).size(), 1u) << name;
  }
}

// Dropout and stochastic depth act in train mode only: two train-mode forwards differ, two eval-mode ones agree.
TEST(TrainMode, DropoutAndStochasticDepthAreRandomInTrainingOnly) {
  for (const std::string name : {"efficientnet_b0", "convnext_tiny", "swin_t"}) {
    torch::manual_seed(0);
    auto model = models::build_model(*models::find_model(name), 10);
    const torch::Tensor input = torch::randn({8, 3, 32, 32});
    torch::NoGradGuard no_grad;
    model->train();
    EXPECT_FALSE(torch::equal(model->forward(input), model->forward(input))) << name;
    model->eval();
    EXPECT_TRUE(torch::equal(model->forward(input), model->forward(input))) << name;
  }
}

// Every registered model at the smallest resolution it takes (at least 32 px); slow, hence disabled in CI.
class EveryModel : public ::testing::TestWithParam<std::string> {};
TEST_P(EveryModel, EqualsTorchvision) {
  const models::ModelSpec& spec = *models::find_model(GetParam());
  expect_equal_to_torchvision(spec.name, static_cast<int>(std::max<int64_t>(32, spec.min_resolution)));
}
std::vector<std::string> every_model_name() {
  std::vector<std::string> names;
  for (const auto& spec : models::registry()) names.push_back(spec.name);
  return names;
}
INSTANTIATE_TEST_SUITE_P(DISABLED_TorchvisionOracle, EveryModel, ::testing::ValuesIn(every_model_name()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace trainmem
