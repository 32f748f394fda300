// --compress specs, and how a policy resolves against a real model's layers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <torch/types.h>

#include "compression/apply.h"
#include "models/registry.h"

namespace trainmem::compression {
namespace {

int64_t kernel_of(const CompressionPlan& plan, const std::string& module) {
  for (const auto& conv : plan.convs) {
    if (conv.module == module) return conv.k;
  }
  ADD_FAILURE() << "no conv " << module;
  return -1;
}

std::shared_ptr<models::Classifier> resnet18() { return models::build_model(*models::find_model("resnet18")); }

TEST(CompressionPolicy, ParsesNoneUniformAndPerLayerSpecs) {
  EXPECT_FALSE(parse_compression("none").compresses_anything());
  EXPECT_EQ(parse_compression("4").uniform_k, 4);
  const auto policy = parse_compression("layer1.*=4, layer4.*=2,conv1=0");
  ASSERT_EQ(policy.rules.size(), 3u);
  EXPECT_EQ(policy.rules[1].pattern, "layer4.*");
  EXPECT_EQ(policy.rules[1].k, 2);
  EXPECT_EQ(policy.uniform_k, 0);
}

TEST(CompressionPolicy, RejectsBadKernelsAndRules) {
  for (const char* bad : {"", "two", "-2", "2.5", "65", "layer1.*=x", "=2", "layer1.*"}) {
    EXPECT_THROW(parse_compression(bad), std::invalid_argument) << bad;
  }
  EXPECT_THROW(parse_compression("missing-policy.json"), std::invalid_argument);
  EXPECT_THROW(parse_compress_mode("half"), std::invalid_argument);
}

TEST(CompressionPolicy, ReadsRulesFromAJsonFile) {
  const auto path = std::filesystem::temp_directory_path() / "trainmem-policy-test.json";
  std::ofstream(path) << R"({"layer2.*": 4, "layer2.0.downsample.0": 0})";
  const auto policy = parse_compression(path.string());
  std::filesystem::remove(path);
  ASSERT_EQ(policy.rules.size(), 2u);
  const auto plan = plan_compression(*resnet18(), policy);
  EXPECT_EQ(kernel_of(plan, "layer2.0.conv1"), 4);
  EXPECT_EQ(kernel_of(plan, "layer2.0.downsample.0"), 0);
  EXPECT_EQ(kernel_of(plan, "layer1.0.conv1"), 0);
}

TEST(CompressionPolicy, MatchesGlobs) {
  EXPECT_TRUE(glob_match("layer1.*", "layer1.0.conv1"));
  EXPECT_TRUE(glob_match("layer?.0.conv1", "layer3.0.conv1"));
  EXPECT_TRUE(glob_match("*downsample*", "layer2.0.downsample.0"));
  EXPECT_FALSE(glob_match("layer1.*", "layer10.conv1x"));
  EXPECT_FALSE(glob_match("conv1", "layer1.0.conv1"));
}

TEST(CompressionPlan, UniformKernelKeepsTheStemExactAndSwapsReLUs) {
  const auto plan = plan_compression(*resnet18(), parse_compression("2"));
  EXPECT_EQ(plan.convs.size(), 20u);  // resnet18: stem + 16 block convs + 3 downsamples
  EXPECT_EQ(kernel_of(plan, "conv1"), 0);
  EXPECT_EQ(kernel_of(plan, "layer4.1.conv2"), 2);
  EXPECT_EQ(kernel_of(plan, "layer3.0.downsample.0"), 2);
  EXPECT_EQ(plan.mask_relus.size(), 9u);  // the stem's and one per block
}

TEST(CompressionPlan, LaterRulesWinAndConvOnlyKeepsStockReLUs) {
  auto policy = parse_compression("layer1.*=4,layer4.*=2,layer1.1.conv2=0,conv1=2");
  policy.mode = CompressMode::kConvOnly;
  const auto plan = plan_compression(*resnet18(), policy);
  EXPECT_EQ(kernel_of(plan, "conv1"), 2);
  EXPECT_EQ(kernel_of(plan, "layer1.0.conv1"), 4);
  EXPECT_EQ(kernel_of(plan, "layer1.1.conv2"), 0);
  EXPECT_EQ(kernel_of(plan, "layer2.0.conv1"), 0);
  EXPECT_EQ(kernel_of(plan, "layer4.0.downsample.0"), 2);
  EXPECT_TRUE(plan.mask_relus.empty());
}

TEST(CompressionPlan, RejectsARuleThatMatchesNoConv) {
  try {
    plan_compression(*resnet18(), parse_compression("layer9.*=2"));
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("layer9.*"), std::string::npos) << e.what();
  }
}

TEST(CompressionPlan, LeavesTheForwardPassUnchanged) {
  torch::manual_seed(0);
  auto model = resnet18();
  model->train();
  const torch::Tensor images = torch::randn({2, 3, 32, 32});
  // Training-mode BatchNorm moves its running statistics but not its output: run both on the same batch.
  const torch::Tensor exact = model->forward(images);
  const auto plan = plan_compression(*model, parse_compression("4"));
  apply_compression(*model, plan);
  const torch::Tensor compressed = model->forward(images);
  EXPECT_TRUE(torch::equal(exact, compressed));
  remove_compression(*model, plan);
}

}  // namespace
}  // namespace trainmem::compression
