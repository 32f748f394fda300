// EfficientNet B0-B7 and EfficientNetV2 S/M/L as torchvision builds them (torchvision/models/efficientnet.py):
// MBConv and FusedMBConv blocks with squeeze-excitation and stochastic depth.
#include <torch/nn/init.h>
#include <torch/nn/modules/dropout.h>

#include <cmath>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

struct StageConfig {
  bool fused;  // FusedMBConv (EfficientNetV2's early stages), else MBConv
  double expand_ratio;
  int64_t kernel, stride, in, out, layers;
};

class MBConv final : public torch::nn::Module {
 public:
  // `fused`: FusedMBConv, whose expansion is the full convolution (no depthwise convolution, no squeeze-excitation).
  MBConv(const StageConfig& c, double stochastic_depth_prob, const Norm& norm)
      : torch::nn::Module(c.fused ? "FusedMBConv" : "MBConv"), use_res_connect_(c.stride == 1 && c.in == c.out) {
    const int64_t expanded = make_divisible(static_cast<double>(c.in) * c.expand_ratio, 8);
    block_ = register_module("block", std::make_shared<Sequence>());
    if (c.fused) {
      if (expanded != c.in) {
        block_->add(conv_norm_activation(ConvNormActivationOptions(c.in, expanded)
                                             .kernel(c.kernel)
                                             .stride(c.stride)
                                             .norm(norm)
                                             .activation(Act::kSiLU)));
        block_->add(conv_norm_activation(
            ConvNormActivationOptions(expanded, c.out).kernel(1).norm(norm).activation(Act::kNone)));
      } else {
        block_->add(conv_norm_activation(ConvNormActivationOptions(c.in, c.out)
                                             .kernel(c.kernel)
                                             .stride(c.stride)
                                             .norm(norm)
                                             .activation(Act::kSiLU)));
      }
    } else {
      if (expanded != c.in) {
        block_->add(conv_norm_activation(
            ConvNormActivationOptions(c.in, expanded).kernel(1).norm(norm).activation(Act::kSiLU)));
      }
      block_->add(conv_norm_activation(ConvNormActivationOptions(expanded, expanded)
                                           .kernel(c.kernel)
                                           .stride(c.stride)
                                           .groups(expanded)
                                           .norm(norm)
                                           .activation(Act::kSiLU)));
      block_->add(std::make_shared<SqueezeExcitation>(expanded, std::max<int64_t>(1, c.in / 4), Act::kSiLU, true));
      block_->add(
          conv_norm_activation(ConvNormActivationOptions(expanded, c.out).kernel(1).norm(norm).activation(Act::kNone)));
    }
    stochastic_depth_ = register_module("stochastic_depth", std::make_shared<StochasticDepth>(stochastic_depth_prob));
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor result = call(block_, x);
    if (use_res_connect_) {
      result = call(stochastic_depth_, result);
      result += x;
    }
    return result;
  }

 private:
  bool use_res_connect_;
  std::shared_ptr<Sequence> block_;
  std::shared_ptr<StochasticDepth> stochastic_depth_;
};

struct EfficientNetConfig {
  std::vector<StageConfig> stages;
  double dropout;
  int64_t last_channel;  // 0: four times the last stage's channels
  Norm norm;
};

class EfficientNet final : public PooledClassifier {
 public:
  EfficientNet(const EfficientNetConfig& config, int64_t num_classes, double stochastic_depth_prob = 0.2)
      : PooledClassifier(1) {
    features->add(conv_norm_activation(
        ConvNormActivationOptions(3, config.stages.front().in).stride(2).norm(config.norm).activation(Act::kSiLU)));
    int64_t total_blocks = 0;
    for (const auto& stage : config.stages) total_blocks += stage.layers;
    int64_t block_id = 0;
    for (const auto& stage_config : config.stages) {
      auto stage = std::make_shared<Sequence>();
      for (int64_t i = 0; i < stage_config.layers; ++i) {
        StageConfig block = stage_config;
        if (i > 0) {
          block.in = block.out;
          block.stride = 1;
        }
        const double p = stochastic_depth_prob * static_cast<double>(block_id) / static_cast<double>(total_blocks);
        stage->add(std::make_shared<MBConv>(block, p, config.norm));
        ++block_id;
      }
      features->add(stage);
    }
    const int64_t last_in = config.stages.back().out;
    const int64_t last_out = config.last_channel > 0 ? config.last_channel : 4 * last_in;
    features->add(conv_norm_activation(
        ConvNormActivationOptions(last_in, last_out).kernel(1).norm(config.norm).activation(Act::kSiLU)));
    classifier->add(torch::nn::Dropout(torch::nn::DropoutOptions(config.dropout).inplace(true)));
    classifier->add(torch::nn::Linear(last_out, num_classes));
    init_cnn(*this, /*linear_std=*/0);
    torch::NoGradGuard no_grad;
    for_each_module<torch::nn::LinearImpl>(*this, [](torch::nn::LinearImpl& linear) {
      const double range = 1.0 / std::sqrt(static_cast<double>(linear.options.out_features()));
      torch::nn::init::uniform_(linear.weight, -range, range);
      torch::nn::init::zeros_(linear.bias);
    });
  }
};

// EfficientNet B0's stages scaled in width and depth (MBConvConfig's adjust_channels and adjust_depth).
EfficientNetConfig efficientnet_v1(double width, double depth, double dropout, const Norm& norm) {
  const auto channels = [width](int64_t c) { return make_divisible(static_cast<double>(c) * width, 8); };
  const auto layers = [depth](int64_t n) { return static_cast<int64_t>(std::ceil(static_cast<double>(n) * depth)); };
  std::vector<StageConfig> stages;
  const int64_t b0[7][6] = {{1, 3, 1, 32, 16, 1},  {6, 3, 2, 16, 24, 2},   {6, 5, 2, 24, 40, 2},  {6, 3, 2, 40, 80, 3},
                            {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4}, {6, 3, 1, 192, 320, 1}};
  for (const auto& s : b0) {
    stages.push_back({false, static_cast<double>(s[0]), s[1], s[2], channels(s[3]), channels(s[4]), layers(s[5])});
  }
  return {stages, dropout, 0, norm};
}

EfficientNetConfig efficientnet_v2(const std::vector<std::array<int64_t, 6>>& fused,
                                   const std::vector<std::array<int64_t, 6>>& mbconv, double dropout) {
  std::vector<StageConfig> stages;
  for (const auto& s : fused) stages.push_back({true, static_cast<double>(s[0]), s[1], s[2], s[3], s[4], s[5]});
  for (const auto& s : mbconv) stages.push_back({false, static_cast<double>(s[0]), s[1], s[2], s[3], s[4], s[5]});
  return {stages, dropout, 1280, {Norm::kBatch, 1e-3, 0.1}};
}

// torchvision's smallest input: 1 px for the B series, 33 px for V2.
ModelSpec efficientnet(std::string name, EfficientNetConfig config) {
  const int64_t min_resolution = config.stages.front().fused ? 33 : 1;
  return {std::move(name), "efficientnet", min_resolution,
          [config](int64_t classes) { return std::make_shared<EfficientNet>(config, classes); }};
}

}  // namespace

std::vector<ModelSpec> efficientnet_models() {
  const Norm standard{};
  const Norm b5_up{Norm::kBatch, 0.001, 0.01};
  return {
      efficientnet("efficientnet_b0", efficientnet_v1(1.0, 1.0, 0.2, standard)),
      efficientnet("efficientnet_b1", efficientnet_v1(1.0, 1.1, 0.2, standard)),
      efficientnet("efficientnet_b2", efficientnet_v1(1.1, 1.2, 0.3, standard)),
      efficientnet("efficientnet_b3", efficientnet_v1(1.2, 1.4, 0.3, standard)),
      efficientnet("efficientnet_b4", efficientnet_v1(1.4, 1.8, 0.4, standard)),
      efficientnet("efficientnet_b5", efficientnet_v1(1.6, 2.2, 0.4, b5_up)),
      efficientnet("efficientnet_b6", efficientnet_v1(1.8, 2.6, 0.5, b5_up)),
      efficientnet("efficientnet_b7", efficientnet_v1(2.0, 3.1, 0.5, b5_up)),
      // expand ratio, kernel, stride, in, out, layers
      efficientnet("efficientnet_v2_s",
                   efficientnet_v2({{1, 3, 1, 24, 24, 2}, {4, 3, 2, 24, 48, 4}, {4, 3, 2, 48, 64, 4}},
                                   {{4, 3, 2, 64, 128, 6}, {6, 3, 1, 128, 160, 9}, {6, 3, 2, 160, 256, 15}}, 0.2)),
      efficientnet(
          "efficientnet_v2_m",
          efficientnet_v2(
              {{1, 3, 1, 24, 24, 3}, {4, 3, 2, 24, 48, 5}, {4, 3, 2, 48, 80, 5}},
              {{4, 3, 2, 80, 160, 7}, {6, 3, 1, 160, 176, 14}, {6, 3, 2, 176, 304, 18}, {6, 3, 1, 304, 512, 5}}, 0.3)),
      efficientnet(
          "efficientnet_v2_l",
          efficientnet_v2(
              {{1, 3, 1, 32, 32, 4}, {4, 3, 2, 32, 64, 7}, {4, 3, 2, 64, 96, 7}},
              {{4, 3, 2, 96, 192, 10}, {6, 3, 1, 192, 224, 19}, {6, 3, 2, 224, 384, 25}, {6, 3, 1, 384, 640, 7}}, 0.4)),
  };
}

}  // namespace trainmem::models
