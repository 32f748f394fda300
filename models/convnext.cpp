// ConvNeXt tiny/small/base/large as torchvision builds it (torchvision/models/convnext.py).
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

constexpr double kEps = 1e-6;

class CNBlock final : public torch::nn::Module {
 public:
  CNBlock(int64_t dim, double layer_scale, double stochastic_depth_prob) : torch::nn::Module("CNBlock") {
    block_ = register_module("block", std::make_shared<Sequence>());
    block_->add(conv2d(dim, dim, 7, 1, 3, dim, true));
    block_->add(std::make_shared<Permute>(std::vector<int64_t>{0, 2, 3, 1}));
    block_->add(torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(kEps)));
    block_->add(torch::nn::Linear(dim, 4 * dim));
    block_->add(torch::nn::GELU());
    block_->add(torch::nn::Linear(4 * dim, dim));
    block_->add(std::make_shared<Permute>(std::vector<int64_t>{0, 3, 1, 2}));
    layer_scale_ = register_parameter("layer_scale", torch::ones({dim, 1, 1}) * layer_scale);
    stochastic_depth_ = register_module("stochastic_depth", std::make_shared<StochasticDepth>(stochastic_depth_prob));
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor result = layer_scale_ * call(block_, x);
    result = call(stochastic_depth_, result);
    result += x;
    return result;
  }

 private:
  std::shared_ptr<Sequence> block_;
  torch::Tensor layer_scale_;
  std::shared_ptr<StochasticDepth> stochastic_depth_;
};

struct StageConfig {
  int64_t in, out, layers;  // out 0: the last stage, no downsampling after it
};

class ConvNeXt final : public Classifier {
 public:
  ConvNeXt(const std::vector<StageConfig>& stages, double stochastic_depth_prob, int64_t num_classes,
           double layer_scale = 1e-6) {
    const Norm norm{Norm::kLayer2d, kEps};
    features_ = register_module("features", std::make_shared<Sequence>());
    features_->add(conv_norm_activation(ConvNormActivationOptions(3, stages.front().in)
                                            .kernel(4)
                                            .stride(4)
                                            .padding(0)
                                            .norm(norm)
                                            .activation(Act::kNone)
                                            .bias(true)));
    int64_t total_blocks = 0;
    for (const auto& stage : stages) total_blocks += stage.layers;
    int64_t block_id = 0;
    for (const auto& config : stages) {
      auto stage = std::make_shared<Sequence>();
      for (int64_t i = 0; i < config.layers; ++i) {
        const double p =
            stochastic_depth_prob * static_cast<double>(block_id) / (static_cast<double>(total_blocks) - 1.0);
        stage->add(std::make_shared<CNBlock>(config.in, layer_scale, p));
        ++block_id;
      }
      features_->add(stage);
      if (config.out > 0) {
        auto downsample = std::make_shared<Sequence>();
        downsample->add(std::make_shared<LayerNorm2d>(config.in, kEps));
        downsample->add(conv2d(config.in, config.out, 2, 2));
        features_->add(downsample);
      }
    }
    avgpool_ = register_module("avgpool", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
    const int64_t last = stages.back().in;
    classifier_ = register_module("classifier", std::make_shared<Sequence>());
    classifier_->add(std::make_shared<LayerNorm2d>(last, kEps));
    classifier_->add(torch::nn::Flatten(torch::nn::FlattenOptions().start_dim(1)));
    classifier_->add(torch::nn::Linear(last, num_classes));
    // torchvision: convolutions and linear layers truncated-normal(0, 0.02), zero bias.
    torch::NoGradGuard no_grad;
    for_each_module<torch::nn::Conv2dImpl>(*this, [](torch::nn::Conv2dImpl& conv) {
      trunc_normal_(conv.weight, 0.02);
      torch::nn::init::zeros_(conv.bias);
    });
    for_each_module<torch::nn::LinearImpl>(*this, [](torch::nn::LinearImpl& linear) {
      trunc_normal_(linear.weight, 0.02);
      torch::nn::init::zeros_(linear.bias);
    });
  }

  torch::Tensor forward(torch::Tensor x) override { return call(classifier_, call(avgpool_, call(features_, x))); }

 private:
  std::shared_ptr<Sequence> features_, classifier_;
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
};

ModelSpec convnext(std::string name, std::array<int64_t, 4> widths, int64_t third_stage_layers, double sd_prob) {
  const std::vector<StageConfig> stages{{widths[0], widths[1], 3},
                                        {widths[1], widths[2], 3},
                                        {widths[2], widths[3], third_stage_layers},
                                        {widths[3], 0, 3}};
  // A stride-4 stem and three stride-2 downsamplings: 32 px leaves one pixel, as torchvision's min_size says.
  return {std::move(name), "convnext", 32,
          [stages, sd_prob](int64_t classes) { return std::make_shared<ConvNeXt>(stages, sd_prob, classes); }};
}

}  // namespace

std::vector<ModelSpec> convnext_models() {
  return {convnext("convnext_tiny", {96, 192, 384, 768}, 9, 0.1),
          convnext("convnext_small", {96, 192, 384, 768}, 27, 0.4),
          convnext("convnext_base", {128, 256, 512, 1024}, 27, 0.5),
          convnext("convnext_large", {192, 384, 768, 1536}, 27, 0.5)};
}

}  // namespace trainmem::models
