// RegNetX and RegNetY (400MF ... 128GF) as torchvision builds them (torchvision/models/regnet.py): the stage
// widths and depths follow from the quantized linear parameters (w_0, w_a, w_m) computed in float32 as there.
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>

#include <cmath>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

struct RegNetParams {
  int64_t depth, w_0;
  double w_a, w_m;
  int64_t group_width;
  double se_ratio;  // 0: RegNetX (no squeeze-excitation)
};

struct StageParams {
  int64_t width, depth, group_width;
};

// BlockParams.from_init_params with a bottleneck multiplier of 1, in the same float32 tensor arithmetic.
std::vector<StageParams> stages_of(const RegNetParams& p) {
  constexpr int64_t kQuant = 8;
  const torch::Tensor widths_cont = torch::arange(p.depth) * p.w_a + p.w_0;
  const torch::Tensor block_capacity = torch::round(torch::log(widths_cont / p.w_0) / std::log(p.w_m));
  const torch::Tensor quantized =
      (torch::round(torch::divide(p.w_0 * torch::pow(p.w_m, block_capacity), kQuant)) * kQuant).to(torch::kInt);
  std::vector<int64_t> block_widths(quantized.data_ptr<int>(), quantized.data_ptr<int>() + quantized.numel());
  std::vector<StageParams> stages;
  for (size_t i = 0; i < block_widths.size(); ++i) {
    if (i == 0 || block_widths[i] != block_widths[i - 1]) {
      stages.push_back({block_widths[i], 1, p.group_width});
    } else {
      ++stages.back().depth;
    }
  }
  // _adjust_widths_groups_compatibilty: group widths no wider than the stage, stage widths a multiple of them.
  for (auto& stage : stages) {
    stage.group_width = std::min(stage.group_width, stage.width);
    stage.width = make_divisible(static_cast<double>(stage.width), stage.group_width);
  }
  return stages;
}

class ResBottleneckBlock final : public torch::nn::Module {
 public:
  ResBottleneckBlock(int64_t in, int64_t out, int64_t stride, int64_t group_width, double se_ratio)
      : torch::nn::Module("ResBottleneckBlock") {
    if (in != out || stride != 1) {
      proj_ = register_module(
          "proj",
          conv_norm_activation(ConvNormActivationOptions(in, out).kernel(1).stride(stride).activation(Act::kNone)));
    }
    const int64_t w_b = out;
    f_ = register_module("f", std::make_shared<Sequence>("BottleneckTransform"));
    f_->add("a", conv_norm_activation(ConvNormActivationOptions(in, w_b).kernel(1)));
    f_->add("b", conv_norm_activation(ConvNormActivationOptions(w_b, w_b).stride(stride).groups(w_b / group_width)));
    if (se_ratio > 0) {
      // Python's round: ties to even.
      const auto squeeze = static_cast<int64_t>(std::nearbyint(se_ratio * static_cast<double>(in)));
      f_->add("se", std::make_shared<SqueezeExcitation>(w_b, squeeze));
    }
    f_->add("c", conv_norm_activation(ConvNormActivationOptions(w_b, out).kernel(1).activation(Act::kNone)));
    activation_ = register_module("activation", torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
  }

  torch::Tensor forward(torch::Tensor x) {
    if (proj_) {
      x = call(proj_, x) + call(f_, x);
    } else {
      x = x + call(f_, x);
    }
    return call(activation_, x);
  }

 private:
  std::shared_ptr<Sequence> proj_, f_;
  torch::nn::ReLU activation_{nullptr};
};

class RegNet final : public Classifier {
 public:
  RegNet(const RegNetParams& params, int64_t num_classes) {
    const int64_t stem_width = 32;
    stem_ = register_module("stem",
                            conv_norm_activation(ConvNormActivationOptions(3, stem_width).stride(2), "SimpleStemIN"));
    trunk_output_ = register_module("trunk_output", std::make_shared<Sequence>());
    int64_t width = stem_width;
    int stage_index = 1;
    for (const StageParams& stage_params : stages_of(params)) {
      auto stage = std::make_shared<Sequence>("AnyStage");
      for (int64_t i = 0; i < stage_params.depth; ++i) {
        stage->add("block" + std::to_string(stage_index) + "-" + std::to_string(i),
                   std::make_shared<ResBottleneckBlock>(i == 0 ? width : stage_params.width, stage_params.width,
                                                        i == 0 ? 2 : 1, stage_params.group_width, params.se_ratio));
      }
      trunk_output_->add("block" + std::to_string(stage_index), stage);
      width = stage_params.width;
      ++stage_index;
    }
    avgpool_ = register_module("avgpool", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
    fc_ = register_module("fc", torch::nn::Linear(width, num_classes));
    // torchvision: convolution weights normal(0, sqrt(2 / fan_out)), their biases left as built; batch norm 1
    // and 0; linear layers normal(0, 0.01) with zero bias.
    torch::NoGradGuard no_grad;
    for_each_module<torch::nn::Conv2dImpl>(*this, [](torch::nn::Conv2dImpl& conv) {
      const auto& kernel = *conv.options.kernel_size();
      const double fan_out = static_cast<double>(kernel[0] * kernel[1] * conv.options.out_channels());
      torch::nn::init::normal_(conv.weight, 0.0, std::sqrt(2.0 / fan_out));
    });
    for_each_module<torch::nn::BatchNorm2dImpl>(*this, [](torch::nn::BatchNorm2dImpl& bn) {
      torch::nn::init::ones_(bn.weight);
      torch::nn::init::zeros_(bn.bias);
    });
    torch::nn::init::normal_(fc_->weight, 0.0, 0.01);
    torch::nn::init::zeros_(fc_->bias);
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = call(avgpool_, call(trunk_output_, call(stem_, x)));
    return call(fc_, x.flatten(1));
  }

 private:
  std::shared_ptr<Sequence> stem_, trunk_output_;
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

ModelSpec regnet(std::string name, RegNetParams params) {
  return {std::move(name), "regnet", 1,
          [params](int64_t classes) { return std::make_shared<RegNet>(params, classes); }};
}

}  // namespace

std::vector<ModelSpec> regnet_models() {
  // depth, w_0, w_a, w_m, group width, squeeze-excitation ratio
  return {
      regnet("regnet_y_400mf", {16, 48, 27.89, 2.09, 8, 0.25}),
      regnet("regnet_y_800mf", {14, 56, 38.84, 2.4, 16, 0.25}),
      regnet("regnet_y_1_6gf", {27, 48, 20.71, 2.65, 24, 0.25}),
      regnet("regnet_y_3_2gf", {21, 80, 42.63, 2.66, 24, 0.25}),
      regnet("regnet_y_8gf", {17, 192, 76.82, 2.19, 56, 0.25}),
      regnet("regnet_y_16gf", {18, 200, 106.23, 2.48, 112, 0.25}),
      regnet("regnet_y_32gf", {20, 232, 115.89, 2.53, 232, 0.25}),
      regnet("regnet_y_128gf", {27, 456, 160.83, 2.52, 264, 0.25}),
      regnet("regnet_x_400mf", {22, 24, 24.48, 2.54, 16, 0}),
      regnet("regnet_x_800mf", {16, 56, 35.73, 2.28, 16, 0}),
      regnet("regnet_x_1_6gf", {18, 80, 34.01, 2.25, 24, 0}),
      regnet("regnet_x_3_2gf", {25, 88, 26.31, 2.25, 48, 0}),
      regnet("regnet_x_8gf", {23, 80, 49.56, 2.88, 120, 0}),
      regnet("regnet_x_16gf", {22, 216, 55.59, 2.1, 128, 0}),
      regnet("regnet_x_32gf", {23, 320, 69.86, 2.0, 168, 0}),
  };
}

}  // namespace trainmem::models
