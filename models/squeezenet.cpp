// SqueezeNet 1.0 and 1.1 as torchvision builds them (torchvision/models/squeezenet.py).
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/dropout.h>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

torch::nn::ReLU inplace_relu() { return torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)); }

class Fire final : public torch::nn::Module {
 public:
  Fire(int64_t in, int64_t squeeze, int64_t expand1x1, int64_t expand3x3)
      : torch::nn::Module("Fire"),
        squeeze_(register_module("squeeze", conv2d(in, squeeze, 1))),
        squeeze_activation_(register_module("squeeze_activation", inplace_relu())),
        expand1x1_(register_module("expand1x1", conv2d(squeeze, expand1x1, 1))),
        expand1x1_activation_(register_module("expand1x1_activation", inplace_relu())),
        expand3x3_(register_module("expand3x3", conv2d(squeeze, expand3x3, 3, 1, 1))),
        expand3x3_activation_(register_module("expand3x3_activation", inplace_relu())) {}

  torch::Tensor forward(torch::Tensor x) {
    x = call(squeeze_activation_, call(squeeze_, x));
    return torch::cat(
        {call(expand1x1_activation_, call(expand1x1_, x)), call(expand3x3_activation_, call(expand3x3_, x))}, 1);
  }

 private:
  torch::nn::Conv2d squeeze_;
  torch::nn::ReLU squeeze_activation_;
  torch::nn::Conv2d expand1x1_;
  torch::nn::ReLU expand1x1_activation_;
  torch::nn::Conv2d expand3x3_;
  torch::nn::ReLU expand3x3_activation_;
};

class SqueezeNet final : public Classifier {
 public:
  SqueezeNet(bool version1_1, int64_t num_classes, double dropout = 0.5) {
    features_ = register_module("features", std::make_shared<Sequence>());
    const auto pool = [] { return max_pool2d(3, 2, 0, /*ceil_mode=*/true); };
    const auto fire = [](int64_t in, int64_t squeeze, int64_t expand) {
      return std::make_shared<Fire>(in, squeeze, expand, expand);
    };
    if (!version1_1) {
      features_->add(conv2d(3, 96, 7, 2));
      features_->add(inplace_relu());
      features_->add(pool());
      features_->add(fire(96, 16, 64));
      features_->add(fire(128, 16, 64));
      features_->add(fire(128, 32, 128));
      features_->add(pool());
      features_->add(fire(256, 32, 128));
      features_->add(fire(256, 48, 192));
      features_->add(fire(384, 48, 192));
      features_->add(fire(384, 64, 256));
      features_->add(pool());
      features_->add(fire(512, 64, 256));
    } else {
      features_->add(conv2d(3, 64, 3, 2));
      features_->add(inplace_relu());
      features_->add(pool());
      features_->add(fire(64, 16, 64));
      features_->add(fire(128, 16, 64));
      features_->add(pool());
      features_->add(fire(128, 32, 128));
      features_->add(fire(256, 32, 128));
      features_->add(pool());
      features_->add(fire(256, 48, 192));
      features_->add(fire(384, 48, 192));
      features_->add(fire(384, 64, 256));
      features_->add(fire(512, 64, 256));
    }
    classifier_ = register_module("classifier", std::make_shared<Sequence>());
    classifier_->add(torch::nn::Dropout(dropout));
    auto final_conv = classifier_->add(conv2d(512, num_classes, 1));
    classifier_->add(inplace_relu());
    classifier_->add(torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
    // torchvision: Kaiming-uniform convolutions, except the final one, normal(0, 0.01); zero biases.
    torch::NoGradGuard no_grad;
    for_each_module<torch::nn::Conv2dImpl>(*this, [&final_conv](torch::nn::Conv2dImpl& conv) {
      if (&conv == final_conv.get()) {
        torch::nn::init::normal_(conv.weight, 0.0, 0.01);
      } else {
        torch::nn::init::kaiming_uniform_(conv.weight);
      }
      torch::nn::init::zeros_(conv.bias);
    });
  }

  torch::Tensor forward(torch::Tensor x) override { return torch::flatten(call(classifier_, call(features_, x)), 1); }

 private:
  std::shared_ptr<Sequence> features_, classifier_;
};

}  // namespace

std::vector<ModelSpec> squeezenet_models() {
  // torchvision's smallest inputs that leave the last pooling a pixel.
  return {
      {"squeezenet1_0", "squeezenet", 21, [](int64_t classes) { return std::make_shared<SqueezeNet>(false, classes); }},
      {"squeezenet1_1", "squeezenet", 17, [](int64_t classes) { return std::make_shared<SqueezeNet>(true, classes); }}};
}

}  // namespace trainmem::models
