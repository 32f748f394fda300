// AlexNet as torchvision builds it (torchvision/models/alexnet.py).
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/dropout.h>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

class AlexNet final : public Classifier {
 public:
  explicit AlexNet(int64_t num_classes, double dropout = 0.5) {
    features_ = register_module("features", std::make_shared<Sequence>());
    const auto relu = [] { return torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)); };
    features_->add(conv2d(3, 64, 11, 4, 2));
    features_->add(relu());
    features_->add(max_pool2d(3, 2));
    features_->add(conv2d(64, 192, 5, 1, 2));
    features_->add(relu());
    features_->add(max_pool2d(3, 2));
    features_->add(conv2d(192, 384, 3, 1, 1));
    features_->add(relu());
    features_->add(conv2d(384, 256, 3, 1, 1));
    features_->add(relu());
    features_->add(conv2d(256, 256, 3, 1, 1));
    features_->add(relu());
    features_->add(max_pool2d(3, 2));
    avgpool_ = register_module("avgpool", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(6)));
    classifier_ = register_module("classifier", std::make_shared<Sequence>());
    classifier_->add(torch::nn::Dropout(dropout));
    classifier_->add(torch::nn::Linear(256 * 6 * 6, 4096));
    classifier_->add(relu());
    classifier_->add(torch::nn::Dropout(dropout));
    classifier_->add(torch::nn::Linear(4096, 4096));
    classifier_->add(relu());
    classifier_->add(torch::nn::Linear(4096, num_classes));
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = call(avgpool_, call(features_, x));
    return call(classifier_, torch::flatten(x, 1));
  }

 private:
  std::shared_ptr<Sequence> features_, classifier_;
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
};

}  // namespace

std::vector<ModelSpec> alexnet_models() {
  // Three stride-2 max pools after a stride-4 stem: below 63 px the feature map vanishes.
  return {{"alexnet", "alexnet", 63, [](int64_t classes) { return std::make_shared<AlexNet>(classes); }}};
}

}  // namespace trainmem::models
