#include "models/resnet.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include "models/module_scope.h"

namespace trainmem::models {
namespace {

using torch::nn::BatchNorm2d;
using torch::nn::Conv2d;

Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups = 1) {
  return Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).groups(groups).bias(false));
}

// Both block kinds share their shortcut and the final add + ReLU.
class ResidualBlock : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor x) = 0;

 protected:
  void maybe_add_downsample(int64_t in, int64_t out, int64_t stride) {
    if (stride == 1 && in == out) return;
    downsample_conv_ = conv(in, out, 1, stride);
    downsample_bn_ = BatchNorm2d(out);
    downsample_ = register_module("downsample", torch::nn::Sequential(downsample_conv_, downsample_bn_));
  }
  torch::Tensor shortcut(const torch::Tensor& x) {
    if (downsample_.is_empty()) return x;
    return in_module_scope(*downsample_, x, [&] { return call(downsample_bn_, call(downsample_conv_, x)); });
  }
  torch::Tensor add_shortcut_and_relu(torch::Tensor out, const torch::Tensor& x) {
    out += shortcut(x);
    return call(relu_, out);
  }

  torch::nn::ReLU relu_{torch::nn::ReLUOptions().inplace(true)};

 private:
  torch::nn::Sequential downsample_{nullptr};
  Conv2d downsample_conv_{nullptr};
  BatchNorm2d downsample_bn_{nullptr};
};

class BasicBlock final : public ResidualBlock {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlock(int64_t in, int64_t planes, int64_t stride, int64_t /*groups*/, int64_t /*width_per_group*/)
      : conv1_(register_module("conv1", conv(in, planes, 3, stride))),
        bn1_(register_module("bn1", BatchNorm2d(planes))),
        conv2_(register_module("conv2", conv(planes, planes, 3, 1))),
        bn2_(register_module("bn2", BatchNorm2d(planes))) {
    register_module("relu", relu_);
    maybe_add_downsample(in, planes * kExpansion, stride);
  }
  torch::Tensor forward(torch::Tensor x) override {
    auto out = call(relu_, call(bn1_, call(conv1_, x)));
    out = call(bn2_, call(conv2_, out));
    return add_shortcut_and_relu(out, x);
  }

 private:
  Conv2d conv1_;
  BatchNorm2d bn1_;
  Conv2d conv2_;
  BatchNorm2d bn2_;
};

class Bottleneck final : public ResidualBlock {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(int64_t in, int64_t planes, int64_t stride, int64_t groups, int64_t width_per_group)
      : width_(planes * width_per_group / 64 * groups),
        conv1_(register_module("conv1", conv(in, width_, 1, 1))),
        bn1_(register_module("bn1", BatchNorm2d(width_))),
        conv2_(register_module("conv2", conv(width_, width_, 3, stride, groups))),
        bn2_(register_module("bn2", BatchNorm2d(width_))),
        conv3_(register_module("conv3", conv(width_, planes * kExpansion, 1, 1))),
        bn3_(register_module("bn3", BatchNorm2d(planes * kExpansion))) {
    register_module("relu", relu_);
    maybe_add_downsample(in, planes * kExpansion, stride);
  }
  torch::Tensor forward(torch::Tensor x) override {
    auto out = call(relu_, call(bn1_, call(conv1_, x)));
    out = call(relu_, call(bn2_, call(conv2_, out)));
    out = call(bn3_, call(conv3_, out));
    return add_shortcut_and_relu(out, x);
  }

 private:
  int64_t width_;
  Conv2d conv1_;
  BatchNorm2d bn1_;
  Conv2d conv2_;
  BatchNorm2d bn2_;
  Conv2d conv3_;
  BatchNorm2d bn3_;
};

class ResNet final : public Classifier {
 public:
  ResNet(const ResNetConfig& config, int64_t num_classes) {
    conv1_ = register_module("conv1", Conv2d(torch::nn::Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false)));
    bn1_ = register_module("bn1", BatchNorm2d(64));
    relu_ = register_module("relu", torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
    maxpool_ = register_module("maxpool", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
    const int64_t expansion = config.bottleneck ? Bottleneck::kExpansion : BasicBlock::kExpansion;
    int64_t in = 64;
    for (int stage = 0; stage < 4; ++stage) {
      const int64_t planes = 64 << stage;
      auto layer = torch::nn::Sequential();
      for (int b = 0; b < config.blocks[stage]; ++b) {
        const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
        std::shared_ptr<ResidualBlock> block;
        if (config.bottleneck) {
          block = std::make_shared<Bottleneck>(in, planes, stride, config.groups, config.width_per_group);
        } else {
          block = std::make_shared<BasicBlock>(in, planes, stride, config.groups, config.width_per_group);
        }
        layer->push_back(std::to_string(b), block);
        stages_[stage].push_back(block);
        in = planes * expansion;
      }
      layers_[stage] = register_module("layer" + std::to_string(stage + 1), layer);
    }
    avgpool_ = register_module("avgpool", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions({1, 1})));
    fc_ = register_module("fc", torch::nn::Linear(512 * expansion, num_classes));
    initialize();
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = call(maxpool_, call(relu_, call(bn1_, call(conv1_, x))));
    for (int stage = 0; stage < 4; ++stage) {
      x = in_module_scope(*layers_[stage], x, [&] {
        torch::Tensor y = x;
        for (auto& block : stages_[stage]) y = call(block, y);
        return y;
      });
    }
    x = torch::flatten(call(avgpool_, x), 1);
    return call(fc_, x);
  }

 private:
  // torchvision: Kaiming-normal (fan_out, relu) convolutions, BatchNorm weight 1 and bias 0;
  // Linear keeps its default initialization, as in torchvision.
  void initialize() {
    torch::NoGradGuard no_grad;
    for (auto& module : modules(/*include_self=*/false)) {
      if (auto* c = module->as<torch::nn::Conv2d>()) {
        torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
      } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
        torch::nn::init::ones_(bn->weight);
        torch::nn::init::zeros_(bn->bias);
      }
    }
  }

  Conv2d conv1_{nullptr};
  BatchNorm2d bn1_{nullptr};
  torch::nn::ReLU relu_{nullptr};
  torch::nn::MaxPool2d maxpool_{nullptr};
  std::array<torch::nn::Sequential, 4> layers_{torch::nn::Sequential{nullptr}, torch::nn::Sequential{nullptr},
                                               torch::nn::Sequential{nullptr}, torch::nn::Sequential{nullptr}};
  std::array<std::vector<std::shared_ptr<ResidualBlock>>, 4> stages_;
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

}  // namespace

std::shared_ptr<Classifier> make_resnet(const ResNetConfig& config, int64_t num_classes) {
  return std::make_shared<ResNet>(config, num_classes);
}

}  // namespace trainmem::models
