// DenseNet-121/161/169/201 as torchvision builds them (torchvision/models/densenet.py), without checkpointing
// (memory_efficient=False, torchvision's default).
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

torch::nn::ReLU inplace_relu() { return torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)); }

class DenseLayer final : public torch::nn::Module {
 public:
  DenseLayer(int64_t in, int64_t growth_rate, int64_t bn_size)
      : torch::nn::Module("_DenseLayer"),
        norm1_(register_module("norm1", torch::nn::BatchNorm2d(in))),
        relu1_(register_module("relu1", inplace_relu())),
        conv1_(register_module("conv1", conv2d(in, bn_size * growth_rate, 1, 1, 0, 1, false))),
        norm2_(register_module("norm2", torch::nn::BatchNorm2d(bn_size * growth_rate))),
        relu2_(register_module("relu2", inplace_relu())),
        conv2_(register_module("conv2", conv2d(bn_size * growth_rate, growth_rate, 3, 1, 1, 1, false))) {}

  // Takes every earlier feature map of the block, as torchvision's layer does (drop_rate 0: no dropout).
  torch::Tensor forward(const std::vector<torch::Tensor>& inputs) {
    const torch::Tensor concatenated = torch::cat(inputs, 1);
    const torch::Tensor bottleneck = call(conv1_, call(relu1_, call(norm1_, concatenated)));
    return call(conv2_, call(relu2_, call(norm2_, bottleneck)));
  }

 private:
  torch::nn::BatchNorm2d norm1_;
  torch::nn::ReLU relu1_;
  torch::nn::Conv2d conv1_;
  torch::nn::BatchNorm2d norm2_;
  torch::nn::ReLU relu2_;
  torch::nn::Conv2d conv2_;
};

class DenseBlock final : public torch::nn::Module {
 public:
  DenseBlock(int64_t layers, int64_t in, int64_t bn_size, int64_t growth_rate) : torch::nn::Module("_DenseBlock") {
    for (int64_t i = 0; i < layers; ++i) {
      layers_.push_back(register_module("denselayer" + std::to_string(i + 1),
                                        std::make_shared<DenseLayer>(in + i * growth_rate, growth_rate, bn_size)));
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    std::vector<torch::Tensor> features{x};
    for (auto& layer : layers_) {
      features.push_back(in_module_scope(*layer, x, [&] { return layer->forward(features); }));
    }
    return torch::cat(features, 1);
  }

 private:
  std::vector<std::shared_ptr<DenseLayer>> layers_;
};

class DenseNet final : public Classifier {
 public:
  DenseNet(int64_t growth_rate, const std::array<int64_t, 4>& block_config, int64_t init_features, int64_t num_classes,
           int64_t bn_size = 4) {
    features_ = register_module("features", std::make_shared<Sequence>());
    features_->add("conv0", conv2d(3, init_features, 7, 2, 3, 1, false));
    features_->add("norm0", torch::nn::BatchNorm2d(init_features));
    features_->add("relu0", inplace_relu());
    features_->add("pool0", max_pool2d(3, 2, 1));
    int64_t channels = init_features;
    for (size_t i = 0; i < block_config.size(); ++i) {
      features_->add("denseblock" + std::to_string(i + 1),
                     std::make_shared<DenseBlock>(block_config[i], channels, bn_size, growth_rate));
      channels += block_config[i] * growth_rate;
      if (i + 1 == block_config.size()) break;
      auto transition = std::make_shared<Sequence>("_Transition");
      transition->add("norm", torch::nn::BatchNorm2d(channels));
      transition->add("relu", inplace_relu());
      transition->add("conv", conv2d(channels, channels / 2, 1, 1, 0, 1, false));
      transition->add("pool", torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(2).stride(2)));
      features_->add("transition" + std::to_string(i + 1), transition);
      channels /= 2;
    }
    features_->add("norm5", torch::nn::BatchNorm2d(channels));
    classifier_ = register_module("classifier", torch::nn::Linear(channels, num_classes));
    // torchvision: Kaiming-normal (fan_in) convolutions, batch norm 1 and 0, zero linear bias.
    torch::NoGradGuard no_grad;
    for_each_module<torch::nn::Conv2dImpl>(
        *this, [](torch::nn::Conv2dImpl& conv) { torch::nn::init::kaiming_normal_(conv.weight); });
    for_each_module<torch::nn::BatchNorm2dImpl>(*this, [](torch::nn::BatchNorm2dImpl& bn) {
      torch::nn::init::ones_(bn.weight);
      torch::nn::init::zeros_(bn.bias);
    });
    torch::nn::init::zeros_(classifier_->bias);
  }

  torch::Tensor forward(torch::Tensor x) override {
    torch::Tensor features = call(features_, x);
    return call(classifier_, global_average(torch::relu_(features)));
  }

 private:
  std::shared_ptr<Sequence> features_;
  torch::nn::Linear classifier_{nullptr};
};

ModelSpec densenet(std::string name, int64_t growth_rate, std::array<int64_t, 4> blocks, int64_t init_features) {
  return {std::move(name), "densenet", 29,
          [=](int64_t classes) { return std::make_shared<DenseNet>(growth_rate, blocks, init_features, classes); }};
}

}  // namespace

std::vector<ModelSpec> densenet_models() {
  return {densenet("densenet121", 32, {6, 12, 24, 16}, 64), densenet("densenet161", 48, {6, 12, 36, 24}, 96),
          densenet("densenet169", 32, {6, 12, 32, 32}, 64), densenet("densenet201", 32, {6, 12, 48, 32}, 64)};
}

}  // namespace trainmem::models
