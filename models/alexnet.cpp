// AlexNet as torchvision builds it (torchvision/models/alexnet.py).
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/dropout.h>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

class AlexNet final : public PooledClassifier {
 public:
  explicit AlexNet(int64_t num_classes, double dropout = 0.5) : PooledClassifier(6) {
    const auto relu = [] { return torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)); };
    features->add(conv2d(3, 64, 11, 4, 2));
    features->add(relu());
    features->add(max_pool2d(3, 2));
    features->add(conv2d(64, 192, 5, 1, 2));
    features->add(relu());
    features->add(max_pool2d(3, 2));
    features->add(conv2d(192, 384, 3, 1, 1));
    features->add(relu());
    features->add(conv2d(384, 256, 3, 1, 1));
    features->add(relu());
    features->add(conv2d(256, 256, 3, 1, 1));
    features->add(relu());
    features->add(max_pool2d(3, 2));
    classifier->add(torch::nn::Dropout(dropout));
    classifier->add(torch::nn::Linear(256 * 6 * 6, 4096));
    classifier->add(relu());
    classifier->add(torch::nn::Dropout(dropout));
    classifier->add(torch::nn::Linear(4096, 4096));
    classifier->add(relu());
    classifier->add(torch::nn::Linear(4096, num_classes));
  }
};

}  // namespace

std::vector<ModelSpec> alexnet_models() {
  // Three stride-2 max pools after a stride-4 stem: below 63 px the feature map vanishes.
  return {{"alexnet", "alexnet", 63, [](int64_t classes) { return std::make_shared<AlexNet>(classes); }}};
}

}  // namespace trainmem::models
