#pragma once
// ResNet, ResNeXt and Wide ResNet as torchvision builds them (torchvision/models/resnet.py): same module
// names, parameter shapes, initialization and forward.
#include <memory>

#include "models/classifier.h"

namespace trainmem::models {

struct ResNetConfig {
  bool bottleneck = false;       // BasicBlock (resnet18/34) or Bottleneck (the rest)
  std::array<int, 4> blocks{};   // blocks per stage
  int64_t groups = 1;
  int64_t width_per_group = 64;
};

std::shared_ptr<Classifier> make_resnet(const ResNetConfig& config, int64_t num_classes);

}  // namespace trainmem::models
