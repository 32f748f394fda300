// MobileNetV2 and MobileNetV3 (large, small) as torchvision builds them (torchvision/models/mobilenetv2.py,
// mobilenetv3.py).
#include <torch/nn/modules/dropout.h>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

class InvertedResidualV2 final : public torch::nn::Module {
 public:
  InvertedResidualV2(int64_t in, int64_t out, int64_t stride, int64_t expand_ratio)
      : torch::nn::Module("InvertedResidual"), use_res_connect_(stride == 1 && in == out) {
    const int64_t hidden = in * expand_ratio;
    conv_ = register_module("conv", std::make_shared<Sequence>());
    if (expand_ratio != 1) {
      conv_->add(conv_norm_activation(ConvNormActivationOptions(in, hidden).kernel(1).activation(Act::kReLU6)));
    }
    conv_->add(conv_norm_activation(
        ConvNormActivationOptions(hidden, hidden).stride(stride).groups(hidden).activation(Act::kReLU6)));
    conv_->add(conv2d(hidden, out, 1, 1, 0, 1, /*bias=*/false));
    conv_->add(torch::nn::BatchNorm2d(out));
  }

  torch::Tensor forward(torch::Tensor x) {
    if (use_res_connect_) return x + call(conv_, x);
    return call(conv_, x);
  }

 private:
  bool use_res_connect_;
  std::shared_ptr<Sequence> conv_;
};

class MobileNetV2 final : public Classifier {
 public:
  explicit MobileNetV2(int64_t num_classes, double dropout = 0.2) {
    struct Stage {
      int64_t t, c, n, s;
    };
    const Stage stages[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                            {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    int64_t in = 32;
    const int64_t last_channel = 1280;
    features_ = register_module("features", std::make_shared<Sequence>());
    features_->add(conv_norm_activation(ConvNormActivationOptions(3, in).stride(2).activation(Act::kReLU6)));
    for (const Stage& stage : stages) {
      for (int64_t i = 0; i < stage.n; ++i) {
        features_->add(std::make_shared<InvertedResidualV2>(in, stage.c, i == 0 ? stage.s : 1, stage.t));
        in = stage.c;
      }
    }
    features_->add(conv_norm_activation(ConvNormActivationOptions(in, last_channel).kernel(1).activation(Act::kReLU6)));
    classifier_ = register_module("classifier", std::make_shared<Sequence>());
    classifier_->add(torch::nn::Dropout(dropout));
    classifier_->add(torch::nn::Linear(last_channel, num_classes));
    init_cnn(*this);
  }

  torch::Tensor forward(torch::Tensor x) override { return call(classifier_, global_average(call(features_, x))); }

 private:
  std::shared_ptr<Sequence> features_, classifier_;
};

// One row of the MobileNetV3 paper's Tables 1 and 2.
struct BlockConfig {
  int64_t in, kernel, expanded, out;
  bool use_se;
  bool hardswish;  // "HS", else "RE"
  int64_t stride;
};

const Norm kV3Norm{Norm::kBatch, 0.001, 0.01};

class InvertedResidualV3 final : public torch::nn::Module {
 public:
  explicit InvertedResidualV3(const BlockConfig& c)
      : torch::nn::Module("InvertedResidual"), use_res_connect_(c.stride == 1 && c.in == c.out) {
    const Act activation = c.hardswish ? Act::kHardswish : Act::kReLU;
    block_ = register_module("block", std::make_shared<Sequence>());
    if (c.expanded != c.in) {
      block_->add(conv_norm_activation(
          ConvNormActivationOptions(c.in, c.expanded).kernel(1).norm(kV3Norm).activation(activation)));
    }
    block_->add(conv_norm_activation(ConvNormActivationOptions(c.expanded, c.expanded)
                                         .kernel(c.kernel)
                                         .stride(c.stride)
                                         .groups(c.expanded)
                                         .norm(kV3Norm)
                                         .activation(activation)));
    if (c.use_se) {
      block_->add(std::make_shared<SqueezeExcitation>(c.expanded, make_divisible(c.expanded / 4, 8), Act::kReLU, false,
                                                      Act::kHardsigmoid));
    }
    block_->add(conv_norm_activation(
        ConvNormActivationOptions(c.expanded, c.out).kernel(1).norm(kV3Norm).activation(Act::kNone)));
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor result = call(block_, x);
    if (use_res_connect_) result += x;
    return result;
  }

 private:
  bool use_res_connect_;
  std::shared_ptr<Sequence> block_;
};

class MobileNetV3 final : public PooledClassifier {
 public:
  MobileNetV3(const std::vector<BlockConfig>& blocks, int64_t last_channel, int64_t num_classes, double dropout = 0.2)
      : PooledClassifier(1) {
    features->add(conv_norm_activation(
        ConvNormActivationOptions(3, blocks.front().in).stride(2).norm(kV3Norm).activation(Act::kHardswish)));
    for (const BlockConfig& block : blocks) features->add(std::make_shared<InvertedResidualV3>(block));
    const int64_t last_in = blocks.back().out, last_out = 6 * last_in;
    features->add(conv_norm_activation(
        ConvNormActivationOptions(last_in, last_out).kernel(1).norm(kV3Norm).activation(Act::kHardswish)));
    classifier->add(torch::nn::Linear(last_out, last_channel));
    classifier->add(std::make_shared<Activation>(Act::kHardswish, true));
    classifier->add(torch::nn::Dropout(torch::nn::DropoutOptions(dropout).inplace(true)));
    classifier->add(torch::nn::Linear(last_channel, num_classes));
    init_cnn(*this);
  }
};

std::vector<BlockConfig> v3_large() {
  return {{16, 3, 16, 16, false, false, 1},  {16, 3, 64, 24, false, false, 2},  {24, 3, 72, 24, false, false, 1},
          {24, 5, 72, 40, true, false, 2},   {40, 5, 120, 40, true, false, 1},  {40, 5, 120, 40, true, false, 1},
          {40, 3, 240, 80, false, true, 2},  {80, 3, 200, 80, false, true, 1},  {80, 3, 184, 80, false, true, 1},
          {80, 3, 184, 80, false, true, 1},  {80, 3, 480, 112, true, true, 1},  {112, 3, 672, 112, true, true, 1},
          {112, 5, 672, 160, true, true, 2}, {160, 5, 960, 160, true, true, 1}, {160, 5, 960, 160, true, true, 1}};
}

std::vector<BlockConfig> v3_small() {
  return {{16, 3, 16, 16, true, false, 2}, {16, 3, 72, 24, false, false, 2}, {24, 3, 88, 24, false, false, 1},
          {24, 5, 96, 40, true, true, 2},  {40, 5, 240, 40, true, true, 1},  {40, 5, 240, 40, true, true, 1},
          {40, 5, 120, 48, true, true, 1}, {48, 5, 144, 48, true, true, 1},  {48, 5, 288, 96, true, true, 2},
          {96, 5, 576, 96, true, true, 1}, {96, 5, 576, 96, true, true, 1}};
}

}  // namespace

std::vector<ModelSpec> mobilenet_models() {
  return {{"mobilenet_v2", "mobilenet", 1, [](int64_t classes) { return std::make_shared<MobileNetV2>(classes); }},
          {"mobilenet_v3_large", "mobilenet", 1,
           [](int64_t classes) { return std::make_shared<MobileNetV3>(v3_large(), 1280, classes); }},
          {"mobilenet_v3_small", "mobilenet", 1,
           [](int64_t classes) { return std::make_shared<MobileNetV3>(v3_small(), 1024, classes); }}};
}

}  // namespace trainmem::models
