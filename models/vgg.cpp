// VGG 11/13/16/19 with and without batch norm, as torchvision builds them (torchvision/models/vgg.py).
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/dropout.h>

#include "models/families.h"
#include "models/layers.h"

namespace trainmem::models {
namespace {

constexpr int kMaxPool = 0;  // "M" in torchvision's configurations

class VGG final : public PooledClassifier {
 public:
  VGG(const std::vector<int>& config, bool batch_norm, int64_t num_classes, double dropout = 0.5)
      : PooledClassifier(7) {
    const auto relu = [] { return torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)); };
    int64_t in = 3;
    for (int v : config) {
      if (v == kMaxPool) {
        features->add(max_pool2d(2, 2));
        continue;
      }
      features->add(conv2d(in, v, 3, 1, 1));
      if (batch_norm) features->add(torch::nn::BatchNorm2d(v));
      features->add(relu());
      in = v;
    }
    classifier->add(torch::nn::Linear(512 * 7 * 7, 4096));
    classifier->add(relu());
    classifier->add(torch::nn::Dropout(dropout));
    classifier->add(torch::nn::Linear(4096, 4096));
    classifier->add(relu());
    classifier->add(torch::nn::Dropout(dropout));
    classifier->add(torch::nn::Linear(4096, num_classes));
    init_cnn(*this);
  }
};

}  // namespace

std::vector<ModelSpec> vgg_models() {
  const int M = kMaxPool;
  const std::vector<int> a{64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
  const std::vector<int> b{64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
  const std::vector<int> d{64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M};
  const std::vector<int> e{64, 64, M, 128, 128, M, 256, 256, 256, 256, M, 512, 512, 512, 512, M, 512, 512, 512, 512, M};
  std::vector<ModelSpec> specs;
  const std::pair<std::string, std::vector<int>> configs[] = {{"vgg11", a}, {"vgg13", b}, {"vgg16", d}, {"vgg19", e}};
  for (const auto& [name, config] : configs) {
    for (bool bn : {false, true}) {
      // Five 2x2 max pools: 32 px is the smallest input that keeps a pixel.
      specs.push_back({name + (bn ? "_bn" : ""), "vgg", 32,
                       [config, bn](int64_t classes) { return std::make_shared<VGG>(config, bn, classes); }});
    }
  }
  return specs;
}

}  // namespace trainmem::models
