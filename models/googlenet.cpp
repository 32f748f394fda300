// GoogLeNet (Inception v1) as torchvision builds it without weights (torchvision/models/googlenet.py): with the two
// auxiliary heads, computed in train mode, and no input transform.
#include <torch/nn/modules/dropout.h>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

using Conv = BasicConv2d;

class Inception final : public torch::nn::Module {
 public:
  Inception(int64_t in, int64_t ch1x1, int64_t ch3x3red, int64_t ch3x3, int64_t ch5x5red, int64_t ch5x5,
            int64_t pool_proj)
      : torch::nn::Module("Inception") {
    branch1_ = register_module("branch1", std::make_shared<Conv>(in, ch1x1, 1));
    branch2_ = register_module("branch2", std::make_shared<Sequence>());
    branch2_->add(std::make_shared<Conv>(in, ch3x3red, 1));
    branch2_->add(std::make_shared<Conv>(ch3x3red, ch3x3, 3, 1, 1));
    // torchvision's "5x5" branch has a 3x3 convolution (a known deviation it keeps for its weights).
    branch3_ = register_module("branch3", std::make_shared<Sequence>());
    branch3_->add(std::make_shared<Conv>(in, ch5x5red, 1));
    branch3_->add(std::make_shared<Conv>(ch5x5red, ch5x5, 3, 1, 1));
    branch4_ = register_module("branch4", std::make_shared<Sequence>());
    branch4_->add(max_pool2d(3, 1, 1, /*ceil_mode=*/true));
    branch4_->add(std::make_shared<Conv>(in, pool_proj, 1));
  }

  torch::Tensor forward(torch::Tensor x) {
    return torch::cat({call(branch1_, x), call(branch2_, x), call(branch3_, x), call(branch4_, x)}, 1);
  }

 private:
  std::shared_ptr<Conv> branch1_;
  std::shared_ptr<Sequence> branch2_, branch3_, branch4_;
};

class InceptionAux final : public torch::nn::Module {
 public:
  InceptionAux(int64_t in, int64_t num_classes, double dropout = 0.7)
      : torch::nn::Module("InceptionAux"),
        conv_(register_module("conv", std::make_shared<Conv>(in, 128, 1))),
        fc1_(register_module("fc1", torch::nn::Linear(2048, 1024))),
        fc2_(register_module("fc2", torch::nn::Linear(1024, num_classes))),
        dropout_(register_module("dropout", torch::nn::Dropout(dropout))) {}

  torch::Tensor forward(torch::Tensor x) {
    x = torch::flatten(call(conv_, torch::adaptive_avg_pool2d(x, {4, 4})), 1);
    x = call(fc1_, x);
    x = torch::relu_(x);
    return call(fc2_, call(dropout_, x));
  }

 private:
  std::shared_ptr<Conv> conv_;
  torch::nn::Linear fc1_, fc2_;
  torch::nn::Dropout dropout_;
};

class GoogLeNet final : public Classifier {
 public:
  explicit GoogLeNet(int64_t num_classes, double dropout = 0.2) {
    conv1_ = register_module("conv1", std::make_shared<Conv>(3, 64, 7, 2, 3));
    maxpool1_ = register_module("maxpool1", max_pool2d(3, 2, 0, true));
    conv2_ = register_module("conv2", std::make_shared<Conv>(64, 64, 1));
    conv3_ = register_module("conv3", std::make_shared<Conv>(64, 192, 3, 1, 1));
    maxpool2_ = register_module("maxpool2", max_pool2d(3, 2, 0, true));
    const auto inception = [this](const std::string& name, std::array<int64_t, 7> c) {
      return register_module(name, std::make_shared<Inception>(c[0], c[1], c[2], c[3], c[4], c[5], c[6]));
    };
    inception3a_ = inception("inception3a", {192, 64, 96, 128, 16, 32, 32});
    inception3b_ = inception("inception3b", {256, 128, 128, 192, 32, 96, 64});
    maxpool3_ = register_module("maxpool3", max_pool2d(3, 2, 0, true));
    inception4a_ = inception("inception4a", {480, 192, 96, 208, 16, 48, 64});
    inception4b_ = inception("inception4b", {512, 160, 112, 224, 24, 64, 64});
    inception4c_ = inception("inception4c", {512, 128, 128, 256, 24, 64, 64});
    inception4d_ = inception("inception4d", {512, 112, 144, 288, 32, 64, 64});
    inception4e_ = inception("inception4e", {528, 256, 160, 320, 32, 128, 128});
    maxpool4_ = register_module("maxpool4", max_pool2d(2, 2, 0, true));
    inception5a_ = inception("inception5a", {832, 256, 160, 320, 32, 128, 128});
    inception5b_ = inception("inception5b", {832, 384, 192, 384, 48, 128, 128});
    aux1_ = register_module("aux1", std::make_shared<InceptionAux>(512, num_classes));
    aux2_ = register_module("aux2", std::make_shared<InceptionAux>(528, num_classes));
    avgpool_ = register_module("avgpool", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
    dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
    fc_ = register_module("fc", torch::nn::Linear(1024, num_classes));
    // torchvision: convolutions and linear layers truncated-normal(0, 0.01) in [-2, 2], batch norm 1 and 0.
    torch::NoGradGuard no_grad;
    for_each_module<torch::nn::Conv2dImpl>(*this,
                                           [](torch::nn::Conv2dImpl& conv) { trunc_normal_(conv.weight, 0.01); });
    for_each_module<torch::nn::LinearImpl>(*this, [](torch::nn::LinearImpl& fc) { trunc_normal_(fc.weight, 0.01); });
    for_each_module<torch::nn::BatchNorm2dImpl>(*this, [](torch::nn::BatchNorm2dImpl& bn) {
      bn.weight.fill_(1);
      bn.bias.zero_();
    });
  }

  torch::Tensor forward(torch::Tensor x) override { return forward_with_auxiliary(x).front(); }

  std::vector<torch::Tensor> forward_with_auxiliary(torch::Tensor x) override {
    x = call(maxpool2_, call(conv3_, call(conv2_, call(maxpool1_, call(conv1_, x)))));
    x = call(maxpool3_, call(inception3b_, call(inception3a_, x)));
    x = call(inception4a_, x);
    torch::Tensor aux1, aux2;
    if (is_training()) aux1 = call(aux1_, x);
    x = call(inception4d_, call(inception4c_, call(inception4b_, x)));
    if (is_training()) aux2 = call(aux2_, x);
    x = call(maxpool4_, call(inception4e_, x));
    x = call(inception5b_, call(inception5a_, x));
    x = torch::flatten(call(avgpool_, x), 1);
    x = call(fc_, call(dropout_, x));
    if (!is_training()) return {x};
    return {x, aux2, aux1};
  }

 private:
  std::shared_ptr<Conv> conv1_, conv2_, conv3_;
  torch::nn::MaxPool2d maxpool1_{nullptr}, maxpool2_{nullptr}, maxpool3_{nullptr}, maxpool4_{nullptr};
  std::shared_ptr<Inception> inception3a_, inception3b_, inception4a_, inception4b_, inception4c_, inception4d_,
      inception4e_, inception5a_, inception5b_;
  std::shared_ptr<InceptionAux> aux1_, aux2_;
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

}  // namespace

std::vector<ModelSpec> googlenet_models() {
  return {{"googlenet", "googlenet", 15, [](int64_t classes) { return std::make_shared<GoogLeNet>(classes); }}};
}

}  // namespace trainmem::models
